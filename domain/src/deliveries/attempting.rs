//! One attempt of a delivery: read, sign, admit (flow control), claim, send, record; and what
//! an outcome does to the delivery and its endpoint (retry schedule, failing period,
//! auto-disable, `message.attempt.*` events, circuit events).

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
    prelude::{DateTimeUtc, Expr},
};
use serde_json::{Value, json};

use super::{
    Deps, Hold, Lane, Trigger,
    flow::{self, Admission, CircuitChange},
    schedule,
};
use crate::{
    clock::Clock,
    endpoints,
    entities::{
        attempt,
        delivery::{self, DeliveryStatus},
        endpoint::{self, DisabledReason, EndpointStatus},
        message,
        tenant::{self, TenantStatus},
    },
    error::{DomainError, DomainResult},
    events,
    ids::{EndpointId, TenantId},
    webhooks::sender::Outcome,
};

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

/// The note on a delivery held while its tenant is suspended; resuming the tenant makes those
/// due again.
pub const HELD_WHILE_SUSPENDED: &str = "held while the tenant is suspended";

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
pub(super) async fn attempt_with_outcome<C: ConnectionTrait + TransactionTrait>(
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
    // The endpoint with its tenant's status, in one query.
    let found = endpoint::Entity::find_by_id(delivery.endpoint_id)
        .find_also_related(tenant::Entity)
        .one(deps.db)
        .await?;
    let message = message::Entity::find_by_id(delivery.message_id)
        .one(deps.db)
        .await?;
    let (Some((endpoint, tenant)), Some(message)) = (found, message) else {
        return Ok((Attempted::Skipped, None));
    };
    let tenant_status = tenant.map(|t| t.status);
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
    // A suspended tenant's deliveries wait for its resumption; an offboarded one's stop.
    if let Some(status @ (TenantStatus::Suspended | TenantStatus::Offboarded)) = tenant_status {
        let note = match status {
            TenantStatus::Suspended => HELD_WHILE_SUSPENDED,
            _ => "the tenant is offboarded",
        };
        unchanged(&delivery)
            .col_expr(
                delivery::Column::NextAttemptAt,
                Expr::value(Option::<DateTimeUtc>::None),
            )
            .col_expr(delivery::Column::LastError, Expr::value(note))
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
