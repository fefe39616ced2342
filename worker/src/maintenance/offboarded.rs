//! Removes the data of tenants offboarded longer than `admin.offboarded_retention_days` ago.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let offboarded =
        chrono::Duration::days(i64::from(ctx.settings.admin.offboarded_retention_days));
    let removed =
        graphhook_domain::operator::admin::purge_offboarded(&ctx.db, &ctx.clock, offboarded)
            .await?;
    Ok(removed as u64)
}
