//! The probe job: records that a worker started it, holds for `hold_ms`, records that it
//! finished. Running it twice (after a worker died mid-run) only counts a second run.

use std::time::Duration;

use graphhook_domain::{operator::probe, platform::jobs::Probe};

use super::JobError;
use graphhook_domain::Services;

#[tracing::instrument(skip_all, fields(probe = %job.id))]
pub async fn run(job: Probe, ctx: &Services, worker: &str) -> Result<(), JobError> {
    let mut conn = ctx.redis.clone();
    let prefix = ctx.queues.prefix();
    probe::mark_started(&mut conn, prefix, job.id, worker, ctx.clock.now()).await?;
    if job.hold_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.hold_ms.min(probe::MAX_HOLD_MS))).await;
    }
    probe::mark_completed(&mut conn, prefix, job.id, ctx.clock.now()).await?;
    tracing::info!(hold_ms = job.hold_ms, "probe completed");
    Ok(())
}
