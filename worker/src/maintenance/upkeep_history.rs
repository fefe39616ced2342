//! Removes subscription upkeep history older than the attempts' retention.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let before = ctx.clock.now()
        - chrono::Duration::days(i64::from(ctx.settings.webhooks.retention_attempt_days));
    let removed =
        graphhook_domain::graph::subscriptions::upkeep::prune_history(&ctx.db, before, 5_000)
            .await?;
    Ok(removed)
}
