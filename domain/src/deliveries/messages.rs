//! Messages: an event for a tenant becomes one message (its `webhook-id` and payload) and one
//! delivery per endpoint that wants it, written together and handed to the workers.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::{Value, json};

use super::{Attempted, Deps, NewMessage, Trigger, attempt_one, enqueue::push_deliveries};
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
    webhooks::sender::Outcome,
};

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
    match attempt_one(deps, delivery.id, false).await? {
        (attempted, Some(outcome)) => Ok(TestSent {
            webhook_id: message.webhook_id,
            attempted,
            outcome,
        }),
        (_, None) => Err(DomainError::Conflict(NOT_ACTIVE.into())),
    }
}

const NOT_ACTIVE: &str = "the endpoint is not active: nothing is sent to it until it passes verification (and while it is disabled)";

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
        signing: deps.signing,
        auto_disable_after: deps.auto_disable_after,
        retry_schedule: deps.retry_schedule,
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
