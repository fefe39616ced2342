//! Periodic work, once per tick however many worker processes run.
//!
//! Every process wakes at each multiple of `worker.tick_interval_secs` (wall-clock time, the
//! same in every process) and pushes the tick's job with the idempotency key
//! `queue_depths:{tick}`. Redis keeps the first push and drops the others, so exactly one job
//! per tick reaches a worker. (apalis' own cron fires in every process without coordination.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphhook_domain::platform::jobs::QueueDepthsTick;
use tokio::sync::watch;

use graphhook_domain::Services;

pub async fn run(ctx: Services, mut stopped: watch::Receiver<bool>) {
    let period = ctx.settings.worker.tick_interval_secs.max(1);
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let next_tick = (now.as_secs() / period + 1) * period;
        let wait = Duration::from_secs(next_tick).saturating_sub(now);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    return;
                }
                continue;
            }
        }
        let tick = next_tick as i64;
        match ctx
            .queues
            .push_unique(&QueueDepthsTick { tick }, &format!("queue_depths:{tick}"))
            .await
        {
            Ok(true) => tracing::debug!(tick, "queued the queue-depths job"),
            Ok(false) => tracing::debug!(tick, "another process queued this tick"),
            Err(error) => tracing::warn!(tick, %error, "could not queue the queue-depths job"),
        }
    }
}
