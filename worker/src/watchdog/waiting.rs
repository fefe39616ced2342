//! Whether work waits for a lane, and handing a stopped worker's jobs back.
//!
//! Redis is asked first: the queue's ready list plus its scheduled jobs already due, which is
//! exactly what the lane's next fetch would take. When Redis does not answer in time (the very
//! outage that may have stalled the lane), Postgres is asked instead where it knows the work:
//! due deliveries of a delivery lane, unprocessed inbound batches for ingest.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphhook_domain::{
    delivery::engine::{self, Lane},
    graph::ingest,
    platform::jobs::{Deliver, DeliverReplay, DeliverRetry, Job, ProcessInbound},
};

use graphhook_domain::Services;

/// Jobs ready now per queue (in `queues`' order), or `None` if Redis did not answer `within`.
pub(crate) async fn ready_in_redis(
    ctx: &Services,
    queues: &[&'static str],
    within: Duration,
) -> Option<Vec<u64>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut pipe = redis::pipe();
    for queue in queues {
        let config = ctx.queues.config(queue);
        pipe.llen(config.active_jobs_list())
            .zcount(config.scheduled_jobs_set(), 0, now);
    }
    let mut conn = ctx.redis.clone();
    let counts: Vec<u64> = match tokio::time::timeout(within, pipe.query_async(&mut conn)).await {
        Ok(Ok(counts)) => counts,
        Ok(Err(error)) => {
            tracing::debug!(%error, "watchdog: Redis did not answer");
            return None;
        }
        Err(_) => {
            tracing::debug!("watchdog: Redis did not answer in time");
            return None;
        }
    };
    Some(counts.chunks(2).map(|pair| pair.iter().sum()).collect())
}

/// Whether Postgres shows work waiting for the lane of `queue`; `None` where it cannot tell.
pub(crate) async fn waiting_in_postgres(
    ctx: &Services,
    queue: &str,
    within: Duration,
) -> Option<bool> {
    enum Source {
        Deliveries(Lane),
        Inbound,
    }
    let source = match queue {
        Deliver::QUEUE => Source::Deliveries(Lane::Live),
        DeliverRetry::QUEUE => Source::Deliveries(Lane::Retry),
        DeliverReplay::QUEUE => Source::Deliveries(Lane::Replay),
        ProcessInbound::QUEUE => Source::Inbound,
        _ => return None,
    };
    let query = async {
        match source {
            Source::Deliveries(lane) => engine::due_in_lane(&ctx.db, &ctx.clock, lane).await,
            Source::Inbound => ingest::unprocessed_exists(&ctx.db).await,
        }
    };
    match tokio::time::timeout(within, query).await {
        Ok(Ok(waiting)) => Some(waiting),
        Ok(Err(error)) => {
            tracing::debug!(%error, queue, "watchdog: Postgres did not answer");
            None
        }
        Err(_) => None,
    }
}

/// Puts the jobs a stopped worker held back on its queue's ready list and forgets the worker
/// (as apalis does for a worker whose heartbeat expired, without waiting for that). Returns how
/// many jobs went back.
pub(crate) async fn release(
    ctx: &Services,
    queue: &str,
    worker: &str,
    within: Duration,
) -> anyhow::Result<u64> {
    const RELEASE: &str = r"
local jobs = redis.call('smembers', KEYS[1])
if #jobs > 0 then
  redis.call('rpush', KEYS[2], unpack(jobs))
  redis.call('del', KEYS[1])
  for _, id in ipairs(jobs) do
    local meta = KEYS[5] .. ':' .. id
    redis.call('hset', meta, 'status', 'Pending')
    redis.call('hdel', meta, 'locked_at', 'locked_by')
  end
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
end
redis.call('zrem', KEYS[4], ARGV[1])
return #jobs
";
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(RELEASE));
    let config = ctx.queues.config(queue);
    let mut conn = ctx.redis.clone();
    let mut invocation = SCRIPT.prepare_invoke();
    invocation
        .key(format!("{}:{worker}", config.inflight_jobs_set()))
        .key(config.active_jobs_list())
        .key(config.signal_list())
        .key(config.workers_set())
        .key(config.job_meta_hash())
        .arg(worker);
    let released = tokio::time::timeout(within, invocation.invoke_async::<u64>(&mut conn))
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer in time"))??;
    Ok(released)
}
