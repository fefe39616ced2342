//! One item of an inbound batch, checked and routed: by `subscriptionId` to our subscription
//! and tenant, its `clientState` compared in constant time, its tenant matched, a lifecycle
//! item mapped to its `graph.subscription.*` event, a rich item's validation tokens verified
//! and its content decrypted. What passes becomes a [`Prepared`] event; writing it is the
//! batch's (see [`super::process`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json, value::RawValue};

use super::{rich::Rich, shape};
use crate::{
    delivery::engine::NewMessage,
    graph::microsoft::rich::{DecryptionKey, EncryptedContent},
    graph::subscriptions,
    operator::audit::{self, Actor, NewEntry},
    platform::entities::{
        subscription::{self, DueAction, SubscriptionStatus},
        tenant,
    },
    platform::error::DomainResult,
    platform::ids::{EndpointId, SubscriptionId, TenantId},
    services::Services,
};

/// An item that becomes an event, once its hash is new.
pub(super) struct Prepared {
    pub subscription: subscription::Model,
    /// Covers the whole item (per subscription): Graph's re-deliveries have the same.
    pub hash: Vec<u8>,
    /// Whether the item carries an identity (a notification `id`, or its resource's
    /// `@odata.etag`): such an item is remembered for Graph's whole retry horizon.
    pub identified: bool,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub message: NewMessage,
    /// The upkeep action a lifecycle item asks for, with its trigger.
    pub action: Option<(DueAction, String)>,
}

/// A batch's verdict on its validation tokens, and the decryption keys it needed.
pub(super) struct RichBatch {
    /// The tenants the batch's valid tokens cover, or why they are not trusted.
    pub tenants: Result<HashSet<uuid::Uuid>, &'static str>,
    pub keys: HashMap<String, Option<DecryptionKey>>,
}

/// Subscriptions and tenants looked up once per batch, and the items dropped for a reason the
/// tenant should hear of.
#[derive(Default)]
pub(super) struct Routes {
    subscriptions: HashMap<String, Option<subscription::Model>>,
    tenants: HashMap<uuid::Uuid, Option<tenant::Model>>,
    pub rejections: Rejections,
}

/// Subscriptions looked up per statement.
const LOOKUP_CHUNK: usize = 1_000;

impl Routes {
    /// Looks up every subscription `graph_ids` names that is not known yet, and their tenants,
    /// a statement per thousand: a batch asks Postgres once, however many items it holds.
    pub(super) async fn preload<'a, C: ConnectionTrait>(
        &mut self,
        db: &C,
        graph_ids: impl IntoIterator<Item = &'a str>,
    ) -> DomainResult<()> {
        use sea_orm::{ColumnTrait, QueryFilter};
        let wanted: BTreeSet<&str> = graph_ids
            .into_iter()
            .filter(|id| !self.subscriptions.contains_key(*id))
            .collect();
        let wanted: Vec<&str> = wanted.into_iter().collect();
        for chunk in wanted.chunks(LOOKUP_CHUNK) {
            let found = subscription::Entity::find()
                .filter(subscription::Column::GraphId.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            for id in chunk {
                self.subscriptions.insert((*id).to_owned(), None);
            }
            for row in found {
                if let Some(graph_id) = row.graph_id.clone() {
                    self.subscriptions.insert(graph_id, Some(row));
                }
            }
        }
        let tenants: BTreeSet<uuid::Uuid> = self
            .subscriptions
            .values()
            .flatten()
            .map(|s| s.tenant_id)
            .filter(|t| !self.tenants.contains_key(t))
            .collect();
        if !tenants.is_empty() {
            let found = tenant::Entity::find()
                .filter(tenant::Column::Id.is_in(tenants.iter().copied()))
                .all(db)
                .await?;
            for id in tenants {
                self.tenants.insert(id, None);
            }
            for row in found {
                self.tenants.insert(row.id, Some(row));
            }
        }
        Ok(())
    }

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

/// Items dropped for a reason the tenant should hear of (a wrong `clientState`, a rich item
/// that failed its checks), tallied per subscription: one audit entry each with the count of
/// `items`, however many a forger sent.
#[derive(Default)]
pub(super) struct Rejections(BTreeMap<Rejection, usize>);

/// The audit action, the tenant, the subscription and the reason (rich items).
type Rejection = (&'static str, uuid::Uuid, uuid::Uuid, Option<&'static str>);

impl Rejections {
    fn add(
        &mut self,
        action: &'static str,
        subscription: &subscription::Model,
        reason: Option<&'static str>,
    ) {
        let key = (action, subscription.tenant_id, subscription.id, reason);
        *self.0.entry(key).or_default() += 1;
    }

    /// Writes an audit entry per subscription and reason.
    pub(super) async fn record<C: ConnectionTrait>(
        self,
        db: &C,
        clock: &crate::Clock,
    ) -> DomainResult<()> {
        for ((action, tenant, subscription, reason), items) in self.0 {
            let subscription = SubscriptionId::from(subscription);
            tracing::warn!(%subscription, action, reason, items, "notification items were refused");
            let mut details = json!({"items": items});
            if let Some(reason) = reason {
                details["reason"] = json!(reason);
            }
            let entry = NewEntry::new(Actor::system("ingest"), action)
                .tenant(TenantId::from(tenant))
                .target("subscription", subscription)
                .details(details);
            audit::record(db, clock, entry).await?;
        }
        Ok(())
    }
}

pub(super) async fn verify_tokens(
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
async fn decrypt_item(
    services: &Services,
    rich: &mut RichBatch,
    item: &Value,
) -> DomainResult<Result<Box<RawValue>, &'static str>> {
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
        let key = DecryptionKey::load(&services.db, &services.secret_box, &label).await?;
        rich.keys.insert(label.clone(), key);
    }
    let Some(Some(key)) = rich.keys.get(&label) else {
        return Ok(Err("unknown_certificate"));
    };
    Ok(key.decrypt_raw(&content).map_err(|error| {
        tracing::warn!(%error, "an encrypted item failed to decrypt; dropped");
        "decryption_failed"
    }))
}

/// The item's subscription, once the item has proved it belongs to it: a known, live
/// subscription, the `clientState` it was given (compared in constant time; a mismatch is
/// audited), and the tenant Graph notifies it under.
async fn route(
    services: &Services,
    routes: &mut Routes,
    item: &Value,
) -> DomainResult<Result<subscription::Model, &'static str>> {
    let Some(graph_id) = item.get("subscriptionId").and_then(Value::as_str) else {
        return Ok(Err("malformed"));
    };
    let Some(subscription) = routes.subscription(&services.db, graph_id).await? else {
        return Ok(Err("unknown_subscription"));
    };
    if subscription.status == SubscriptionStatus::Deleted {
        return Ok(Err("subscription_deleted"));
    }
    let presented = item
        .get("clientState")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !subscriptions::client_state_matches(&subscription, presented) {
        let action = "ingest.client_state_mismatch";
        routes.rejections.add(action, &subscription, None);
        return Ok(Err("client_state_mismatch"));
    }
    // An item naming another tenant than the subscription's is not ours to deliver.
    let Some(tenant) = routes.tenant(&services.db, subscription.tenant_id).await? else {
        return Ok(Err("unknown_subscription"));
    };
    // A personal account's subscription is notified under the consumers tenant.
    let notified_under = subscription
        .graph_tenant_id
        .unwrap_or(tenant.entra_tenant_id);
    if let Some(item_tenant) = item.get("tenantId").and_then(Value::as_str)
        && !item_tenant.eq_ignore_ascii_case(&notified_under.to_string())
    {
        return Ok(Err("tenant_mismatch"));
    }
    Ok(Ok(subscription))
}

/// Checks and routes one item: what it becomes, or why it is dropped.
pub(super) async fn prepare(
    services: &Services,
    routes: &mut Routes,
    rich: Option<&mut RichBatch>,
    item: &Value,
    raw: Option<&RawValue>,
    received_at: chrono::DateTime<chrono::Utc>,
) -> DomainResult<Result<Prepared, &'static str>> {
    let subscription = match route(services, routes, item).await? {
        Ok(subscription) => subscription,
        Err(reason) => return Ok(Err(reason)),
    };
    let tenant_id = TenantId::from(subscription.tenant_id);
    let shaped = match item.get("lifecycleEvent").and_then(Value::as_str) {
        Some(event) => shape::lifecycle(item, &subscription, event),
        None => {
            let content = match (item.get("encryptedContent").is_some(), rich) {
                (false, _) => None,
                (true, Some(rich)) => match decrypt_item(services, rich, item).await? {
                    Ok(content) => Some(content),
                    Err(reason) => {
                        if reason != "unknown_certificate" {
                            let action = "ingest.rich_rejected";
                            routes.rejections.add(action, &subscription, Some(reason));
                        }
                        return Ok(Err(reason));
                    }
                },
                (true, None) => return Ok(Err("malformed")),
            };
            shape::change(item, raw, &subscription, content)
        }
    };
    let shaped = match shaped {
        Ok(shaped) => shaped,
        Err(reason) => return Ok(Err(reason)),
    };
    let endpoint_ids: Option<Vec<EndpointId>> = subscription
        .endpoint_ids
        .clone()
        .and_then(|ids| serde_json::from_value(ids).ok());
    let (hash, identified) = shape::identity(item, raw);
    Ok(Ok(Prepared {
        subscription,
        hash,
        identified,
        received_at,
        message: NewMessage {
            tenant: tenant_id,
            event_type: shaped.event_type,
            data: shaped.data,
            verbatim: shaped.verbatim,
            endpoint_ids,
        },
        action: shaped.action,
    }))
}
