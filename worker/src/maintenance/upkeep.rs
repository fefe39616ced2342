//! Subscriptions due for renewal (or another action) are handed out to workers.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let handed_out =
        crate::jobs::upkeep::schedule(ctx, None, ctx.settings.subscriptions.upkeep_batch).await?;
    Ok(handed_out as u64)
}
