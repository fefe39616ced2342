//! Removes message payloads, attempts and delivered operational events past retention.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let removed = graphhook_domain::delivery::engine::retention::apply(
        &ctx.db,
        &ctx.clock,
        ctx.retention(),
        1_000,
        10,
    )
    .await?;
    Ok(removed.payloads + removed.attempts + removed.events)
}
