//! Step 4: recording what a batch's attempts did: the plain successes (a first attempt
//! delivered, nothing else to note) of a whole batch in one statement; anything else (a failure,
//! a retry's success, a circuit change) one delivery per transaction, with its consequences:
//! the retry schedule, the endpoint's failing period and auto-disable, `message.attempt.*`
//! events, circuit events.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};
use serde_json::{Value, json};

use super::{Attempted, Trigger, claim::Claimed, flow::CircuitChange, outcome, schedule};
use crate::{
    delivery::event_catalogue::Event,
    delivery::events,
    delivery::webhooks::sender::Outcome,
    platform::clock::Clock,
    platform::entities::{
        attempt, delivery,
        endpoint::{self, DisabledReason, EndpointStatus},
    },
    platform::error::DomainResult,
    platform::ids::{EndpointId, TenantId},
    services::Services,
};

/// Records first attempts that succeeded, with nothing else to note, in one statement: each
/// delivery becomes `delivered` and its attempt is inserted, or neither if another worker took
/// the delivery over after this claim ran out. Returns the ids recorded.
pub(super) async fn record_delivered(
    services: &Services,
    delivered: &[(&Claimed, &Outcome)],
) -> DomainResult<Vec<uuid::Uuid>> {
    if delivered.is_empty() {
        return Ok(Vec::new());
    }
    let now = services.clock.now();
    let rows: Vec<Value> = delivered
        .iter()
        .map(|(claimed, outcome)| {
            json!({
                "id": claimed.id,
                "attempt_count": claimed.attempt_count,
                "attempt_id": uuid::Uuid::now_v7(),
                "trigger": claimed.next_trigger,
                "status_code": outcome.status,
                "duration_ms": outcome.duration_ms.min(i32::MAX as u64),
                "excerpt": (!outcome.body.is_empty()).then_some(&outcome.body),
            })
        })
        .collect();
    let statement = Statement::from_sql_and_values(
        services.db.get_database_backend(),
        r#"WITH r AS (
             SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
               id uuid, attempt_count int, attempt_id uuid, trigger text, status_code int,
               duration_ms int, excerpt text)),
           d AS (
             UPDATE deliveries SET status = 'delivered', attempt_count = r.attempt_count + 1,
                    next_attempt_at = NULL, next_trigger = 'scheduled', last_error = NULL,
                    claimed_until = NULL, updated_at = $2
               FROM r
              WHERE deliveries.id = ANY($3::uuid[]) AND deliveries.id = r.id
                AND deliveries.attempt_count = r.attempt_count
                AND deliveries.status NOT IN ('delivered', 'exhausted')
             RETURNING deliveries.id, deliveries.tenant_id, r.attempt_count, r.attempt_id,
                       r.trigger, r.status_code, r.duration_ms, r.excerpt)
           INSERT INTO attempts (id, tenant_id, delivery_id, number, trigger, status_code,
                                 duration_ms, response_excerpt, error_class, error, created_at)
           SELECT d.attempt_id, d.tenant_id, d.id, d.attempt_count + 1, d.trigger, d.status_code,
                  d.duration_ms, d.excerpt, NULL, NULL, $2 FROM d
           RETURNING delivery_id"#,
        [
            Value::Array(rows).into(),
            now.into(),
            super::claim::uuid_array(delivered.iter().map(|(c, _)| c.id)).into(),
        ],
    );
    let recorded = services.db.query_all_raw(statement).await?;
    let ids = recorded
        .iter()
        .map(|row| row.try_get::<uuid::Uuid>("", "delivery_id"))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() < delivered.len() {
        tracing::warn!(
            lost = delivered.len() - ids.len(),
            "claims ran out before their attempts ended; those are not recorded"
        );
    }
    metrics::counter!("graphhook_delivery_attempts_total", "outcome" => "delivered")
        .increment(ids.len() as u64);
    let histogram = metrics::histogram!("graphhook_delivery_attempt_duration_seconds");
    for (_, outcome) in delivered {
        histogram.record(outcome.duration_ms as f64 / 1000.0);
    }
    Ok(ids)
}

/// Records a sent attempt and its consequences in one transaction: loads the facts under the
/// delivery's row lock, lets [`outcome::decide`] decide, and writes the decision.
pub(super) async fn record_outcome(
    services: &Services,
    claimed: &Claimed,
    outcome: &Outcome,
    circuit: CircuitChange,
) -> DomainResult<Attempted> {
    let now = services.clock.now();
    let txn = services.db.begin().await?;
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
    record_circuit(&txn, &services.clock, &endpoint, circuit).await?;
    let number = delivery.attempt_count + 1;
    // Read before this attempt is written. A first attempt (the common case) has no history.
    let prior_failures = match delivery.attempt_count {
        0 => 0,
        _ => consecutive_failures(&txn, &delivery).await?,
    };
    insert_attempt(&txn, &delivery, outcome, now).await?;
    let decision = outcome::decide(&outcome::Facts {
        outcome,
        now,
        prior_failures,
        retry_delay: schedule::Schedule::for_endpoint(&endpoint, &services.retry_schedule)
            .delay(number, schedule::random_unit()),
        endpoint_active: endpoint.status == EndpointStatus::Active,
        failing_since: endpoint.failing_since,
        auto_disable_after: services.auto_disable_after(),
        event_type: &claimed.event_type,
    });
    apply_to_endpoint(&txn, &services.clock, &endpoint, decision.endpoint, now).await?;
    metrics::counter!("graphhook_delivery_attempts_total", "outcome" => decision.result.label())
        .increment(1);
    metrics::histogram!("graphhook_delivery_attempt_duration_seconds")
        .record(outcome.duration_ms as f64 / 1000.0);
    if let Some(event_type) = decision.event {
        let endpoint_id = EndpointId::from(endpoint.id);
        events::record(
            &txn,
            &services.clock,
            TenantId::from(delivery.tenant_id),
            Some(endpoint_id),
            event_type,
            json!({
                "endpointId": endpoint_id,
                "messageId": claimed.webhook_id,
                "eventType": claimed.event_type,
                "deliveryId": crate::platform::ids::DeliveryId::from(delivery.id),
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
    let mut active = delivery.into_active_model();
    active.attempt_count = Set(number);
    active.next_trigger = Set(Trigger::Scheduled.as_str().to_owned());
    active.updated_at = Set(now);
    active.status = Set(decision.status);
    active.next_attempt_at = Set(decision.next_attempt_at);
    active.last_error = Set(decision.last_error);
    active.claimed_until = Set(None);
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(decision.result)
}

/// The attempt's row: what was sent, what came back.
async fn insert_attempt<C: ConnectionTrait>(
    txn: &C,
    delivery: &delivery::Model,
    outcome: &Outcome,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    attempt::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(delivery.tenant_id),
        delivery_id: Set(delivery.id),
        number: Set(delivery.attempt_count + 1),
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
    .insert(txn)
    .await?;
    Ok(())
}

/// The endpoint's circuit events: opened, closed (a failed probe only logs).
async fn record_circuit<C: ConnectionTrait>(
    txn: &C,
    clock: &Clock,
    endpoint: &endpoint::Model,
    circuit: CircuitChange,
) -> DomainResult<()> {
    let endpoint_id = EndpointId::from(endpoint.id);
    let (event_type, data) = match circuit {
        CircuitChange::Opened {
            until,
            attempts,
            failed,
        } => {
            tracing::warn!(endpoint = %endpoint_id, %until, attempts, failed, "circuit opened");
            let data = json!({
                "endpointId": endpoint_id,
                "state": "open",
                "until": until,
                "attempts": attempts,
                "failed": failed,
            });
            (Event::EndpointCircuitOpened.name(), data)
        }
        CircuitChange::Closed => {
            tracing::info!(endpoint = %endpoint_id, "circuit closed");
            let data = json!({"endpointId": endpoint_id, "state": "closed"});
            (Event::EndpointCircuitClosed.name(), data)
        }
        CircuitChange::Reopened { until } => {
            tracing::info!(endpoint = %endpoint_id, %until, "circuit probe failed; open again");
            return Ok(());
        }
        CircuitChange::Unchanged => return Ok(()),
    };
    let tenant = TenantId::from(endpoint.tenant_id);
    events::record(txn, clock, tenant, Some(endpoint_id), event_type, data).await
}

/// Writes [`outcome::EndpointStep`].
async fn apply_to_endpoint<C: ConnectionTrait>(
    txn: &C,
    clock: &Clock,
    endpoint: &endpoint::Model,
    step: outcome::EndpointStep,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    use outcome::EndpointStep;
    let failing_since = match step {
        EndpointStep::Unchanged => return Ok(()),
        EndpointStep::Healthy => None,
        EndpointStep::StartFailing => Some(now),
        EndpointStep::DisableGone => {
            return disable(txn, clock, endpoint, DisabledReason::Gone, json!({})).await;
        }
        EndpointStep::DisableFailing { since } => {
            let extra = json!({"failingSince": since});
            return disable(txn, clock, endpoint, DisabledReason::Failing, extra).await;
        }
    };
    let mut active = endpoint.clone().into_active_model();
    active.failing_since = Set(failing_since);
    active.update(txn).await?;
    Ok(())
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
        Event::EndpointDisabled.name(),
        data,
    )
    .await
}

pub use super::outcome::FAILING_AFTER;

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
