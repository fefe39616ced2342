//! Deliveries due whose job is missing (Redis lost it, the enqueue failed) go back on the queue.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let swept =
        graphhook_domain::delivery::engine::sweep_due(&ctx.db, &ctx.clock, &ctx.queues, 1_000)
            .await?;
    Ok(swept as u64)
}
