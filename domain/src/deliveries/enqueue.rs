//! Asking workers for batches: one job per endpoint and lane.
//!
//! A delivery lane's job names an endpoint, not a delivery: running it claims a batch of that
//! endpoint's due deliveries in the lane. Whoever makes deliveries due (a new message, a
//! resend, a recovery, the sweeper) pushes the job under the idempotency key
//! `endpoint:{id}`, so an endpoint has at most one such job waiting per lane however many
//! deliveries arrive. A job forgets its key before it claims, so a delivery made due after the
//! claim pushes a new job: no wake-up is lost. A full batch asks for the next one at once, so
//! one endpoint's backlog is worked through one batch at a time and other endpoints' jobs run
//! in between (fairness within a lane). The key ends by itself after a minute, so a job lost
//! with its key (Redis flushed) is pushed again by the sweeper.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};

use super::{Lane, claim::lane_condition};
use crate::{
    clock::Clock,
    entities::delivery,
    error::{DomainError, DomainResult},
    jobs::{Deliver, DeliverReplay, DeliverRetry, Job, PushError, Queues},
};

/// The idempotency key of an endpoint's job in a lane's queue.
fn key(endpoint: uuid::Uuid) -> String {
    format!("endpoint:{endpoint}")
}

/// The queue of a lane.
pub fn queue(lane: Lane) -> &'static str {
    match lane {
        Lane::Live => Deliver::QUEUE,
        Lane::Retry => DeliverRetry::QUEUE,
        Lane::Replay => DeliverReplay::QUEUE,
    }
}

/// Pushes the jobs of the deliveries' endpoints, each on the lane of its delivery's next
/// attempt, once per endpoint and lane. Returns how many jobs were enqueued (one already
/// waiting is not pushed again).
pub async fn push_deliveries(
    queues: &Queues,
    deliveries: &[delivery::Model],
) -> Result<usize, PushError> {
    let targets: Vec<(uuid::Uuid, Lane)> = deliveries
        .iter()
        .map(|d| (d.endpoint_id, Lane::of(d)))
        .collect();
    push_endpoints(queues, &targets).await
}

/// Pushes one job per distinct endpoint and lane of `targets`, unless one is waiting.
pub async fn push_endpoints(
    queues: &Queues,
    targets: &[(uuid::Uuid, Lane)],
) -> Result<usize, PushError> {
    let mut by_lane: [Vec<uuid::Uuid>; 3] = Default::default();
    for (endpoint, lane) in targets {
        let list = &mut by_lane[lane_index(*lane)];
        if !list.contains(endpoint) {
            list.push(*endpoint);
        }
    }
    let mut pushed = 0;
    for (lane, endpoints) in [Lane::Live, Lane::Retry, Lane::Replay]
        .into_iter()
        .zip(by_lane)
    {
        if endpoints.is_empty() {
            continue;
        }
        pushed += match lane {
            Lane::Live => push_unique(queues, &endpoints, |endpoint| Deliver { endpoint }).await?,
            Lane::Retry => {
                push_unique(queues, &endpoints, |endpoint| DeliverRetry { endpoint }).await?
            }
            Lane::Replay => {
                push_unique(queues, &endpoints, |endpoint| DeliverReplay { endpoint }).await?
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
    endpoints: &[uuid::Uuid],
    job: impl Fn(uuid::Uuid) -> J,
) -> Result<usize, PushError> {
    let jobs: Vec<(J, String)> = endpoints.iter().map(|e| (job(*e), key(*e))).collect();
    queues.push_many_unique(&jobs).await
}

/// Pushes an endpoint's job on `lane` whatever is waiting: now (the next batch of a full one)
/// or after `delay` (flow control held the batch back).
pub async fn push_endpoint(
    queues: &Queues,
    endpoint: uuid::Uuid,
    lane: Lane,
    delay: Option<Duration>,
) -> Result<(), PushError> {
    match (lane, delay) {
        (Lane::Live, None) => queues.push(&Deliver { endpoint }).await,
        (Lane::Retry, None) => queues.push(&DeliverRetry { endpoint }).await,
        (Lane::Replay, None) => queues.push(&DeliverReplay { endpoint }).await,
        (Lane::Live, Some(d)) => queues.push_delayed(&Deliver { endpoint }, d).await,
        (Lane::Retry, Some(d)) => queues.push_delayed(&DeliverRetry { endpoint }, d).await,
        (Lane::Replay, Some(d)) => queues.push_delayed(&DeliverReplay { endpoint }, d).await,
    }
}

/// Forgets that an endpoint's job waits on `lane` (its job does this before it claims).
pub async fn forget_pushed(
    queues: &Queues,
    endpoint: uuid::Uuid,
    lane: Lane,
) -> Result<(), PushError> {
    queues.forget_key(queue(lane), &key(endpoint)).await
}

/// Pushes the job of every endpoint and lane with a due delivery (a job lost with Redis, a
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
            r#"SELECT endpoint_id,
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
        let endpoint: uuid::Uuid = row.try_get("", "endpoint_id")?;
        let lane = match row.try_get::<i32>("", "lane")? {
            2 => Lane::Replay,
            1 => Lane::Retry,
            _ => Lane::Live,
        };
        targets.push((endpoint, lane));
    }
    let enqueued = push_endpoints(queues, &targets)
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
