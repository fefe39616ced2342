//! Operational events become messages for the endpoints that want them.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    let published =
        graphhook_domain::delivery::engine::publish_operational_events(&ctx.delivery_deps(), 500)
            .await?;
    Ok(published as u64)
}
