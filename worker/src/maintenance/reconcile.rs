//! Tenants whose Graph subscriptions are due to be compared with their rows are handed out.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    let reconciling =
        crate::jobs::reconcile::schedule(ctx, ctx.settings.subscriptions.reconcile_batch).await?;
    Ok(reconciling as u64)
}
