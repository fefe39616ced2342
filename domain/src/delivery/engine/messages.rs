//! Messages: an event for a tenant becomes one message (its `webhook-id` and payload) and one
//! delivery per endpoint that wants it, written together and handed to the workers.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait,
};
use serde_json::{Value, json};

use super::{Attempted, NewMessage, Trigger, attempt_one, enqueue::push_deliveries};
use crate::{
    delivery::events,
    delivery::webhooks::sender::Outcome,
    platform::clock::Clock,
    platform::entities::{
        delivery::{self, DeliveryStatus},
        endpoint::{self, EndpointStatus},
        message,
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{EndpointId, MessageId, TenantId},
    services::Services,
};

/// Writes the message and its deliveries in one transaction, then enqueues the deliveries. A
/// failed enqueue loses nothing: the sweeper finds the deliveries due.
pub async fn create_message(
    services: &Services,
    new: NewMessage,
) -> DomainResult<(message::Model, Vec<delivery::Model>)> {
    let (message, deliveries) = write_message(&services.db, &services.clock, new).await?;
    enqueue(services, &deliveries).await;
    Ok((message, deliveries))
}

/// Writes many messages and their deliveries in one statement, then enqueues the deliveries
/// (one job per endpoint). Returns them in the order given.
pub async fn create_messages(
    services: &Services,
    news: Vec<NewMessage>,
) -> DomainResult<Vec<(message::Model, Vec<delivery::Model>)>> {
    let written = write_messages(&services.db, &services.clock, news).await?;
    let deliveries: Vec<delivery::Model> = written
        .iter()
        .flat_map(|(_, d)| d.iter().cloned())
        .collect();
    enqueue(services, &deliveries).await;
    Ok(written)
}

/// Writes the message and its deliveries (due now) in one statement; the caller enqueues them,
/// or the sweeper does.
pub(crate) async fn write_message<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    new: NewMessage,
) -> DomainResult<(message::Model, Vec<delivery::Model>)> {
    let mut written = write_messages(db, clock, vec![new]).await?;
    written
        .pop()
        .ok_or_else(|| DomainError::internal("writing a message", anyhow::anyhow!("no row")))
}

/// Writes many messages and all their deliveries (due now) in one statement, after reading each
/// tenant's active endpoints once. Returns them in the order given.
pub(crate) async fn write_messages<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    news: Vec<NewMessage>,
) -> DomainResult<Vec<(message::Model, Vec<delivery::Model>)>> {
    write_messages_due(db, clock, news, None).await
}

/// [`write_messages`], the deliveries due at `due` (`None`: now). A test send reserves its
/// delivery this way (due later, so no worker claims it) and attempts it at once itself.
async fn write_messages_due<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    news: Vec<NewMessage>,
    due: Option<chrono::DateTime<chrono::Utc>>,
) -> DomainResult<Vec<(message::Model, Vec<delivery::Model>)>> {
    let now = clock.now();
    let due = due.unwrap_or(now);
    let mut candidates: HashMap<uuid::Uuid, Vec<(uuid::Uuid, Vec<String>)>> = HashMap::new();
    let mut written = Vec::with_capacity(news.len());
    for new in news {
        let tenant = new.tenant.uuid();
        if let std::collections::hash_map::Entry::Vacant(slot) = candidates.entry(tenant) {
            let active: Vec<(uuid::Uuid, Value)> = endpoint::Entity::find()
                .select_only()
                .columns([endpoint::Column::Id, endpoint::Column::FilterTypes])
                .filter(endpoint::Column::TenantId.eq(tenant))
                .filter(endpoint::Column::Status.eq(EndpointStatus::Active))
                .into_tuple()
                .all(db)
                .await?;
            let active = active
                .into_iter()
                .map(|(id, filters)| (id, serde_json::from_value(filters).unwrap_or_default()))
                .collect();
            slot.insert(active);
        }
        let body = encode(&new, now).map_err(|e| DomainError::internal("encoding a message", e))?;
        let message_id = MessageId::new();
        let message = message::Model {
            id: message_id.uuid(),
            tenant_id: tenant,
            // The message's id is its webhook-id: msg_ and a sortable unique id.
            webhook_id: message_id.to_string(),
            event_type: new.event_type,
            payload: Some(body),
            created_at: now,
        };
        let deliveries: Vec<delivery::Model> = candidates[&tenant]
            .iter()
            .filter(|(id, filters)| match &new.endpoint_ids {
                Some(ids) => ids.iter().any(|wanted| wanted.uuid() == *id),
                None => events::wanted(filters, &message.event_type),
            })
            .map(|(endpoint, _)| delivery::Model {
                id: uuid::Uuid::now_v7(),
                tenant_id: tenant,
                message_id: message.id,
                endpoint_id: *endpoint,
                status: DeliveryStatus::Pending,
                attempt_count: 0,
                next_attempt_at: Some(due),
                next_trigger: Trigger::Scheduled.as_str().to_owned(),
                last_error: None,
                created_at: now,
                updated_at: now,
                claimed_until: None,
            })
            .collect();
        written.push((message, deliveries));
    }
    let count = insert_all(db, &written, now, due).await?;
    metrics::counter!("graphhook_deliveries_created_total").increment(count as u64);
    Ok(written)
}

/// Inserts the messages and their deliveries in one statement; returns how many deliveries.
async fn insert_all<C: ConnectionTrait>(
    db: &C,
    written: &[(message::Model, Vec<delivery::Model>)],
    now: chrono::DateTime<chrono::Utc>,
    due: chrono::DateTime<chrono::Utc>,
) -> DomainResult<usize> {
    let messages: Vec<Value> = written
        .iter()
        .map(|(m, _)| {
            json!({
                "id": m.id,
                "tenant_id": m.tenant_id,
                "webhook_id": m.webhook_id,
                "event_type": m.event_type,
                "payload": BASE64.encode(m.payload.as_deref().unwrap_or_default()),
            })
        })
        .collect();
    let deliveries: Vec<Value> = written
        .iter()
        .flat_map(|(_, ds)| ds)
        .map(|d| json!({"id": d.id, "tenant_id": d.tenant_id, "message_id": d.message_id, "endpoint_id": d.endpoint_id}))
        .collect();
    let count = deliveries.len();
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        r#"WITH m AS (
             INSERT INTO messages (id, tenant_id, webhook_id, event_type, payload, created_at)
             SELECT r.id, r.tenant_id, r.webhook_id, r.event_type, decode(r.payload, 'base64'), $3
               FROM jsonb_to_recordset($1::jsonb)
                    AS r(id uuid, tenant_id uuid, webhook_id text, event_type text, payload text))
           INSERT INTO deliveries (id, tenant_id, message_id, endpoint_id, status, attempt_count,
                                   next_attempt_at, next_trigger, last_error, created_at,
                                   updated_at)
           SELECT r.id, r.tenant_id, r.message_id, r.endpoint_id, 'pending', 0, $4, 'scheduled',
                  NULL, $3, $3
             FROM jsonb_to_recordset($2::jsonb)
                  AS r(id uuid, tenant_id uuid, message_id uuid, endpoint_id uuid)"#,
        [
            Value::Array(messages).into(),
            Value::Array(deliveries).into(),
            now.into(),
            due.into(),
        ],
    ))
    .await?;
    Ok(count)
}

async fn enqueue(services: &Services, deliveries: &[delivery::Model]) {
    if let Err(error) = push_deliveries(&services.queues, deliveries).await {
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
pub async fn send_test(services: &Services, endpoint: &endpoint::Model) -> DomainResult<TestSent> {
    if endpoint.status != EndpointStatus::Active {
        return Err(DomainError::conflict("endpoint_not_active", NOT_ACTIVE));
    }
    let id = EndpointId::from(endpoint.id);
    let new = NewMessage {
        verbatim: Vec::new(),
        tenant: TenantId::from(endpoint.tenant_id),
        event_type: "endpoint.test".into(),
        data: json!({"endpointId": id, "message": "This is a test event from Graphhook."}),
        endpoint_ids: Some(vec![id]),
    };
    // Reserved for this request: due only later, so no worker takes it meanwhile (and if this
    // process dies, it is due then and delivered as any other).
    let reserved = services.clock.now() + chrono::Duration::seconds(90);
    let (message, deliveries) =
        write_messages_due(&services.db, &services.clock, vec![new], Some(reserved))
            .await?
            .pop()
            .ok_or_else(|| DomainError::internal("writing a message", anyhow::anyhow!("no row")))?;
    let Some(delivery) = deliveries.first() else {
        return Err(DomainError::conflict("endpoint_not_active", NOT_ACTIVE));
    };
    match attempt_one(
        services,
        crate::delivery::engine::claim::Selector::Reserved(delivery.id),
        false,
    )
    .await?
    {
        (attempted, Some(outcome)) => Ok(TestSent {
            webhook_id: message.webhook_id,
            attempted,
            outcome,
        }),
        (_, None) => Err(DomainError::conflict("endpoint_not_active", NOT_ACTIVE)),
    }
}

const NOT_ACTIVE: &str = "the endpoint is not active: nothing is sent to it until it passes verification (and while it is disabled)";

/// Turns recorded operational events (`endpoint.*`, `tenant.*`, …) into messages for the
/// tenant's endpoints whose filter includes them, oldest first. Returns how many.
pub async fn publish_operational_events(services: &Services, limit: u64) -> DomainResult<usize> {
    use crate::platform::entities::operational_event;
    let txn = services.db.begin().await?;
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
    if count == 0 {
        return Ok(0);
    }
    let news = pending
        .iter()
        .map(|event| NewMessage {
            verbatim: Vec::new(),
            tenant: TenantId::from(event.tenant_id),
            event_type: event.event_type.clone(),
            data: event.payload.get("data").cloned().unwrap_or(Value::Null),
            endpoint_ids: None,
        })
        .collect();
    let written = write_messages(&txn, &services.clock, news).await?;
    operational_event::Entity::update_many()
        .col_expr(
            operational_event::Column::DeliveredAt,
            sea_orm::sea_query::Expr::value(services.clock.now()),
        )
        .filter(operational_event::Column::Id.is_in(pending.iter().map(|e| e.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let deliveries: Vec<delivery::Model> = written.into_iter().flat_map(|(_, d)| d).collect();
    enqueue(services, &deliveries).await;
    Ok(count)
}

/// A message's payload, `{"type", "timestamp", "data"}`, with `data`'s verbatim members written
/// as they came.
fn encode(new: &NewMessage, now: chrono::DateTime<chrono::Utc>) -> serde_json::Result<Vec<u8>> {
    let mut data = serde_json::to_string(&new.data)?;
    if !new.verbatim.is_empty() {
        // `data` is an object (`{…}`): its members, then the verbatim ones, then the `}`.
        if !data.starts_with('{') {
            data = "{}".to_owned();
        }
        data.pop();
        for (name, raw) in &new.verbatim {
            if data.len() > 1 {
                data.push(',');
            }
            data.push_str(&serde_json::to_string(name)?);
            data.push(':');
            data.push_str(raw.get());
        }
        data.push('}');
    }
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        #[serde(rename = "type")]
        event_type: &'a str,
        timestamp: String,
        data: &'a serde_json::value::RawValue,
    }
    let data = serde_json::value::RawValue::from_string(data)?;
    serde_json::to_vec(&Payload {
        event_type: &new.event_type,
        timestamp: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        data: &data,
    })
}

#[cfg(test)]
mod encoding {

    use super::*;

    #[test]
    fn verbatim_members_are_written_byte_for_byte_after_the_others() {
        let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .to_utc();
        let new = NewMessage {
            tenant: crate::platform::ids::TenantId::new(),
            event_type: "graph.message.created".into(),
            data: json!({"subscriptionId": "sub_1", "changeType": "created"}),
            verbatim: vec![
                (
                    "resourceData",
                    raw(r##"{"id":"m","@odata.type":"#Microsoft.Graph.Message","n":1.50}"##),
                ),
                ("content", raw(r#"{"subject":"Caf\u00e9"}"#)),
            ],
            endpoint_ids: None,
        };
        assert_eq!(
            String::from_utf8(encode(&new, now).unwrap()).unwrap(),
            r##"{"type":"graph.message.created","timestamp":"2026-12-07T10:00:00Z","data":{"subscriptionId":"sub_1","changeType":"created","resourceData":{"id":"m","@odata.type":"#Microsoft.Graph.Message","n":1.50},"content":{"subject":"Caf\u00e9"}}}"##
        );
        let empty = NewMessage {
            data: json!({}),
            ..new
        };
        assert!(
            String::from_utf8(encode(&empty, now).unwrap())
                .unwrap()
                .contains(r#""data":{"resourceData":{"#)
        );
    }
}
