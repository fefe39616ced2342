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

use super::{
    Attempted, Hold, Lane,
    claim::{self, Claimed, Selector, Unclaim},
    enqueue,
    flow::{self, Admission, CircuitChange},
    record, schedule, send,
};
use crate::services::Services;
use crate::{delivery::webhooks::sender::Outcome, platform::error::DomainResult};

/// The note on a delivery held while its tenant is suspended; resuming the tenant makes those
/// due again.
pub const HELD_WHILE_SUSPENDED: &str = "held while the tenant is suspended";

/// How long a claimed delivery stays out of the sweeper's reach: the longest request timeout an
/// endpoint may have (30 s) and a minute of grace. If the worker dies mid-attempt, the
/// delivery is due again after this.
const CLAIM_FOR_SECS: i64 = 30 + 60;

/// How long a batch held back by the in-flight cap waits before it asks again.
const IN_FLIGHT_WAIT_MS: u64 = 200;

/// How long deliveries wait while their endpoint's new URL is verified.
const VERIFICATION_WAIT_SECS: i64 = 2;

/// The most deliveries one batch claims.
pub const MAX_BATCH: usize = 64;

mod gate;

/// What a batch did.
#[derive(Debug, Default)]
pub struct Batch {
    /// What each claimed delivery came to, in claim order, with the endpoint's answer when
    /// something was sent.
    pub results: Vec<(uuid::Uuid, Attempted, Option<Outcome>)>,
    /// The batch was full: more may be due.
    pub full: bool,
    /// Flow control held some back: they are due again after this.
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

/// Claims, sends and records one batch of `selector`'s due deliveries: each endpoint's share
/// of the batch is admitted, sent and recorded on its own, all at once.
#[tracing::instrument(level = "debug", skip(services))]
pub async fn run(services: &Services, selector: Selector, options: Options) -> DomainResult<Batch> {
    let now = services.clock.now();
    let until = micros(now + chrono::Duration::seconds(CLAIM_FOR_SECS));
    let limit = options.limit.clamp(1, MAX_BATCH);
    let claimed = claim::claim(&services.db, selector, now, until, limit).await?;
    let Some(first) = claimed.first() else {
        return Ok(Batch::default());
    };
    let (lane, again) = match selector {
        Selector::Tenant { tenant, lane } => (lane, Some((tenant, lane))),
        Selector::Delivery(_) | Selector::Reserved(_) => (first.lane(), None),
    };
    let mut batch = Batch {
        full: claimed.len() == limit && again.is_some(),
        ..Batch::default()
    };
    // Each endpoint's deliveries, in claim order.
    let mut groups: Vec<Vec<Claimed>> = Vec::new();
    for delivery in claimed {
        match groups
            .iter_mut()
            .find(|g| g[0].endpoint_id == delivery.endpoint_id)
        {
            Some(group) => group.push(delivery),
            None => groups.push(vec![delivery]),
        }
    }
    let at = Claim { now, until, lane };
    let parts = futures::future::join_all(
        groups
            .into_iter()
            .map(|group| one_endpoint(services, group, at, options)),
    )
    .await;
    let mut more_now = false;
    let mut sent = Vec::new();
    for part in parts {
        let part = part?;
        batch.results.extend(part.results);
        batch.again_in = match (batch.again_in, part.again_in) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        more_now |= part.more_now;
        sent.extend(part.sent);
    }
    batch.results.extend(record_all(services, sent).await?);
    // At most one next job: at once when this batch was full and went out (more may be due) or
    // a probe closed its circuit; later when flow control held some back; none otherwise. A
    // batch held back entirely does not ask again at once, or a held endpoint with a backlog
    // would keep jobs spinning.
    let progressed = batch
        .results
        .iter()
        .any(|(_, _, outcome)| outcome.is_some());
    if let Some((tenant, lane)) = again {
        let next = if (batch.full && progressed) || more_now {
            Some(None)
        } else {
            batch.again_in.map(Some)
        };
        if let Some(delay) = next
            && let Err(error) = enqueue::push_tenant(&services.queues, tenant, lane, delay).await
        {
            tracing::warn!(%error, "could not ask for the next batch; the sweeper will");
        }
    }
    Ok(batch)
}

/// When and on which lane a batch claimed.
#[derive(Clone, Copy)]
struct Claim {
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    lane: Lane,
}

/// What one endpoint's share of a batch did.
#[derive(Default)]
struct Part {
    /// What was not sent (held, parked).
    results: Vec<(uuid::Uuid, Attempted, Option<Outcome>)>,
    /// What was sent, to be recorded with the rest of the batch.
    sent: Option<Sent>,
    again_in: Option<Duration>,
    /// A probe closed the circuit: the deliveries it kept waiting are due now.
    more_now: bool,
}

/// One endpoint's sent attempts and their outcomes.
struct Sent {
    /// The endpoint was not in a failing period.
    healthy: bool,
    /// What the outcomes did to its circuit.
    circuit: CircuitChange,
    attempts: Vec<(Claimed, Outcome)>,
}

/// Reads the endpoint, asks flow control, sends and records one endpoint's claimed deliveries.
async fn one_endpoint(
    services: &Services,
    claimed: Vec<Claimed>,
    at: Claim,
    options: Options,
) -> DomainResult<Part> {
    let Claim { now, until, lane } = at;
    let mut batch = Part::default();
    let endpoint = send::endpoint_now(&services.db, claimed[0].endpoint_id).await?;
    let statuses = endpoint
        .as_ref()
        .map(|e| (e.endpoint.status, e.tenant_status));
    let endpoint = match (endpoint, gate::decide(statuses, now)) {
        (Some(endpoint), gate::Gate::Go) => endpoint,
        (_, gate) => {
            let how = match gate {
                gate::Gate::Wait(how) => how,
                // Only a missing endpoint has no statuses, and that waits.
                gate::Gate::Go => Unclaim::Park("the endpoint is gone"),
            };
            claim::unclaim(&services.db, &claimed, until, now, how).await?;
            batch.results = skipped(&claimed);
            return Ok(batch);
        }
    };
    let (sendable, removed): (Vec<Claimed>, Vec<Claimed>) =
        claimed.into_iter().partition(|c| c.payload.is_some());
    if !removed.is_empty() {
        let note = "the message's payload was removed by retention";
        claim::unclaim(&services.db, &removed, until, now, Unclaim::Park(note)).await?;
        batch.results.extend(skipped(&removed));
    }
    if sendable.is_empty() {
        return Ok(batch);
    }
    let timeout = Duration::from_millis(endpoint.endpoint.timeout_ms.max(1000) as u64);
    let admitted = match options.controlled {
        true => admit(services, &endpoint, sendable, at, timeout, &mut batch).await?,
        false => Some(Admitted {
            lease: None,
            go: sendable,
            waiting: Vec::new(),
        }),
    };
    let Some(Admitted { lease, go, waiting }) = admitted else {
        return Ok(batch);
    };
    let probe = lease.as_ref().is_some_and(|l| l.probe);
    let sent = send_admitted(services, &endpoint, &go, lease.as_ref(), lane).await;
    let outcomes = match sent {
        Ok(outcomes) => outcomes,
        Err(error) => {
            // Nothing was sent: the deliveries are due again as before.
            claim::unclaim(&services.db, &go, until, now, Unclaim::Restore).await?;
            claim::unclaim(&services.db, &waiting, until, now, Unclaim::Restore).await?;
            return Err(error);
        }
    };
    let circuit = record_circuit(services, &endpoint, probe, &outcomes).await;
    if !waiting.is_empty() {
        let (how, more_now) = gate::after_probe(circuit, now);
        batch.more_now = more_now;
        claim::unclaim(&services.db, &waiting, until, now, how).await?;
        batch.results.extend(skipped(&waiting));
    }
    batch.sent = Some(Sent {
        healthy: endpoint.endpoint.failing_since.is_none(),
        circuit,
        attempts: go.into_iter().zip(outcomes).collect(),
    });
    Ok(batch)
}

/// Sends the admitted deliveries (counted in flight meanwhile) and gives the in-flight lease
/// back.
async fn send_admitted(
    services: &Services,
    endpoint: &send::EndpointNow,
    go: &[Claimed],
    lease: Option<&flow::Lease>,
    lane: Lane,
) -> DomainResult<Vec<Outcome>> {
    let in_flight = metrics::gauge!("graphhook_deliveries_in_flight", "lane" => lane.as_str());
    in_flight.increment(go.len() as f64);
    let sent = send::send_all(
        &services.db,
        &services.signing,
        &services.secret_box,
        &services.sender,
        endpoint,
        go,
        services.clock.now(),
    )
    .await;
    in_flight.decrement(go.len() as f64);
    if let Some(lease) = lease
        && let Err(error) = services.flow.release(lease).await
    {
        tracing::warn!(%error, "could not release the in-flight leases; they expire by themselves");
    }
    sent
}

fn skipped(claimed: &[Claimed]) -> Vec<(uuid::Uuid, Attempted, Option<Outcome>)> {
    claimed
        .iter()
        .map(|c| (c.id, Attempted::Skipped, None))
        .collect()
}

/// What flow control lets go now: the lease, the deliveries to send, and those of a probe's
/// batch that wait for its outcome.
struct Admitted {
    lease: Option<flow::Lease>,
    go: Vec<Claimed>,
    waiting: Vec<Claimed>,
}

/// Asks flow control; what it holds back is given back (and noted in `batch`). `None`: nothing
/// goes now.
async fn admit(
    services: &Services,
    endpoint: &send::EndpointNow,
    sendable: Vec<Claimed>,
    at: Claim,
    timeout: Duration,
    batch: &mut Part,
) -> DomainResult<Option<Admitted>> {
    let Claim { now, until, lane } = at;
    // The in-flight lease outlives the requests a little, so a killed worker's lease ends.
    let lease_for = timeout + Duration::from_secs(10);
    let admission = services
        .flow
        .admit(&endpoint.endpoint, lane, sendable.len(), now, lease_for)
        .await?;
    let held = |claimed: &[Claimed], hold: Hold, retry_in: Option<Duration>| {
        claimed
            .iter()
            .map(|c| (c.id, Attempted::Held { hold, retry_in }, None))
            .collect::<Vec<_>>()
    };
    match admission {
        Admission::Held(hold) => {
            batch.again_in = hold_back(services, &sendable, until, now, hold).await?;
            batch.results.extend(held(&sendable, hold, batch.again_in));
            Ok(None)
        }
        Admission::Admitted { lease, rest } => {
            let mut go = sendable;
            let waiting = go.split_off(lease.count.min(go.len()));
            match rest.filter(|_| !waiting.is_empty()) {
                Some(hold) => {
                    batch.again_in = hold_back(services, &waiting, until, now, hold).await?;
                    batch.results.extend(held(&waiting, hold, batch.again_in));
                    Ok(Some(Admitted {
                        lease: Some(lease),
                        go,
                        waiting: Vec::new(),
                    }))
                }
                // The rest of a probe's batch waits for the probe's outcome.
                None => Ok(Some(Admitted {
                    lease: Some(lease),
                    go,
                    waiting,
                })),
            }
        }
    }
}

/// Tells the endpoint's circuit what the attempts did.
async fn record_circuit(
    services: &Services,
    endpoint: &send::EndpointNow,
    probe: bool,
    outcomes: &[Outcome],
) -> CircuitChange {
    let succeeded = outcomes.iter().filter(|o| o.is_success()).count();
    let failed = outcomes.len() - succeeded;
    let now = services.clock.now();
    match services
        .flow
        .record(endpoint.endpoint.id, probe, succeeded, failed, now)
        .await
    {
        Ok(change) => change,
        Err(error) => {
            tracing::warn!(%error, "could not record the outcomes for the endpoint's circuit");
            CircuitChange::Unchanged
        }
    }
}

async fn hold_back(
    services: &Services,
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
    claim::unclaim(&services.db, held, until, now, how).await?;
    Ok(again)
}

/// Records the outcomes of every endpoint of the batch: plain first-attempt successes together
/// in one statement, the rest one by one (the first of an endpoint's carries its circuit's
/// change).
async fn record_all(
    services: &Services,
    sent: Vec<Sent>,
) -> DomainResult<Vec<(uuid::Uuid, Attempted, Option<Outcome>)>> {
    let plain = |group: &Sent, claimed: &Claimed, outcome: &Outcome| {
        outcome.is_success()
            && claimed.attempt_count == 0
            && group.circuit == CircuitChange::Unchanged
            && group.healthy
    };
    let delivered: Vec<(&Claimed, &Outcome)> = sent
        .iter()
        .flat_map(|group| {
            group
                .attempts
                .iter()
                .filter(|(c, o)| plain(group, c, o))
                .map(|(c, o)| (c, o))
        })
        .collect();
    let recorded = record::record_delivered(services, &delivered).await?;
    let mut results = Vec::new();
    for group in sent {
        let mut circuit = group.circuit;
        let is_plain: Vec<bool> = group
            .attempts
            .iter()
            .map(|(c, o)| plain(&group, c, o))
            .collect();
        for ((claimed, outcome), plain) in group.attempts.into_iter().zip(is_plain) {
            let attempted = if plain {
                if recorded.contains(&claimed.id) {
                    Attempted::Delivered
                } else {
                    Attempted::Skipped
                }
            } else {
                let change = std::mem::replace(&mut circuit, CircuitChange::Unchanged);
                record::record_outcome(services, &claimed, &outcome, change).await?
            };
            tracing::debug!(delivery = %claimed.id, ?attempted, status = ?outcome.status, "attempt");
            results.push((claimed.id, attempted, Some(outcome)));
        }
    }
    Ok(results)
}

/// `at` without its nanoseconds beyond the microsecond, as Postgres stores it.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}
