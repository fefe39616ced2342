//! Tenants whose Graph subscriptions are due to be compared with their rows are handed out.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let reconciling =
        crate::jobs::reconcile::schedule(ctx, ctx.settings.subscriptions.reconcile_batch).await?;
    Ok(reconciling as u64)
}
