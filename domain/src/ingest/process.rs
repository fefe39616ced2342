//! Processing one inbound batch: every item on its own, routed by `subscriptionId` to our
//! subscription and tenant, its `clientState` compared in constant time, re-deliveries dropped,
//! then turned into an event for the tenant's endpoints (the delivery core's message
//! transaction). Lifecycle items become `graph.subscription.*` events the same way.
//!
//! An item becomes an event at most once: its hash is recorded (per subscription) in the same
//! transaction as the message, so processing a batch again, or Graph sending the same item
//! again, delivers nothing twice. Different changes are never merged: the hash covers the whole
//! item, so two real updates of one user are two events.

use std::collections::{HashMap, HashSet};

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
        subscription::{self, DueAction, SubscriptionStatus},
        tenant,
    },
    error::DomainResult,
    ids::{EndpointId, SubscriptionId, TenantId},
    microsoft::rich::{DecryptionKey, EncryptedContent, Expected, JwksCache},
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
    /// Lifecycle items that asked for an action on their subscription (reauthorize, recreate).
    pub actions: usize,
}

#[derive(Deserialize)]
struct Envelope {
    value: Vec<Value>,
    #[serde(default, rename = "validationTokens")]
    validation_tokens: Vec<String>,
}

/// What verifying rich notifications needs: Entra's signing keys (cached) and who we are.
pub struct Rich {
    pub jwks: std::sync::Arc<JwksCache>,
    /// `None` without a configured client id: rich items cannot be verified, so are dropped.
    pub expected: Option<Expected>,
}

impl Rich {
    pub fn from_settings(settings: &crate::config::MicrosoftSettings) -> anyhow::Result<Self> {
        Ok(Self {
            jwks: std::sync::Arc::new(JwksCache::new(settings)?),
            expected: Expected::from_settings(settings),
        })
    }
}

/// A batch's verdict on its validation tokens, and the decryption keys it needed.
struct RichBatch {
    /// The tenants the batch's valid tokens cover, or why they are not trusted.
    tenants: Result<HashSet<uuid::Uuid>, &'static str>,
    keys: HashMap<String, Option<DecryptionKey>>,
}

enum Outcome {
    Event { deliveries: usize, action: bool },
    Duplicate,
    Dropped(&'static str),
}

/// Processes the batch unless it was already; marks it processed.
#[tracing::instrument(skip(deps, rich), fields(batch = %batch_id))]
pub async fn process_batch<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    rich: &Rich,
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
    let envelope = match serde_json::from_slice::<Envelope>(&batch.body) {
        Ok(envelope) => envelope,
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
    // Every validation token of a POST is checked once, if any item is encrypted; one that
    // fails makes the whole POST's rich items suspect.
    let mut rich_batch = if envelope
        .value
        .iter()
        .any(|i| i.get("encryptedContent").is_some())
    {
        Some(RichBatch {
            tenants: verify_tokens(rich, &envelope.validation_tokens, deps.clock.now()).await,
            keys: HashMap::new(),
        })
    } else {
        None
    };
    let mut routes = Routes::default();
    for item in &envelope.value {
        match handle_item(
            deps,
            &mut routes,
            rich_batch.as_mut(),
            item,
            batch.received_at,
        )
        .await?
        {
            Outcome::Event { deliveries, action } => {
                processed.events += 1;
                processed.actions += usize::from(action);
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

/// A lifecycle event's event type, and the action it asks of the upkeep (`missed` asks none
/// beyond the event: the tenant resyncs).
fn lifecycle_event_type(event: &str) -> Option<(&'static str, Option<DueAction>)> {
    match event {
        "reauthorizationRequired" => Some((
            "graph.subscription.reauthorization_required",
            Some(DueAction::Reauthorize),
        )),
        "subscriptionRemoved" => Some(("graph.subscription.removed", Some(DueAction::Recreate))),
        "missed" => Some(("graph.subscription.missed", None)),
        _ => None,
    }
}

async fn verify_tokens(
    rich: &Rich,
    tokens: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HashSet<uuid::Uuid>, &'static str> {
    let Some(expected) = &rich.expected else {
        return Err("rich_unverifiable");
    };
    if tokens.is_empty() {
        return Err("validation_token_missing");
    }
    match rich.jwks.validate(tokens, expected, now).await {
        Ok(valid) => Ok(valid.into_iter().map(|t| t.tenant_id).collect()),
        Err(error) => {
            tracing::warn!(%error, "a validation token failed; the POST's rich items are dropped");
            Err("validation_token_invalid")
        }
    }
}

/// The decrypted resource of a rich item, or why it is dropped.
async fn decrypt_item<C: ConnectionTrait>(
    deps: &Deps<'_, C>,
    rich: &mut RichBatch,
    item: &Value,
) -> DomainResult<Result<Value, &'static str>> {
    let tenants = match &rich.tenants {
        Ok(tenants) => tenants,
        Err(reason) => return Ok(Err(reason)),
    };
    let covered = item
        .get("tenantId")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<uuid::Uuid>().ok())
        .is_some_and(|t| tenants.contains(&t));
    if !covered {
        return Ok(Err("validation_token_missing"));
    }
    let Some(content) = item
        .get("encryptedContent")
        .cloned()
        .and_then(|c| serde_json::from_value::<EncryptedContent>(c).ok())
    else {
        return Ok(Err("malformed"));
    };
    let label = content.encryption_certificate_id.clone();
    if !rich.keys.contains_key(&label) {
        let key = DecryptionKey::load(deps.db, deps.secret_box, &label).await?;
        rich.keys.insert(label.clone(), key);
    }
    let Some(Some(key)) = rich.keys.get(&label) else {
        return Ok(Err("unknown_certificate"));
    };
    Ok(key.decrypt(&content).map_err(|error| {
        tracing::warn!(%error, "an encrypted item failed to decrypt; dropped");
        "decryption_failed"
    }))
}

async fn handle_item<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    routes: &mut Routes,
    rich: Option<&mut RichBatch>,
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
    let mut action = None;
    let (event_type, data) = match item.get("lifecycleEvent").and_then(Value::as_str) {
        Some(event) => {
            let Some((event_type, wanted)) = lifecycle_event_type(event) else {
                tracing::info!(event, "an unknown lifecycle event; ignored");
                return Ok(Outcome::Dropped("unknown_lifecycle_event"));
            };
            action = wanted.map(|a| (a, format!("lifecycle:{event}")));
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
            let content = match (item.get("encryptedContent").is_some(), rich) {
                (false, _) => None,
                (true, Some(rich)) => match decrypt_item(deps, rich, item).await? {
                    Ok(content) => Some(content),
                    Err(reason) => {
                        if reason != "unknown_certificate" {
                            audit::record(
                                deps.db,
                                deps.clock,
                                NewEntry::new(Actor::system("ingest"), "ingest.rich_rejected")
                                    .tenant(tenant_id)
                                    .target("subscription", subscription_id)
                                    .details(json!({"reason": reason})),
                            )
                            .await?;
                        }
                        return Ok(Outcome::Dropped(reason));
                    }
                },
                (true, None) => return Ok(Outcome::Dropped("malformed")),
            };
            let change_type = item
                .get("changeType")
                .and_then(Value::as_str)
                .filter(|c| matches!(*c, "created" | "updated" | "deleted"));
            let Some(change_type) = change_type else {
                return Ok(Outcome::Dropped("malformed"));
            };
            let mut data = json!({
                "subscriptionId": subscription_id,
                "resource": item.get("resource"),
                "changeType": change_type,
                "resourceData": item.get("resourceData"),
                "tenantId": item.get("tenantId"),
            });
            if let (Some(content), Some(data)) = (content, data.as_object_mut()) {
                data.insert("content".into(), content);
            }
            (format!("graph.{}.{change_type}", subscription.kind), data)
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
    let (_, created) = deliveries::write_message(
        &txn,
        deps.clock,
        NewMessage {
            tenant: tenant_id,
            event_type,
            data,
            endpoint_ids,
        },
    )
    .await?;
    // The action the event asks for is due in the same transaction: it cannot be lost.
    let mut requested = false;
    if let Some((action, trigger)) = &action {
        requested =
            subscriptions::upkeep::request(&txn, deps.clock, &subscription, *action, trigger)
                .await?;
    }
    txn.commit().await?;
    if let Err(error) = deliveries::push_deliveries(deps.queues, &created).await {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
    }
    Ok(Outcome::Event {
        deliveries: created.len(),
        action: requested,
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
