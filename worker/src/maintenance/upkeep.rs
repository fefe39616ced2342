//! Subscriptions due for renewal (or another action) are handed out to workers.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    let handed_out =
        crate::jobs::upkeep::schedule(ctx, None, ctx.settings.subscriptions.upkeep_batch).await?;
    Ok(handed_out as u64)
}
