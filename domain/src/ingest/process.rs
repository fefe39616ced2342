//! Processing one inbound batch: every item on its own, routed by `subscriptionId` to our
//! subscription and tenant, its `clientState` compared in constant time, re-deliveries dropped,
//! then turned into an event for the tenant's endpoints (the delivery core's message
//! transaction). Lifecycle items become `graph.subscription.*` events the same way.
//!
//! An item becomes an event at most once: its hash is recorded (per subscription) in the same
//! transaction as the message, so processing a batch again, or Graph sending the same item
//! again, delivers nothing twice. Different changes are never merged: the hash covers the whole
//! item, so two real updates of one user are two events.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set, Statement,
    TransactionSession, TransactionTrait,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    audit::{self, Actor, NewEntry},
    deliveries::{self, Deps, NewMessage},
    entities::{
        inbound_batch,
        subscription::{self, SubscriptionStatus},
        tenant,
    },
    error::DomainResult,
    ids::{EndpointId, SubscriptionId, TenantId},
    subscriptions,
};

/// What processing a batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// Items that became an event.
    pub events: usize,
    /// Deliveries those events made.
    pub deliveries: usize,
    /// Items already turned into an event before.
    pub duplicates: usize,
    /// Items dropped, with the reason.
    pub dropped: Vec<&'static str>,
}

#[derive(Deserialize)]
struct Envelope {
    value: Vec<Value>,
}

enum Outcome {
    Event { deliveries: usize },
    Duplicate,
    Dropped(&'static str),
}

/// Processes the batch unless it was already; marks it processed.
#[tracing::instrument(skip(deps), fields(batch = %batch_id))]
pub async fn process_batch<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    batch_id: uuid::Uuid,
) -> DomainResult<Processed> {
    let Some(batch) = inbound_batch::Entity::find_by_id(batch_id)
        .one(deps.db)
        .await?
    else {
        return Ok(Processed::default());
    };
    if batch.processed_at.is_some() {
        return Ok(Processed::default());
    }
    let mut processed = Processed::default();
    let items = match serde_json::from_slice::<Envelope>(&batch.body) {
        Ok(envelope) => envelope.value,
        Err(error) => {
            // The receiver's parse let it through, so this should not happen; keep the reason.
            tracing::warn!(%error, "an inbound batch is not a notification collection");
            mark(
                deps,
                batch,
                Some(format!("not a notification collection: {error}")),
            )
            .await?;
            return Ok(processed);
        }
    };
    let mut routes = Routes::default();
    for item in &items {
        match handle_item(deps, &mut routes, item, batch.received_at).await? {
            Outcome::Event { deliveries } => {
                processed.events += 1;
                processed.deliveries += deliveries;
                metrics::counter!("graphhook_ingest_items_total", "outcome" => "event")
                    .increment(1);
            }
            Outcome::Duplicate => {
                processed.duplicates += 1;
                metrics::counter!("graphhook_ingest_items_total", "outcome" => "duplicate")
                    .increment(1);
            }
            Outcome::Dropped(reason) => {
                processed.dropped.push(reason);
                metrics::counter!("graphhook_ingest_items_total", "outcome" => "dropped")
                    .increment(1);
                metrics::counter!("graphhook_ingest_dropped_total", "reason" => reason)
                    .increment(1);
            }
        }
    }
    let lag = (deps.clock.now() - batch.received_at)
        .num_milliseconds()
        .max(0) as f64
        / 1000.0;
    metrics::histogram!("graphhook_ingest_processing_lag_seconds").record(lag);
    mark(deps, batch, None).await?;
    Ok(processed)
}

async fn mark<C: ConnectionTrait>(
    deps: &Deps<'_, C>,
    batch: inbound_batch::Model,
    error: Option<String>,
) -> DomainResult<()> {
    let attempts = batch.attempts + 1;
    let mut active = batch.into_active_model();
    active.processed_at = Set(Some(deps.clock.now()));
    active.attempts = Set(attempts);
    active.last_error = Set(error);
    active.update(deps.db).await?;
    Ok(())
}

/// Subscriptions and tenants looked up once per batch.
#[derive(Default)]
struct Routes {
    subscriptions: HashMap<String, Option<subscription::Model>>,
    tenants: HashMap<uuid::Uuid, Option<tenant::Model>>,
}

impl Routes {
    async fn subscription<C: ConnectionTrait>(
        &mut self,
        db: &C,
        graph_id: &str,
    ) -> DomainResult<Option<subscription::Model>> {
        use sea_orm::{ColumnTrait, QueryFilter};
        if let Some(found) = self.subscriptions.get(graph_id) {
            return Ok(found.clone());
        }
        let found = subscription::Entity::find()
            .filter(subscription::Column::GraphId.eq(graph_id))
            .one(db)
            .await?;
        self.subscriptions
            .insert(graph_id.to_owned(), found.clone());
        Ok(found)
    }

    async fn tenant<C: ConnectionTrait>(
        &mut self,
        db: &C,
        id: uuid::Uuid,
    ) -> DomainResult<Option<tenant::Model>> {
        if let Some(found) = self.tenants.get(&id) {
            return Ok(found.clone());
        }
        let found = tenant::Entity::find_by_id(id).one(db).await?;
        self.tenants.insert(id, found.clone());
        Ok(found)
    }
}

fn lifecycle_event_type(event: &str) -> Option<&'static str> {
    match event {
        "reauthorizationRequired" => Some("graph.subscription.reauthorization_required"),
        "subscriptionRemoved" => Some("graph.subscription.removed"),
        "missed" => Some("graph.subscription.missed"),
        _ => None,
    }
}

async fn handle_item<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    routes: &mut Routes,
    item: &Value,
    received_at: chrono::DateTime<chrono::Utc>,
) -> DomainResult<Outcome> {
    let Some(graph_id) = item.get("subscriptionId").and_then(Value::as_str) else {
        return Ok(Outcome::Dropped("malformed"));
    };
    let Some(subscription) = routes.subscription(deps.db, graph_id).await? else {
        return Ok(Outcome::Dropped("unknown_subscription"));
    };
    if subscription.status == SubscriptionStatus::Deleted {
        return Ok(Outcome::Dropped("subscription_deleted"));
    }
    let tenant_id = TenantId::from(subscription.tenant_id);
    let subscription_id = SubscriptionId::from(subscription.id);
    let presented = item
        .get("clientState")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !subscriptions::client_state_matches(&subscription, presented) {
        tracing::warn!(subscription = %subscription_id, "an item's clientState does not match; dropped");
        audit::record(
            deps.db,
            deps.clock,
            NewEntry::new(Actor::system("ingest"), "ingest.client_state_mismatch")
                .tenant(tenant_id)
                .target("subscription", subscription_id),
        )
        .await?;
        return Ok(Outcome::Dropped("client_state_mismatch"));
    }
    // An item naming another tenant than the subscription's is not ours to deliver.
    let Some(tenant) = routes.tenant(deps.db, subscription.tenant_id).await? else {
        return Ok(Outcome::Dropped("unknown_subscription"));
    };
    if let Some(item_tenant) = item.get("tenantId").and_then(Value::as_str)
        && !item_tenant.eq_ignore_ascii_case(&tenant.entra_tenant_id.to_string())
    {
        return Ok(Outcome::Dropped("tenant_mismatch"));
    }
    let (event_type, data) = match item.get("lifecycleEvent").and_then(Value::as_str) {
        Some(event) => {
            let Some(event_type) = lifecycle_event_type(event) else {
                tracing::info!(event, "an unknown lifecycle event; ignored");
                return Ok(Outcome::Dropped("unknown_lifecycle_event"));
            };
            (
                event_type.to_owned(),
                json!({
                    "subscriptionId": subscription_id,
                    "resource": subscription.resource,
                    "lifecycleEvent": event,
                    "tenantId": item.get("tenantId"),
                    "subscriptionExpirationDateTime": item.get("subscriptionExpirationDateTime"),
                }),
            )
        }
        None => {
            if item.get("encryptedContent").is_some() {
                return Ok(Outcome::Dropped("rich_unverified"));
            }
            let change_type = item
                .get("changeType")
                .and_then(Value::as_str)
                .filter(|c| matches!(*c, "created" | "updated" | "deleted"));
            let Some(change_type) = change_type else {
                return Ok(Outcome::Dropped("malformed"));
            };
            (
                format!("graph.{}.{change_type}", subscription.kind),
                json!({
                    "subscriptionId": subscription_id,
                    "resource": item.get("resource"),
                    "changeType": change_type,
                    "resourceData": item.get("resourceData"),
                    "tenantId": item.get("tenantId"),
                }),
            )
        }
    };
    let endpoint_ids: Option<Vec<EndpointId>> = subscription
        .endpoint_ids
        .clone()
        .and_then(|ids| serde_json::from_value(ids).ok());
    let hash = Sha256::digest(serde_json::to_vec(item).unwrap_or_default()).to_vec();
    let txn = deps.db.begin().await?;
    let remembered = txn
        .execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO inbound_items (subscription_id, item_hash, tenant_id, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [
                subscription.id.into(),
                hash.into(),
                subscription.tenant_id.into(),
                received_at.into(),
            ],
        ))
        .await?;
    if remembered.rows_affected() == 0 {
        return Ok(Outcome::Duplicate);
    }
    let inner = Deps {
        db: &txn,
        clock: deps.clock,
        sender: deps.sender,
        secret_box: deps.secret_box,
        queues: deps.queues,
        flow: deps.flow,
        auto_disable_after: deps.auto_disable_after,
    };
    let (_, created) = deliveries::write_message(
        &inner,
        NewMessage {
            tenant: tenant_id,
            event_type,
            data,
            endpoint_ids,
        },
    )
    .await?;
    txn.commit().await?;
    if let Err(error) = deliveries::push_deliveries(deps.queues, &created).await {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
    }
    Ok(Outcome::Event {
        deliveries: created.len(),
    })
}

/// Forgets the items seen longer ago than `dedup`, and processed batches as old, in batches of
/// `batch` rows. Returns how many rows it removed.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    clock: &crate::Clock,
    dedup: chrono::Duration,
    batch: u64,
) -> DomainResult<u64> {
    let before = clock.now() - dedup;
    let backend = db.get_database_backend();
    let items = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM inbound_items WHERE ctid IN \
             (SELECT ctid FROM inbound_items WHERE received_at < $1 LIMIT $2)",
            [before.into(), (batch as i64).into()],
        ))
        .await?
        .rows_affected();
    let batches = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM inbound_batches WHERE id IN \
             (SELECT id FROM inbound_batches WHERE processed_at < $1 LIMIT $2)",
            [before.into(), (batch as i64).into()],
        ))
        .await?
        .rows_affected();
    Ok(items + batches)
}
