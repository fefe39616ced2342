//! Runs queued jobs in this process, deterministically, until no queue under the prefix holds
//! anything: the test harness uses it instead of racing a worker pool.
//!
//! It claims each job the way a worker would (removing its id from the queue's `active` list or
//! `scheduled` set, including jobs scheduled for later), runs the job's `run` function, and
//! removes the job's data on success. A failing job stops the drain with its error.

use anyhow::{Context, bail};
use graphhook_domain::{
    delivery::engine::Lane,
    platform::jobs::{
        ALL_QUEUES, Deliver, DeliverReplay, DeliverRetry, Job, Probe, ProcessInbound,
        QueueDepthsTick, Reconcile, Upkeep, VerifyConsent,
    },
};
use redis::AsyncCommands;

use graphhook_domain::Services;

use crate::jobs;

/// Runs everything queued; returns how many jobs ran.
pub async fn drain(ctx: &Services) -> anyhow::Result<usize> {
    let mut ran = 0;
    loop {
        let mut ran_this_pass = 0;
        for queue in ALL_QUEUES {
            while let Some((id, data)) = claim_next(ctx, queue).await? {
                dispatch(ctx, queue, &data)
                    .await
                    .with_context(|| format!("job {id} on {queue}"))?;
                forget(ctx, queue, &id).await?;
                ran_this_pass += 1;
            }
        }
        if ran_this_pass == 0 {
            return Ok(ran);
        }
        ran += ran_this_pass;
    }
}

async fn claim_next(ctx: &Services, queue: &str) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let config = ctx.queues.config(queue);
    let mut conn = ctx.redis.clone();
    loop {
        let active: Option<String> = conn.lpop(config.active_jobs_list(), None).await?;
        let id = match active {
            Some(id) => id,
            None => {
                let scheduled: Vec<(String, f64)> =
                    conn.zpopmin(config.scheduled_jobs_set(), 1).await?;
                match scheduled.into_iter().next() {
                    Some((id, _)) => id,
                    None => return Ok(None),
                }
            }
        };
        let data: Option<Vec<u8>> = conn.hget(config.job_data_hash(), &id).await?;
        match data {
            Some(data) => return Ok(Some((id, data))),
            // An id without data was already finished elsewhere; skip it.
            None => continue,
        }
    }
}

async fn forget(ctx: &Services, queue: &str, id: &str) -> anyhow::Result<()> {
    let config = ctx.queues.config(queue);
    let mut conn = ctx.redis.clone();
    let _: () = redis::pipe()
        .hdel(config.job_data_hash(), id)
        .del(format!("{}:{id}", config.job_meta_hash()))
        .query_async(&mut conn)
        .await?;
    Ok(())
}

async fn dispatch(ctx: &Services, queue: &str, data: &[u8]) -> anyhow::Result<()> {
    match queue {
        Probe::QUEUE => jobs::probe::run(serde_json::from_slice(data)?, ctx, "drain").await?,
        QueueDepthsTick::QUEUE => {
            jobs::queue_depths::run(serde_json::from_slice(data)?, ctx).await?;
        }
        Deliver::QUEUE => {
            let job: Deliver = serde_json::from_slice(data)?;
            jobs::deliver::run(job.tenant, Lane::Live, ctx).await?;
        }
        DeliverRetry::QUEUE => {
            let job: DeliverRetry = serde_json::from_slice(data)?;
            jobs::deliver::run(job.tenant, Lane::Retry, ctx).await?;
        }
        DeliverReplay::QUEUE => {
            let job: DeliverReplay = serde_json::from_slice(data)?;
            jobs::deliver::run(job.tenant, Lane::Replay, ctx).await?;
        }
        ProcessInbound::QUEUE => {
            jobs::ingest::run(serde_json::from_slice(data)?, ctx).await?;
        }
        Upkeep::QUEUE => {
            jobs::upkeep::run(serde_json::from_slice(data)?, ctx).await?;
        }
        Reconcile::QUEUE => {
            jobs::reconcile::run(serde_json::from_slice(data)?, ctx).await?;
        }
        VerifyConsent::QUEUE => {
            jobs::verify_consent::run(serde_json::from_slice(data)?, ctx).await?;
        }
        other => bail!("no job function for queue {other}"),
    }
    Ok(())
}
