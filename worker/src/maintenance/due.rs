//! Deliveries due whose job is missing (Redis lost it, the enqueue failed) go back on the queue.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    let swept =
        graphhook_domain::delivery::engine::sweep_due(&ctx.db, &ctx.clock, &ctx.queues, 1_000)
            .await?;
    Ok(swept as u64)
}
