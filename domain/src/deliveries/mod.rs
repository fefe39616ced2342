//! The delivery engine's core: turning an event into one delivery per matching endpoint, each
//! attempt recorded, retries due in Postgres, and a sweeper that enqueues whatever is due, so a
//! delivery survives a lost job (Redis flushed, worker killed) or a failed enqueue.

mod attempting;
pub mod flow;
pub mod history;
pub mod retention;
pub mod schedule;

use attempting::attempt_with_outcome;
pub use attempting::{Attempted, FAILING_AFTER, HELD_WHILE_SUSPENDED, attempt};
pub use flow::{FlowControl, Hold, Lane};

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};

use crate::{
    clock::Clock,
    endpoints,
    entities::{
        delivery::{self, DeliveryStatus},
        endpoint::{self, EndpointStatus},
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
    let (message, deliveries) = write_message(deps.db, deps.clock, new).await?;
    enqueue(deps, &deliveries).await;
    Ok((message, deliveries))
}

/// Writes the message and its deliveries (due now) in one transaction (a savepoint when `db`
/// is one); the caller enqueues them, or the sweeper does.
pub(crate) async fn write_message<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    new: NewMessage,
) -> DomainResult<(message::Model, Vec<delivery::Model>)> {
    let now = clock.now();
    let body = serde_json::to_vec(&json!({
        "type": new.event_type,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": new.data,
    }))
    .map_err(|e| DomainError::internal("encoding a message", e))?;
    let txn = db.begin().await?;
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
    let (message, deliveries) = write_message(deps.db, deps.clock, new).await?;
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

/// Whether a delivery whose next attempt belongs to `lane` is due: work that lane's jobs are
/// waiting to do (the worker's watchdog asks when it cannot see the lane's queue in Redis).
pub async fn due_in_lane<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    lane: Lane,
) -> DomainResult<bool> {
    let scheduled = Trigger::Scheduled.as_str();
    let query = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::Status.is_in([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .filter(delivery::Column::NextAttemptAt.lte(clock.now()));
    // The same split as `Lane::of`.
    let query = match lane {
        Lane::Replay => query.filter(delivery::Column::NextTrigger.ne(scheduled)),
        Lane::Retry => query
            .filter(delivery::Column::NextTrigger.eq(scheduled))
            .filter(delivery::Column::AttemptCount.gt(0)),
        Lane::Live => query
            .filter(delivery::Column::NextTrigger.eq(scheduled))
            .filter(delivery::Column::AttemptCount.eq(0)),
    };
    let due: Option<uuid::Uuid> = query.limit(1).into_tuple().one(db).await?;
    Ok(due.is_some())
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
