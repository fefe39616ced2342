//! The periodic maintenance job: counts what waits, runs and died in every queue, publishes
//! the counts as gauges, runs the chores that are due (see [`crate::maintenance`]: sweepers,
//! retention, upkeep hand-outs, gauges) and stores a snapshot in Redis
//! (`{prefix}:stats:queue_depths`) that any process can read. Each run is also counted per tick
//! (`{prefix}:stats:queue_depths:runs`), which is how "once per tick, however many worker
//! processes" is checked.

use std::collections::BTreeMap;

use graphhook_domain::platform::jobs::{ALL_QUEUES, QueueDepthsTick};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::JobError;
use graphhook_domain::Services;

const KEEP_SECS: i64 = 24 * 3600;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Depth {
    /// Ready to run now.
    pub pending: u64,
    /// Waiting for their time (delayed or retrying).
    pub scheduled: u64,
    /// Fetched by a live worker.
    pub running: u64,
    /// Given up on.
    pub dead: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub tick: i64,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub queues: BTreeMap<String, Depth>,
    /// Finished jobs this tick removed from Redis.
    #[serde(default)]
    pub trimmed: u64,
}

pub fn snapshot_key(prefix: &str) -> String {
    graphhook_domain::operator::ops::queue_depths_key(prefix)
}

pub fn runs_key(prefix: &str) -> String {
    format!("{prefix}:stats:queue_depths:runs")
}

#[tracing::instrument(skip_all, fields(tick = job.tick))]
pub async fn run(job: QueueDepthsTick, ctx: &Services) -> Result<Snapshot, JobError> {
    let mut conn = ctx.redis.clone();
    let mut queues = BTreeMap::new();
    for queue in ALL_QUEUES {
        // Due jobs a worker's fetch would otherwise move all at once (see `promote_due`).
        ctx.queues
            .promote_due(queue)
            .await
            .map_err(|e| JobError::Retry(e.into()))?;
        let depth = measure(&mut conn, ctx, queue).await?;
        for (state, value) in [
            ("pending", depth.pending),
            ("scheduled", depth.scheduled),
            ("running", depth.running),
            ("dead", depth.dead),
        ] {
            metrics::gauge!("graphhook_queue_depth", "queue" => *queue, "state" => state)
                .set(value as f64);
        }
        queues.insert((*queue).to_owned(), depth);
    }
    let done = crate::maintenance::run(ctx, job.tick).await?;
    let trimmed = done
        .iter()
        .find(|(name, _)| *name == "finished")
        .map_or(0, |(_, count)| *count);
    let snapshot = Snapshot {
        trimmed,
        tick: job.tick,
        recorded_at: ctx.clock.now(),
        queues,
    };
    let prefix = ctx.queues.prefix();
    let json = serde_json::to_string(&snapshot).map_err(|e| JobError::Permanent(e.into()))?;
    let _: () = redis::pipe()
        .atomic()
        .set_ex(snapshot_key(prefix), json, KEEP_SECS as u64)
        .hincr(runs_key(prefix), job.tick, 1)
        .expire(runs_key(prefix), KEEP_SECS)
        .query_async(&mut conn)
        .await?;
    Ok(snapshot)
}

impl super::Handle for QueueDepthsTick {
    async fn handle(self, ctx: &Services) -> Result<(), JobError> {
        run(self, ctx).await.map(drop)
    }
}

async fn measure(
    conn: &mut graphhook_domain::platform::redis_conn::ConnectionManager,
    ctx: &Services,
    queue: &str,
) -> Result<Depth, JobError> {
    let config = ctx.queues.config(queue);
    let pending: u64 = conn.llen(config.active_jobs_list()).await?;
    let scheduled: u64 = conn.zcard(config.scheduled_jobs_set()).await?;
    let dead: u64 = conn.scard(config.dead_jobs_set()).await?;
    let workers: Vec<String> = conn.zrange(config.workers_set(), 0, -1).await?;
    let mut running = 0;
    for worker in workers {
        let key = format!("{}:{worker}", config.inflight_jobs_set());
        running += conn.scard::<_, u64>(key).await?;
    }
    Ok(Depth {
        pending,
        scheduled,
        running,
        dead,
    })
}

/// The last snapshot, if one was recorded in the past day.
pub async fn latest(ctx: &Services) -> Result<Option<Snapshot>, JobError> {
    let mut conn = ctx.redis.clone();
    let json: Option<String> = conn.get(snapshot_key(ctx.queues.prefix())).await?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}
