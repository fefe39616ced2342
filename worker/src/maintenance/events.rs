//! Operational events become messages for the endpoints that want them.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let published =
        graphhook_domain::delivery::engine::publish_operational_events(ctx, 500).await?;
    Ok(published as u64)
}
