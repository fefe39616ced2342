//! The delivery engine's core: turning an event into one delivery per matching endpoint, each
//! attempt recorded, retries due in Postgres, and a sweeper that enqueues whatever is due, so a
//! delivery survives a lost job (Redis flushed, worker killed) or a failed enqueue.

pub mod flow;
pub mod history;
pub mod retention;
pub mod schedule;

use flow::{Admission, CircuitChange};
pub use flow::{FlowControl, Hold, Lane};

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
    prelude::{DateTimeUtc, Expr},
};
use serde_json::{Value, json};

use crate::{
    clock::Clock,
    endpoints,
    entities::{
        attempt,
        delivery::{self, DeliveryStatus},
        endpoint::{self, DisabledReason, EndpointStatus},
        message,
    },
    error::{DomainError, DomainResult},
    events,
    ids::{EndpointId, MessageId, TenantId},
    jobs::{Deliver, DeliverReplay, DeliverRetry, Queues},
    webhooks::{
        crypt::SecretBox,
        sender::{Outcome, Sender},
    },
};

/// What sending needs.
pub struct Deps<'a, C> {
    pub db: &'a C,
    pub clock: &'a Clock,
    pub sender: &'a Sender,
    pub secret_box: &'a SecretBox,
    pub queues: &'a Queues,
    /// Rate limits, in-flight caps and circuits, shared by every worker process.
    pub flow: &'a FlowControl,
    /// How long an endpoint may fail without a success before it is disabled.
    pub auto_disable_after: Duration,
}

/// An event for a tenant.
#[derive(Debug)]
pub struct NewMessage {
    pub tenant: TenantId,
    pub event_type: String,
    pub data: Value,
    /// Only these endpoints; `None`: every active endpoint whose filter matches.
    pub endpoint_ids: Option<Vec<EndpointId>>,
}

/// Why an attempt was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Scheduled,
    Manual,
    Recovery,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Recovery => "recovery",
        }
    }
}

/// The key a delivery's job is pushed under: one job per delivery, attempt and due time, however
/// many sweepers run. A delivery that is held back or claimed gets a new due time, so the
/// sweeper can enqueue it again when that time comes.
pub(crate) fn idempotency_key(delivery: &delivery::Model) -> String {
    format!(
        "delivery:{}:{}:{}",
        delivery.id,
        delivery.attempt_count,
        delivery
            .next_attempt_at
            .map_or(0, |at| at.timestamp_millis())
    )
}

impl Lane {
    /// The lane a delivery's next attempt runs in.
    pub fn of(delivery: &delivery::Model) -> Lane {
        if delivery.next_trigger != Trigger::Scheduled.as_str() {
            Lane::Replay
        } else if delivery.attempt_count > 0 {
            Lane::Retry
        } else {
            Lane::Live
        }
    }
}

/// Pushes the deliveries' jobs, each on its lane's queue and under its idempotency key.
/// Returns how many were enqueued (a job already queued for the same attempt is not).
pub async fn push_deliveries(
    queues: &Queues,
    deliveries: &[delivery::Model],
) -> Result<usize, crate::jobs::PushError> {
    let mut live = Vec::new();
    let mut retry = Vec::new();
    let mut replay = Vec::new();
    for delivery in deliveries {
        let key = idempotency_key(delivery);
        let id = delivery.id;
        match Lane::of(delivery) {
            Lane::Live => live.push((Deliver { delivery: id }, key)),
            Lane::Retry => retry.push((DeliverRetry { delivery: id }, key)),
            Lane::Replay => replay.push((DeliverReplay { delivery: id }, key)),
        }
    }
    let mut pushed = 0;
    if !live.is_empty() {
        pushed += queues.push_many_unique(&live).await?;
    }
    if !retry.is_empty() {
        pushed += queues.push_many_unique(&retry).await?;
    }
    if !replay.is_empty() {
        pushed += queues.push_many_unique(&replay).await?;
    }
    Ok(pushed)
}

/// Pushes one delivery's job on `lane` again after `delay` (no idempotency key: the job that
/// holds the key is the one asking).
pub async fn push_later(
    queues: &Queues,
    lane: Lane,
    delivery: uuid::Uuid,
    delay: std::time::Duration,
) -> Result<(), crate::jobs::PushError> {
    match lane {
        Lane::Live => queues.push_delayed(&Deliver { delivery }, delay).await,
        Lane::Retry => queues.push_delayed(&DeliverRetry { delivery }, delay).await,
        Lane::Replay => {
            queues
                .push_delayed(&DeliverReplay { delivery }, delay)
                .await
        }
    }
}

/// Writes the message and its deliveries in one transaction, then enqueues the deliveries. A
/// failed enqueue loses nothing: the sweeper finds the deliveries due.
pub async fn create_message<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    new: NewMessage,
) -> DomainResult<(message::Model, Vec<delivery::Model>)> {
    let (message, deliveries) = write_message(deps, new).await?;
    enqueue(deps, &deliveries).await;
    Ok((message, deliveries))
}

pub(crate) async fn write_message<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    new: NewMessage,
) -> DomainResult<(message::Model, Vec<delivery::Model>)> {
    let now = deps.clock.now();
    let body = serde_json::to_vec(&json!({
        "type": new.event_type,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": new.data,
    }))
    .map_err(|e| DomainError::internal("encoding a message", e))?;
    let txn = deps.db.begin().await?;
    let message_id = MessageId::new();
    let message = message::ActiveModel {
        id: Set(message_id.uuid()),
        tenant_id: Set(new.tenant.uuid()),
        // The message's id is its webhook-id: msg_ and a sortable unique id.
        webhook_id: Set(message_id.to_string()),
        event_type: Set(new.event_type.clone()),
        payload: Set(Some(body)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let candidates = endpoint::Entity::find()
        .filter(endpoint::Column::TenantId.eq(new.tenant.uuid()))
        .filter(endpoint::Column::Status.eq(EndpointStatus::Active))
        .all(&txn)
        .await?;
    let mut deliveries = Vec::new();
    for endpoint in candidates {
        let wanted = match &new.endpoint_ids {
            Some(ids) => ids.iter().any(|id| id.uuid() == endpoint.id),
            None => events::wanted(&endpoints::filter_types(&endpoint), &new.event_type),
        };
        if !wanted {
            continue;
        }
        let delivery = delivery::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            tenant_id: Set(new.tenant.uuid()),
            message_id: Set(message.id),
            endpoint_id: Set(endpoint.id),
            status: Set(DeliveryStatus::Pending),
            attempt_count: Set(0),
            next_attempt_at: Set(Some(now)),
            next_trigger: Set(Trigger::Scheduled.as_str().to_owned()),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        deliveries.push(delivery);
    }
    txn.commit().await?;
    metrics::counter!("graphhook_deliveries_created_total").increment(deliveries.len() as u64);
    Ok((message, deliveries))
}

async fn enqueue<C>(deps: &Deps<'_, C>, deliveries: &[delivery::Model]) {
    if let Err(error) = push_deliveries(deps.queues, deliveries).await {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
    }
}

/// What a test send did: the message's `webhook-id`, and the endpoint's answer.
#[derive(Debug)]
pub struct TestSent {
    pub webhook_id: String,
    pub attempted: Attempted,
    pub outcome: Outcome,
}

/// Sends an `endpoint.test` message to one active endpoint now. It is an ordinary message: it
/// is in the history, and if the endpoint fails it is retried on the schedule.
pub async fn send_test<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    endpoint: &endpoint::Model,
) -> DomainResult<TestSent> {
    if endpoint.status != EndpointStatus::Active {
        return Err(DomainError::Conflict(NOT_ACTIVE.into()));
    }
    let id = EndpointId::from(endpoint.id);
    let new = NewMessage {
        tenant: TenantId::from(endpoint.tenant_id),
        event_type: "endpoint.test".into(),
        data: json!({"endpointId": id, "message": "This is a test event from Graphhook."}),
        endpoint_ids: Some(vec![id]),
    };
    let (message, deliveries) = write_message(deps, new).await?;
    let Some(delivery) = deliveries.first() else {
        return Err(DomainError::Conflict(NOT_ACTIVE.into()));
    };
    match attempt_with_outcome(deps, delivery.id, Trigger::Scheduled, false).await? {
        (attempted, Some(outcome)) => Ok(TestSent {
            webhook_id: message.webhook_id,
            attempted,
            outcome,
        }),
        (_, None) => Err(DomainError::Conflict(NOT_ACTIVE.into())),
    }
}

const NOT_ACTIVE: &str = "the endpoint is not active: nothing is sent to it until it passes verification (and while it is disabled)";

/// What an attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempted {
    Delivered,
    /// Failed; the next attempt is due then.
    Retrying(chrono::DateTime<chrono::Utc>),
    Exhausted,
    /// The endpoint answered 410: it is disabled.
    Gone,
    /// Nothing was sent: not due, already done, or its endpoint is not active.
    Skipped,
    /// Nothing was sent and no retry was spent: flow control holds the attempt back. For an
    /// open circuit the delivery is due again when the circuit's wait ends (the sweeper picks
    /// it up); otherwise the caller should try again after `retry_in`.
    Held {
        hold: Hold,
        retry_in: Option<std::time::Duration>,
    },
}

/// Makes one attempt of a delivery, if it is due (or asked for) and flow control admits it,
/// and records it.
#[tracing::instrument(skip(deps), fields(delivery = %delivery_id))]
pub async fn attempt<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    delivery_id: uuid::Uuid,
    trigger: Trigger,
) -> DomainResult<Attempted> {
    Ok(attempt_with_outcome(deps, delivery_id, trigger, true)
        .await?
        .0)
}

/// Extra time a claimed delivery stays out of the sweeper's reach beyond its request timeout:
/// if the worker dies mid-attempt, the delivery is due again after this.
const CLAIM_GRACE: Duration = Duration::seconds(60);

/// How long an attempt held back by the in-flight cap waits before it asks again.
const IN_FLIGHT_WAIT_MS: u64 = 200;

/// [`attempt`], with the endpoint's answer when something was sent. `controlled: false` skips
/// admission (a test send the tenant is waiting for); its outcome still feeds the circuit.
///
/// An attempt holds no database connection, lock or transaction while it waits for the
/// endpoint. It reads the delivery, signs the request, asks flow control, then claims the
/// delivery in one conditional statement (its `next_attempt_at` moves past the request's
/// timeout, so a killed worker's delivery comes due again; a second worker finds it claimed),
/// sends, and records the outcome: a plain first-attempt success in one statement, anything
/// else in one transaction.
async fn attempt_with_outcome<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    delivery_id: uuid::Uuid,
    trigger: Trigger,
    controlled: bool,
) -> DomainResult<(Attempted, Option<Outcome>)> {
    let now = deps.clock.now();
    let Some(delivery) = delivery::Entity::find_by_id(delivery_id)
        .one(deps.db)
        .await?
    else {
        return Ok((Attempted::Skipped, None));
    };
    let due = delivery.next_attempt_at.is_some_and(|at| at <= now);
    let open = matches!(
        delivery.status,
        DeliveryStatus::Pending | DeliveryStatus::Failed
    );
    if trigger == Trigger::Scheduled && !(open && due) {
        return Ok((Attempted::Skipped, None));
    }
    let endpoint = endpoint::Entity::find_by_id(delivery.endpoint_id)
        .one(deps.db)
        .await?;
    let message = message::Entity::find_by_id(delivery.message_id)
        .one(deps.db)
        .await?;
    let (Some(endpoint), Some(message)) = (endpoint, message) else {
        return Ok((Attempted::Skipped, None));
    };
    if endpoint.status != EndpointStatus::Active {
        unchanged(&delivery)
            .col_expr(
                delivery::Column::NextAttemptAt,
                Expr::value(Option::<DateTimeUtc>::None),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value("the endpoint is not active"),
            )
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .exec(deps.db)
            .await?;
        return Ok((Attempted::Skipped, None));
    }
    let Some(body) = message.payload.clone() else {
        return Err(DomainError::Conflict(
            "the message's payload was removed by retention".into(),
        ));
    };
    let timeout = std::time::Duration::from_millis(endpoint.timeout_ms.max(1000) as u64);
    let lane = Lane::of(&delivery);
    let endpoint_deps = endpoints::Deps {
        db: deps.db,
        clock: deps.clock,
        sender: deps.sender,
        secret_box: deps.secret_box,
    };
    let signed = endpoints::sign(&endpoint_deps, &endpoint, &message.webhook_id, body).await?;
    let lease = if controlled {
        // The in-flight lease outlives the request a little, so a killed worker's lease ends.
        let lease_for = timeout + std::time::Duration::from_secs(10);
        match deps.flow.admit(&endpoint, lane, now, lease_for).await? {
            Admission::Admitted(lease) => Some(lease),
            Admission::Held(hold) => {
                metrics::counter!("graphhook_delivery_holds_total", "reason" => hold.as_str())
                    .increment(1);
                let retry_in = match hold {
                    Hold::CircuitOpen { until } => {
                        // Waits in Postgres, without spending a retry; the sweeper wakes it.
                        unchanged(&delivery)
                            .col_expr(delivery::Column::NextAttemptAt, Expr::value(until.max(now)))
                            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                            .exec(deps.db)
                            .await?;
                        None
                    }
                    // Nothing changed: the delivery stays due as it was.
                    Hold::InFlight => Some(std::time::Duration::from_millis(
                        IN_FLIGHT_WAIT_MS
                            + (schedule::random_unit() * IN_FLIGHT_WAIT_MS as f64) as u64,
                    )),
                    Hold::RateLimited { retry_in } => Some(retry_in),
                };
                return Ok((Attempted::Held { hold, retry_in }, None));
            }
        }
    } else {
        None
    };
    // The claim: out of the sweeper's reach until the request is surely over. Conditional on
    // the delivery being as read, so exactly one worker wins it.
    let claimed = unchanged(&delivery)
        .col_expr(
            delivery::Column::NextAttemptAt,
            Expr::value(now + Duration::from_std(timeout).unwrap_or_default() + CLAIM_GRACE),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .exec(deps.db)
        .await;
    let release = |lease: Option<flow::Lease>| async move {
        if let Some(lease) = lease
            && let Err(error) = deps.flow.release(&lease).await
        {
            tracing::warn!(%error, "could not release the in-flight lease; it expires by itself");
        }
    };
    match claimed {
        Ok(result) if result.rows_affected == 1 => {}
        Ok(_) => {
            release(lease).await;
            return Ok((Attempted::Skipped, None));
        }
        Err(error) => {
            release(lease).await;
            return Err(error.into());
        }
    }
    let in_flight = metrics::gauge!("graphhook_deliveries_in_flight", "lane" => lane.as_str());
    in_flight.increment(1.0);
    let outcome = endpoints::send(deps.sender, signed, timeout).await;
    in_flight.decrement(1.0);
    let probe = lease.as_ref().is_some_and(|l| l.probe);
    release(lease).await;
    let circuit = match deps
        .flow
        .record(endpoint.id, probe, outcome.is_success(), deps.clock.now())
        .await
    {
        Ok(change) => change,
        Err(error) => {
            tracing::warn!(%error, "could not record the outcome for the endpoint's circuit");
            CircuitChange::Unchanged
        }
    };
    let plain_success = outcome.is_success()
        && delivery.attempt_count == 0
        && circuit == CircuitChange::Unchanged
        && endpoint.failing_since.is_none();
    let result = if plain_success {
        record_success(deps, &delivery, &outcome).await?
    } else {
        record_outcome(deps, &delivery, &message, &outcome, circuit).await?
    };
    Ok((result, Some(outcome)))
}

/// An update of the delivery that applies only while it is still as `read` (same attempt count
/// and status, still due at the same time): the guard that makes a claim win once.
fn unchanged(read: &delivery::Model) -> sea_orm::UpdateMany<delivery::Entity> {
    let mut update = delivery::Entity::update_many()
        .filter(delivery::Column::Id.eq(read.id))
        .filter(delivery::Column::AttemptCount.eq(read.attempt_count))
        .filter(delivery::Column::Status.eq(read.status));
    update = match read.next_attempt_at {
        Some(at) => update.filter(delivery::Column::NextAttemptAt.eq(at)),
        None => update.filter(delivery::Column::NextAttemptAt.is_null()),
    };
    update
}

/// Records a first attempt that succeeded, with nothing else to note, in one statement: the
/// delivery becomes `delivered` and its attempt is inserted, or neither if another worker
/// took the delivery over after this claim ran out.
async fn record_success<C: ConnectionTrait>(
    deps: &Deps<'_, C>,
    claimed: &delivery::Model,
    outcome: &Outcome,
) -> DomainResult<Attempted> {
    let now = deps.clock.now();
    let backend = deps.db.get_database_backend();
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        r#"WITH d AS (
             UPDATE deliveries
                SET status = 'delivered', attempt_count = $1, next_attempt_at = NULL,
                    next_trigger = 'scheduled', last_error = NULL, updated_at = $2
              WHERE id = $3 AND attempt_count = $4 AND status IN ('pending', 'failed')
             RETURNING id, tenant_id)
           INSERT INTO attempts (id, tenant_id, delivery_id, number, trigger, status_code,
                                 duration_ms, response_excerpt, error_class, error, created_at)
           SELECT $5, d.tenant_id, d.id, $1, $6, $7, $8, $9, NULL, NULL, $2 FROM d"#,
        [
            (claimed.attempt_count + 1).into(),
            now.into(),
            claimed.id.into(),
            claimed.attempt_count.into(),
            uuid::Uuid::now_v7().into(),
            claimed.next_trigger.clone().into(),
            outcome.status.map(i32::from).into(),
            (outcome.duration_ms.min(i32::MAX as u64) as i32).into(),
            (!outcome.body.is_empty())
                .then(|| outcome.body.clone())
                .into(),
        ],
    );
    let result = deps.db.execute_raw(statement).await?;
    if result.rows_affected() == 0 {
        tracing::warn!(delivery = %claimed.id, "the claim ran out before the attempt ended; not recorded");
        return Ok(Attempted::Skipped);
    }
    metrics::counter!("graphhook_delivery_attempts_total", "outcome" => "delivered").increment(1);
    metrics::histogram!("graphhook_delivery_attempt_duration_seconds")
        .record(outcome.duration_ms as f64 / 1000.0);
    Ok(Attempted::Delivered)
}

/// Records a sent attempt and its consequences in one transaction.
async fn record_outcome<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    claimed: &delivery::Model,
    message: &message::Model,
    outcome: &Outcome,
    circuit: CircuitChange,
) -> DomainResult<Attempted> {
    let now = deps.clock.now();
    let txn = deps.db.begin().await?;
    let delivery = delivery::Entity::find_by_id(claimed.id)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let Some(delivery) = delivery.filter(|d| d.attempt_count == claimed.attempt_count) else {
        // Another worker took the delivery over after this claim ran out; its record stands.
        tracing::warn!(delivery = %claimed.id, "the claim ran out before the attempt ended; not recorded");
        return Ok(Attempted::Skipped);
    };
    let Some(endpoint) = endpoint::Entity::find_by_id(delivery.endpoint_id)
        .one(&txn)
        .await?
    else {
        return Ok(Attempted::Skipped);
    };
    let endpoint_id = EndpointId::from(endpoint.id);
    match circuit {
        CircuitChange::Opened {
            until,
            attempts,
            failed,
        } => {
            tracing::warn!(endpoint = %endpoint_id, %until, attempts, failed, "circuit opened");
            events::record(
                &txn,
                deps.clock,
                TenantId::from(endpoint.tenant_id),
                Some(endpoint_id),
                "endpoint.circuit_opened",
                json!({
                    "endpointId": endpoint_id,
                    "state": "open",
                    "until": until,
                    "attempts": attempts,
                    "failed": failed,
                }),
            )
            .await?;
        }
        CircuitChange::Closed => {
            tracing::info!(endpoint = %endpoint_id, "circuit closed");
            events::record(
                &txn,
                deps.clock,
                TenantId::from(endpoint.tenant_id),
                Some(endpoint_id),
                "endpoint.circuit_closed",
                json!({"endpointId": endpoint_id, "state": "closed"}),
            )
            .await?;
        }
        CircuitChange::Reopened { until } => {
            tracing::info!(endpoint = %endpoint_id, %until, "circuit probe failed; open again");
        }
        CircuitChange::Unchanged => {}
    }
    let number = delivery.attempt_count + 1;
    // A first attempt (the common case) has no history to read.
    let prior_failures = if delivery.attempt_count == 0 {
        0
    } else {
        consecutive_failures(&txn, &delivery).await?
    };
    attempt::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(delivery.tenant_id),
        delivery_id: Set(delivery.id),
        number: Set(number),
        trigger: Set(delivery.next_trigger.clone()),
        status_code: Set(outcome.status.map(i32::from)),
        duration_ms: Set(outcome.duration_ms.min(i32::MAX as u64) as i32),
        response_excerpt: Set((!outcome.body.is_empty()).then(|| outcome.body.clone())),
        error_class: Set(outcome
            .error
            .as_ref()
            .map(|e| format!("{:?}", e.class).to_lowercase())),
        error: Set(outcome.error.as_ref().map(|e| e.message.clone())),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let retry_after = outcome
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| schedule::retry_after(Some(v)));
    let mut active = delivery.clone().into_active_model();
    active.attempt_count = Set(number);
    active.next_trigger = Set(Trigger::Scheduled.as_str().to_owned());
    active.updated_at = Set(now);
    let result = if outcome.is_success() {
        // A success ends the endpoint's failing period.
        if endpoint.failing_since.is_some() {
            let mut healthy = endpoint.clone().into_active_model();
            healthy.failing_since = Set(None);
            healthy.update(&txn).await?;
        }
        active.status = Set(DeliveryStatus::Delivered);
        active.next_attempt_at = Set(None);
        active.last_error = Set(None);
        Attempted::Delivered
    } else if outcome.status == Some(410) {
        active.status = Set(DeliveryStatus::Exhausted);
        active.next_attempt_at = Set(None);
        active.last_error = Set(Some(
            "the endpoint answered 410 Gone and was disabled".into(),
        ));
        if endpoint.status == EndpointStatus::Active {
            disable(&txn, deps.clock, &endpoint, DisabledReason::Gone, json!({})).await?;
        }
        Attempted::Gone
    } else {
        let error = match (&outcome.error, outcome.status) {
            (Some(e), _) => e.message.clone(),
            (None, Some(status)) => format!("the endpoint answered {status}"),
            (None, None) => "no answer".to_owned(),
        };
        active.last_error = Set(Some(error));
        let result = match schedule::delay(number, schedule::random_unit()) {
            Some(delay) => {
                let wait = retry_after.map_or(delay, |r| r.max(delay));
                let next = now + wait;
                active.status = Set(DeliveryStatus::Failed);
                active.next_attempt_at = Set(Some(next));
                Attempted::Retrying(next)
            }
            None => {
                active.status = Set(DeliveryStatus::Exhausted);
                active.next_attempt_at = Set(None);
                Attempted::Exhausted
            }
        };
        if endpoint.status == EndpointStatus::Active
            && note_failure(deps, &txn, &endpoint, now).await?
        {
            // The endpoint is disabled: this delivery stops here, like the others waiting for it.
            active.next_attempt_at = Set(None);
        }
        result
    };
    let outcome_label = match &result {
        Attempted::Delivered => "delivered",
        Attempted::Retrying(_) => "retrying",
        Attempted::Exhausted => "exhausted",
        Attempted::Gone => "gone",
        Attempted::Skipped | Attempted::Held { .. } => "skipped",
    };
    metrics::counter!("graphhook_delivery_attempts_total", "outcome" => outcome_label).increment(1);
    metrics::histogram!("graphhook_delivery_attempt_duration_seconds")
        .record(outcome.duration_ms as f64 / 1000.0);
    let trouble = match &result {
        Attempted::Delivered if prior_failures >= FAILING_AFTER => {
            Some("message.attempt.recovered")
        }
        Attempted::Retrying(_) if prior_failures + 1 == FAILING_AFTER => {
            Some("message.attempt.failing")
        }
        Attempted::Exhausted => Some("message.attempt.exhausted"),
        _ => None,
    };
    // Events about these events' own deliveries would feed themselves.
    if let Some(event_type) =
        trouble.filter(|_| !message.event_type.starts_with("message.attempt."))
    {
        events::record(
            &txn,
            deps.clock,
            TenantId::from(delivery.tenant_id),
            Some(endpoint_id),
            event_type,
            json!({
                "endpointId": endpoint_id,
                "messageId": message.webhook_id,
                "eventType": message.event_type,
                "deliveryId": crate::ids::DeliveryId::from(delivery.id),
                "attempts": number,
                "lastAttempt": {
                    "timestamp": now,
                    "statusCode": outcome.status,
                    "error": outcome.error.as_ref().map(|e| e.message.clone()),
                },
            }),
        )
        .await?;
    }
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(result)
}

/// Starts or continues the endpoint's failing period; disables it (reason `failing`) once the
/// period reaches `auto_disable_after`. Returns whether it disabled it.
async fn note_failure<C: ConnectionTrait>(
    deps: &Deps<'_, impl ConnectionTrait>,
    txn: &C,
    endpoint: &endpoint::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<bool> {
    let Some(since) = endpoint.failing_since else {
        let mut failing = endpoint.clone().into_active_model();
        failing.failing_since = Set(Some(now));
        failing.update(txn).await?;
        return Ok(false);
    };
    if now - since < deps.auto_disable_after {
        return Ok(false);
    }
    disable(
        txn,
        deps.clock,
        endpoint,
        DisabledReason::Failing,
        json!({"failingSince": since}),
    )
    .await?;
    Ok(true)
}

/// Disables the endpoint for `reason` and records `endpoint.disabled` (with `extra` in its data).
async fn disable<C: ConnectionTrait>(
    txn: &C,
    clock: &Clock,
    endpoint: &endpoint::Model,
    reason: DisabledReason,
    extra: Value,
) -> DomainResult<()> {
    let mut disabled = endpoint.clone().into_active_model();
    disabled.status = Set(EndpointStatus::Disabled);
    disabled.disabled_reason = Set(Some(reason));
    disabled.updated_at = Set(clock.now());
    disabled.update(txn).await?;
    let id = EndpointId::from(endpoint.id);
    let mut data = json!({"endpointId": id, "reason": reason});
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    tracing::warn!(endpoint = %id, ?reason, "endpoint disabled");
    events::record(
        txn,
        clock,
        TenantId::from(endpoint.tenant_id),
        Some(id),
        "endpoint.disabled",
        data,
    )
    .await
}

/// `message.attempt.failing` is recorded at this many failures in a row.
pub const FAILING_AFTER: usize = 4;

/// How many of the delivery's latest attempts failed in a row (counting up to the threshold).
async fn consecutive_failures<C: ConnectionTrait>(
    db: &C,
    delivery: &delivery::Model,
) -> DomainResult<usize> {
    let latest = attempt::Entity::find()
        .filter(attempt::Column::TenantId.eq(delivery.tenant_id))
        .filter(attempt::Column::DeliveryId.eq(delivery.id))
        .order_by_desc(attempt::Column::Number)
        .limit(FAILING_AFTER as u64)
        .all(db)
        .await?;
    Ok(latest
        .iter()
        .take_while(|a| !a.status_code.is_some_and(|c| (200..300).contains(&c)))
        .count())
}

/// Enqueues every delivery that is due, once per attempt (an idempotency key per delivery and
/// attempt count), however many sweepers run. Returns how many it enqueued.
pub async fn sweep_due<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    queues: &Queues,
    limit: u64,
) -> DomainResult<usize> {
    let due = delivery::Entity::find()
        .filter(delivery::Column::Status.is_in([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .filter(delivery::Column::NextAttemptAt.lte(clock.now()))
        .order_by_asc(delivery::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;
    let enqueued = push_deliveries(queues, &due)
        .await
        .map_err(|error| DomainError::internal("enqueueing due deliveries", error))?;
    if enqueued > 0 {
        metrics::counter!("graphhook_sweeper_enqueued_total").increment(enqueued as u64);
    }
    Ok(enqueued)
}

/// The retry delay the schedule gives after `attempts` attempts, for callers that display it.
pub fn nominal_delay(attempts: i32) -> Option<Duration> {
    schedule::delay(attempts, 0.5)
}

/// Turns recorded operational events (`endpoint.*`, `tenant.*`, …) into messages for the
/// tenant's endpoints whose filter includes them, oldest first. Returns how many.
pub async fn publish_operational_events<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    limit: u64,
) -> DomainResult<usize> {
    use crate::entities::operational_event;
    let txn = deps.db.begin().await?;
    let pending = operational_event::Entity::find()
        .filter(operational_event::Column::DeliveredAt.is_null())
        .order_by_asc(operational_event::Column::CreatedAt)
        .order_by_asc(operational_event::Column::Id)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(&txn)
        .await?;
    let count = pending.len();
    let inner = Deps {
        db: &txn,
        clock: deps.clock,
        sender: deps.sender,
        secret_box: deps.secret_box,
        queues: deps.queues,
        flow: deps.flow,
        auto_disable_after: deps.auto_disable_after,
    };
    for event in pending {
        let new = NewMessage {
            tenant: TenantId::from(event.tenant_id),
            event_type: event.event_type.clone(),
            data: event.payload.get("data").cloned().unwrap_or(Value::Null),
            endpoint_ids: None,
        };
        create_message(&inner, new).await?;
        let mut active = event.into_active_model();
        active.delivered_at = Set(Some(deps.clock.now()));
        active.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(count)
}
