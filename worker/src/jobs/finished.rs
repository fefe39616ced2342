//! Trimming finished jobs. apalis-redis keeps every finished job's payload and metadata in
//! Redis forever; left alone, a deployment's Redis grows without bound. The maintenance tick
//! removes jobs that finished more than a day ago (given-up jobs after a week, so operators can
//! still look at them), in batches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphhook_domain::platform::jobs::ALL_QUEUES;
use redis::AsyncCommands;

use super::JobError;
use graphhook_domain::Services;

/// How long a completed job stays in Redis.
pub const KEEP_DONE: Duration = Duration::from_secs(24 * 3600);
/// How long a job that was given up on stays in Redis.
pub const KEEP_DEAD: Duration = Duration::from_secs(7 * 24 * 3600);

const BATCH: usize = 500;

/// Removes finished jobs older than the given ages from every queue; returns how many.
pub async fn trim(
    ctx: &Services,
    keep_done: Duration,
    keep_dead: Duration,
) -> Result<u64, JobError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut removed = 0;
    for queue in ALL_QUEUES {
        let config = ctx.queues.config(queue);
        for (set, keep) in [
            (config.done_jobs_set(), keep_done),
            (config.dead_jobs_set(), keep_dead),
        ] {
            let cutoff = now.saturating_sub(keep.as_secs());
            removed += trim_set(ctx, &config, &set, cutoff).await?;
        }
    }
    if removed > 0 {
        metrics::counter!("graphhook_finished_jobs_trimmed_total").increment(removed);
    }
    Ok(removed)
}

async fn trim_set(
    ctx: &Services,
    config: &apalis_redis::Config,
    set: &str,
    cutoff: u64,
) -> Result<u64, JobError> {
    let mut conn = ctx.redis.clone();
    let mut removed = 0;
    let mut cursor: u64 = 0;
    loop {
        let (next, ids): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg(set)
            .arg(cursor)
            .arg("COUNT")
            .arg(BATCH)
            .query_async(&mut conn)
            .await?;
        if !ids.is_empty() {
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hget(format!("{}:{id}", config.job_meta_hash()), "done_at");
            }
            let done_at: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
            let old: Vec<&String> = ids
                .iter()
                .zip(done_at)
                .filter(|(_, at)| at.is_none_or(|at| at <= cutoff))
                .map(|(id, _)| id)
                .collect();
            if !old.is_empty() {
                let mut pipe = redis::pipe();
                pipe.hdel(config.job_data_hash(), &old).srem(set, &old);
                for id in &old {
                    pipe.del(format!("{}:{id}", config.job_meta_hash()));
                }
                let _: () = pipe.query_async(&mut conn).await?;
                removed += old.len() as u64;
            }
        }
        if next == 0 {
            return Ok(removed);
        }
        cursor = next;
    }
}

/// How many finished jobs a queue holds (for tests and operators).
pub async fn count(ctx: &Services, queue: &str) -> Result<(u64, u64), JobError> {
    let config = ctx.queues.config(queue);
    let mut conn = ctx.redis.clone();
    let done: u64 = conn.scard(config.done_jobs_set()).await?;
    let dead: u64 = conn.scard(config.dead_jobs_set()).await?;
    Ok((done, dead))
}
