//! A batch of attempts to one endpoint, step by step: claim the due deliveries
//! ([`super::claim`]), read the endpoint, ask flow control once for all of them
//! ([`super::flow`]), sign and send them concurrently ([`super::send`]), feed the outcomes to
//! the circuit in one call, and record them ([`super::record`]).
//!
//! No database connection, lock or transaction is held while the endpoint answers. Deliveries
//! claimed but not attempted (flow control held them, the endpoint is not active, the tenant
//! is suspended) are given back in one statement.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{
    Attempted, Deps, Hold,
    claim::{self, Claimed, Selector, Unclaim},
    enqueue,
    flow::{Admission, CircuitChange},
    record, schedule,
    send::{self, EndpointNow},
};
use crate::{
    entities::{endpoint::EndpointStatus, tenant::TenantStatus},
    error::DomainResult,
    webhooks::sender::Outcome,
};

/// The note on a delivery held while its tenant is suspended; resuming the tenant makes those
/// due again.
pub const HELD_WHILE_SUSPENDED: &str = "held while the tenant is suspended";

/// How long a claimed delivery stays out of the sweeper's reach: the longest request timeout an
/// endpoint may have (30 s) and a minute of grace. If the worker dies mid-attempt, the
/// delivery is due again after this.
const CLAIM_FOR_SECS: i64 = 30 + 60;

/// How long a batch held back by the in-flight cap waits before it asks again.
const IN_FLIGHT_WAIT_MS: u64 = 200;

/// The most deliveries one batch claims.
pub const MAX_BATCH: usize = 64;

/// What a batch did.
#[derive(Debug, Default)]
pub struct Batch {
    /// What each claimed delivery came to, in claim order, with the endpoint's answer when
    /// something was sent.
    pub results: Vec<(uuid::Uuid, Attempted, Option<Outcome>)>,
    /// The batch was full: more may be due, and another batch was asked for at once.
    pub full: bool,
    /// Flow control held some back: another batch should run after this.
    pub again_in: Option<Duration>,
}

impl Batch {
    pub fn sent(&self) -> usize {
        self.results.iter().filter(|(_, _, o)| o.is_some()).count()
    }
}

/// How a batch is run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Ask flow control (false only for a test send the tenant is waiting for; its outcome
    /// still feeds the circuit).
    pub controlled: bool,
    pub limit: usize,
}

/// Claims, sends and records one batch of `selector`'s due deliveries.
#[tracing::instrument(level = "debug", skip(deps))]
pub async fn run<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    selector: Selector,
    options: Options,
) -> DomainResult<Batch> {
    let now = deps.clock.now();
    let until = micros(now + chrono::Duration::seconds(CLAIM_FOR_SECS));
    let limit = options.limit.clamp(1, MAX_BATCH);
    let claimed = claim::claim(deps.db, selector, now, until, limit).await?;
    let Some(first) = claimed.first() else {
        return Ok(Batch::default());
    };
    let mut batch = Batch {
        full: claimed.len() == limit && matches!(selector, Selector::Endpoint { .. }),
        ..Batch::default()
    };
    if batch.full
        && let Selector::Endpoint { endpoint, lane } = selector
        && let Err(error) = enqueue::push_endpoint(deps.queues, endpoint, lane, None).await
    {
        tracing::warn!(%error, "could not ask for the next batch; the sweeper will");
    }
    let lane = match selector {
        Selector::Endpoint { lane, .. } => lane,
        Selector::Delivery(_) => first.lane(),
    };
    let skipped = |claimed: &[Claimed]| -> Vec<(uuid::Uuid, Attempted, Option<Outcome>)> {
        claimed
            .iter()
            .map(|c| (c.id, Attempted::Skipped, None))
            .collect()
    };
    let endpoint = send::endpoint_now(deps.db, first.endpoint_id).await?;
    let park = match &endpoint {
        None => Some("the endpoint is gone"),
        Some(e) if e.endpoint.status != EndpointStatus::Active => {
            Some("the endpoint is not active")
        }
        Some(e) => match e.tenant_status {
            // A suspended tenant's deliveries wait for its resumption; an offboarded one's stop.
            Some(TenantStatus::Suspended) => Some(HELD_WHILE_SUSPENDED),
            Some(TenantStatus::Offboarded) => Some("the tenant is offboarded"),
            _ => None,
        },
    };
    let (Some(endpoint), None) = (endpoint, park) else {
        let note = park.unwrap_or_default();
        claim::unclaim(deps.db, &claimed, until, now, Unclaim::Park(note)).await?;
        batch.results = skipped(&claimed);
        return Ok(batch);
    };
    let (sendable, removed): (Vec<Claimed>, Vec<Claimed>) =
        claimed.into_iter().partition(|c| c.payload.is_some());
    if !removed.is_empty() {
        let note = "the message's payload was removed by retention";
        claim::unclaim(deps.db, &removed, until, now, Unclaim::Park(note)).await?;
        batch.results.extend(skipped(&removed));
    }
    if sendable.is_empty() {
        return Ok(batch);
    }
    let timeout = Duration::from_millis(endpoint.endpoint.timeout_ms.max(1000) as u64);
    let (lease, go, mut waiting) = if options.controlled {
        // The in-flight lease outlives the requests a little, so a killed worker's lease ends.
        let lease_for = timeout + Duration::from_secs(10);
        let admission = deps
            .flow
            .admit(&endpoint.endpoint, lane, sendable.len(), now, lease_for)
            .await?;
        match admission {
            Admission::Held(hold) => {
                let again_in = hold_back(deps, &sendable, until, now, hold).await?;
                batch.again_in = again_in;
                batch.results.extend(sendable.iter().map(|c| {
                    (
                        c.id,
                        Attempted::Held {
                            hold,
                            retry_in: again_in,
                        },
                        None,
                    )
                }));
                return Ok(batch);
            }
            Admission::Admitted { lease, rest } => {
                let mut go = sendable;
                let waiting = go.split_off(lease.count.min(go.len()));
                if let Some(hold) = rest.filter(|_| !waiting.is_empty()) {
                    batch.again_in = hold_back(deps, &waiting, until, now, hold).await?;
                    batch.results.extend(waiting.iter().map(|c| {
                        (
                            c.id,
                            Attempted::Held {
                                hold,
                                retry_in: batch.again_in,
                            },
                            None,
                        )
                    }));
                    (Some(lease), go, Vec::new())
                } else {
                    // The rest of a probe's batch waits for the probe's outcome.
                    (Some(lease), go, waiting)
                }
            }
        }
    } else {
        (None, sendable, Vec::new())
    };
    let in_flight = metrics::gauge!("graphhook_deliveries_in_flight", "lane" => lane.as_str());
    in_flight.increment(go.len() as f64);
    let sent = send::send_all(
        deps.db,
        deps.signing,
        deps.secret_box,
        deps.sender,
        &endpoint,
        &go,
        deps.clock.now(),
    )
    .await;
    in_flight.decrement(go.len() as f64);
    let probe = lease.as_ref().is_some_and(|l| l.probe);
    if let Some(lease) = &lease
        && let Err(error) = deps.flow.release(lease).await
    {
        tracing::warn!(%error, "could not release the in-flight leases; they expire by themselves");
    }
    let outcomes = match sent {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Nothing was sent: the deliveries are due again as before.
            claim::unclaim(deps.db, &go, until, now, Unclaim::Restore).await?;
            claim::unclaim(deps.db, &waiting, until, now, Unclaim::Restore).await?;
            return Err(error);
        }
    };
    let succeeded = outcomes.iter().filter(|o| o.is_success()).count();
    let circuit = match deps
        .flow
        .record(
            endpoint.endpoint.id,
            probe,
            succeeded,
            outcomes.len() - succeeded,
            deps.clock.now(),
        )
        .await
    {
        Ok(change) => change,
        Err(error) => {
            tracing::warn!(%error, "could not record the outcomes for the endpoint's circuit");
            CircuitChange::Unchanged
        }
    };
    if !waiting.is_empty() {
        let how = match circuit {
            CircuitChange::Reopened { until: open_until }
            | CircuitChange::Opened {
                until: open_until, ..
            } => Unclaim::DueAt(open_until.max(now)),
            _ => Unclaim::Restore,
        };
        let closed = circuit == CircuitChange::Closed;
        claim::unclaim(deps.db, &waiting, until, now, how).await?;
        if closed
            && let Selector::Endpoint { endpoint: id, lane } = selector
            && let Err(error) = enqueue::push_endpoint(deps.queues, id, lane, None).await
        {
            tracing::warn!(%error, "could not ask for the next batch; the sweeper will");
        }
        batch
            .results
            .extend(waiting.drain(..).map(|c| (c.id, Attempted::Skipped, None)));
    }
    record_all(deps, &endpoint, go, outcomes, circuit, &mut batch).await?;
    Ok(batch)
}

/// Gives back deliveries flow control held, and says when to ask again (`None`: the open
/// circuit's wait is in Postgres, where the sweeper finds it).
async fn hold_back<C: ConnectionTrait>(
    deps: &Deps<'_, C>,
    held: &[Claimed],
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    hold: Hold,
) -> DomainResult<Option<Duration>> {
    metrics::counter!("graphhook_delivery_holds_total", "reason" => hold.as_str())
        .increment(held.len() as u64);
    let (how, again) = match hold {
        // Waits in Postgres, without spending a retry; the sweeper wakes it.
        Hold::CircuitOpen { until: open_until } => (Unclaim::DueAt(open_until.max(now)), None),
        Hold::InFlight => (
            Unclaim::Restore,
            Some(Duration::from_millis(
                IN_FLIGHT_WAIT_MS + (schedule::random_unit() * IN_FLIGHT_WAIT_MS as f64) as u64,
            )),
        ),
        Hold::RateLimited { retry_in } => (Unclaim::Restore, Some(retry_in)),
    };
    claim::unclaim(deps.db, held, until, now, how).await?;
    Ok(again)
}

/// Records the outcomes: plain first-attempt successes together, the rest one by one (the first
/// of them carries the circuit's change).
async fn record_all<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    endpoint: &EndpointNow,
    sent: Vec<Claimed>,
    outcomes: Vec<Outcome>,
    mut circuit: CircuitChange,
    batch: &mut Batch,
) -> DomainResult<()> {
    let healthy = endpoint.endpoint.failing_since.is_none();
    let unchanged = circuit == CircuitChange::Unchanged;
    let plain: Vec<bool> = sent
        .iter()
        .zip(&outcomes)
        .map(|(c, o)| o.is_success() && c.attempt_count == 0 && unchanged && healthy)
        .collect();
    let delivered: Vec<(&Claimed, &Outcome)> = sent
        .iter()
        .zip(&outcomes)
        .zip(&plain)
        .filter(|(_, plain)| **plain)
        .map(|(pair, _)| pair)
        .collect();
    let recorded = record::record_delivered(deps, &delivered).await?;
    for ((claimed, outcome), plain) in sent.iter().zip(outcomes).zip(plain) {
        let attempted = if plain {
            if recorded.contains(&claimed.id) {
                Attempted::Delivered
            } else {
                Attempted::Skipped
            }
        } else {
            // The first one records the circuit's change.
            let change = std::mem::replace(&mut circuit, CircuitChange::Unchanged);
            record::record_outcome(deps, claimed, &outcome, change).await?
        };
        tracing::debug!(delivery = %claimed.id, ?attempted, status = ?outcome.status, "attempt");
        batch.results.push((claimed.id, attempted, Some(outcome)));
    }
    Ok(())
}

/// `at` without its nanoseconds beyond the microsecond, as Postgres stores it.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
