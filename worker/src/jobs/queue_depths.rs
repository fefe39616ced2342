//! The periodic maintenance job: counts what waits, runs and died in every queue, publishes
//! the counts as gauges and stores a snapshot in Redis (`{prefix}:stats:queue_depths`) that any
//! process can read, then trims finished jobs (see [`super::finished`]) and applies retention
//! (once a minute), publishes operational events and enqueues deliveries that are due (the
//! sweeper), hands out subscription upkeep and reconciliation, and publishes how many
//! endpoints' circuits are open. Each run is also counted per tick (`{prefix}:stats:queue_depths:runs`),
//! which is how "once per tick, however many worker processes" is checked.

use std::collections::BTreeMap;

use graphhook_domain::jobs::{ALL_QUEUES, QueueDepthsTick};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::JobError;
use crate::context::JobContext;

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
    graphhook_domain::ops::queue_depths_key(prefix)
}

pub fn runs_key(prefix: &str) -> String {
    format!("{prefix}:stats:queue_depths:runs")
}

#[tracing::instrument(skip_all, fields(tick = job.tick))]
pub async fn run(job: QueueDepthsTick, ctx: &JobContext) -> Result<Snapshot, JobError> {
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
    metrics::gauge!("graphhook_circuits_open").set(ctx.flow.open_circuits().await? as f64);
    // Trimming finished jobs once a minute is plenty.
    let interval = ctx.settings.worker.tick_interval_secs.max(1) as i64;
    let once_a_minute = (job.tick / interval) % (60 / interval).max(1) == 0;
    let trimmed = if once_a_minute {
        super::finished::trim(ctx, super::finished::KEEP_DONE, super::finished::KEEP_DEAD).await?
    } else {
        0
    };
    if once_a_minute {
        let removed = graphhook_domain::deliveries::retention::apply(
            &ctx.db,
            &ctx.clock,
            ctx.retention(),
            1_000,
            10,
        )
        .await?;
        if removed != Default::default() {
            tracing::info!(?removed, "removed what is past retention");
        }
    }
    if once_a_minute {
        let dedup =
            chrono::Duration::hours(i64::try_from(ctx.settings.ingest.dedup_hours).unwrap_or(24));
        graphhook_domain::ingest::process::prune(&ctx.db, &ctx.clock, dedup, 5_000).await?;
    }
    // Inbound batches whose processing job was lost go back on the queue.
    let after = chrono::Duration::seconds(
        i64::try_from(ctx.settings.ingest.sweep_after_secs).unwrap_or(30),
    );
    let requeued =
        graphhook_domain::ingest::sweep_unprocessed(&ctx.db, &ctx.clock, &ctx.queues, after, 500)
            .await?;
    if requeued > 0 {
        tracing::info!(requeued, "queued unprocessed inbound batches again");
    }
    // Subscriptions due for renewal (or another action) are handed out to workers.
    let handed_out =
        super::upkeep::schedule(ctx, None, ctx.settings.subscriptions.upkeep_batch).await?;
    if handed_out > 0 {
        tracing::info!(handed_out, "queued subscription upkeep");
    }
    // Tenants whose Graph subscriptions are due to be compared with their rows.
    let reconciling =
        super::reconcile::schedule(ctx, ctx.settings.subscriptions.reconcile_batch).await?;
    if reconciling > 0 {
        tracing::debug!(reconciling, "queued subscription reconciliation");
    }
    if let Some(nearest) = graphhook_domain::subscriptions::upkeep::nearest_expiry(&ctx.db).await? {
        let secs = (nearest - ctx.clock.now()).num_seconds() as f64;
        metrics::gauge!("graphhook_subscription_nearest_expiry_seconds").set(secs);
    }
    if once_a_minute {
        let before = ctx.clock.now()
            - chrono::Duration::days(i64::from(ctx.settings.webhooks.retention_attempt_days));
        graphhook_domain::subscriptions::upkeep::prune_history(&ctx.db, before, 5_000).await?;
        let offboarded =
            chrono::Duration::days(i64::from(ctx.settings.admin.offboarded_retention_days));
        graphhook_domain::operators::prune_revoked(&ctx.db, ctx.clock.now()).await?;
        let removed =
            graphhook_domain::admin::purge_offboarded(&ctx.db, &ctx.clock, offboarded).await?;
        if removed > 0 {
            tracing::info!(removed, "removed the data of offboarded tenants");
        }
    }
    // Operational events become messages for the endpoints that want them.
    let published =
        graphhook_domain::deliveries::publish_operational_events(&ctx.delivery_deps(), 500).await?;
    if published > 0 {
        tracing::info!(published, "published operational events");
    }
    // Deliveries due whose job is missing (Redis lost it, the enqueue failed) go back on the queue.
    let swept =
        graphhook_domain::deliveries::sweep_due(&ctx.db, &ctx.clock, &ctx.queues, 1_000).await?;
    if swept > 0 {
        tracing::info!(swept, "enqueued due deliveries");
    }
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

async fn measure(
    conn: &mut graphhook_domain::redis_conn::ConnectionManager,
    ctx: &JobContext,
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
pub async fn latest(ctx: &JobContext) -> Result<Option<Snapshot>, JobError> {
    let mut conn = ctx.redis.clone();
    let json: Option<String> = conn.get(snapshot_key(ctx.queues.prefix())).await?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}
