//! Asking workers for batches: one job per tenant and lane.
//!
//! A delivery lane's job names a tenant, not a delivery: running it claims a batch of that
//! tenant's due deliveries in the lane (a message's fan-out to several endpoints is one batch).
//! Whoever makes deliveries due (a new message, a resend, a recovery, the sweeper) pushes the
//! job under the idempotency key `tenant:{id}`, so a tenant has at most one such job waiting per
//! lane however many deliveries arrive. A job forgets its key before it claims, so a delivery
//! made due after the claim pushes a new job: no wake-up is lost. A full batch asks for the next
//! one at once, so one tenant's backlog is worked through one batch at a time and other
//! tenants' jobs run in between (fairness within a lane). The key ends by itself after a
//! minute, so a job lost with its key (Redis flushed) is pushed again by the sweeper.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};

use super::{Lane, claim::lane_condition};
use crate::{
    platform::clock::Clock,
    platform::entities::delivery,
    platform::error::{DomainError, DomainResult},
    platform::jobs::{Deliver, DeliverReplay, DeliverRetry, Job, PushError, Queues},
};

/// The idempotency key of a tenant's job in a lane's queue.
fn key(tenant: uuid::Uuid) -> String {
    format!("tenant:{tenant}")
}

/// The queue of a lane.
pub fn queue(lane: Lane) -> &'static str {
    match lane {
        Lane::Live => Deliver::QUEUE,
        Lane::Retry => DeliverRetry::QUEUE,
        Lane::Replay => DeliverReplay::QUEUE,
    }
}

/// Pushes the jobs of the deliveries' tenants, each on the lane of its delivery's next attempt,
/// once per tenant and lane. Returns how many jobs were enqueued (one already waiting is not
/// pushed again).
pub async fn push_deliveries(
    queues: &Queues,
    deliveries: &[delivery::Model],
) -> Result<usize, PushError> {
    let targets: Vec<(uuid::Uuid, Lane)> = deliveries
        .iter()
        .map(|d| (d.tenant_id, Lane::of(d)))
        .collect();
    push_tenants(queues, &targets).await
}

/// Pushes one job per distinct tenant and lane of `targets`, unless one is waiting.
pub async fn push_tenants(
    queues: &Queues,
    targets: &[(uuid::Uuid, Lane)],
) -> Result<usize, PushError> {
    let mut by_lane: [Vec<uuid::Uuid>; 3] = Default::default();
    for (tenant, lane) in targets {
        let list = &mut by_lane[lane_index(*lane)];
        if !list.contains(tenant) {
            list.push(*tenant);
        }
    }
    let mut pushed = 0;
    for (lane, tenants) in [Lane::Live, Lane::Retry, Lane::Replay]
        .into_iter()
        .zip(by_lane)
    {
        if tenants.is_empty() {
            continue;
        }
        pushed += match lane {
            Lane::Live => push_unique(queues, &tenants, |tenant| Deliver { tenant }).await?,
            Lane::Retry => push_unique(queues, &tenants, |tenant| DeliverRetry { tenant }).await?,
            Lane::Replay => {
                push_unique(queues, &tenants, |tenant| DeliverReplay { tenant }).await?
            }
        };
    }
    Ok(pushed)
}

fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Live => 0,
        Lane::Retry => 1,
        Lane::Replay => 2,
    }
}

async fn push_unique<J: Job>(
    queues: &Queues,
    tenants: &[uuid::Uuid],
    job: impl Fn(uuid::Uuid) -> J,
) -> Result<usize, PushError> {
    let jobs: Vec<(J, String)> = tenants.iter().map(|t| (job(*t), key(*t))).collect();
    queues.push_many_unique(&jobs).await
}

/// Pushes a tenant's job on `lane` whatever is waiting: now (the next batch of a full one) or
/// after `delay` (flow control held some of the batch back).
pub async fn push_tenant(
    queues: &Queues,
    tenant: uuid::Uuid,
    lane: Lane,
    delay: Option<Duration>,
) -> Result<(), PushError> {
    match (lane, delay) {
        (Lane::Live, None) => queues.push(&Deliver { tenant }).await,
        (Lane::Retry, None) => queues.push(&DeliverRetry { tenant }).await,
        (Lane::Replay, None) => queues.push(&DeliverReplay { tenant }).await,
        (Lane::Live, Some(d)) => queues.push_delayed(&Deliver { tenant }, d).await,
        (Lane::Retry, Some(d)) => queues.push_delayed(&DeliverRetry { tenant }, d).await,
        (Lane::Replay, Some(d)) => queues.push_delayed(&DeliverReplay { tenant }, d).await,
    }
}

/// Forgets that a tenant's job waits on `lane` (its job does this before it claims).
pub async fn forget_pushed(
    queues: &Queues,
    tenant: uuid::Uuid,
    lane: Lane,
) -> Result<(), PushError> {
    queues.forget_key(queue(lane), &key(tenant)).await
}

/// Pushes the job of every tenant and lane with a due delivery (a job lost with Redis, a
/// failed push, a retry come due, a claim that ran out), at most `limit` of them. Returns how
/// many jobs it enqueued.
pub async fn sweep_due<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    queues: &Queues,
    limit: u64,
) -> DomainResult<usize> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r#"SELECT tenant_id,
                      CASE WHEN next_trigger <> 'scheduled' THEN 2
                           WHEN attempt_count > 0 THEN 1 ELSE 0 END AS lane
                 FROM deliveries
                WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
                GROUP BY 1, 2
                LIMIT $2"#,
            [
                clock.now().into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    let mut targets = Vec::with_capacity(rows.len());
    for row in rows {
        let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
        let lane = match row.try_get::<i32>("", "lane")? {
            2 => Lane::Replay,
            1 => Lane::Retry,
            _ => Lane::Live,
        };
        targets.push((tenant, lane));
    }
    let enqueued = push_tenants(queues, &targets)
        .await
        .map_err(|error| DomainError::internal("enqueueing due deliveries", error))?;
    if enqueued > 0 {
        metrics::counter!("graphhook_sweeper_enqueued_total").increment(enqueued as u64);
    }
    Ok(enqueued)
}

/// Whether a delivery whose next attempt belongs to `lane` is due: work that lane's jobs are
/// waiting to do (the worker's watchdog asks when it cannot see the lane's queue in Redis).
pub async fn due_in_lane<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    lane: Lane,
) -> DomainResult<bool> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "SELECT 1 AS due FROM deliveries WHERE status IN ('pending', 'failed') \
                 AND next_attempt_at <= $1 AND {} LIMIT 1",
                lane_condition(lane)
            ),
            [clock.now().into()],
        ))
        .await?;
    Ok(row.is_some())
}
