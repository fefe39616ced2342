//! Processing inbound batches: each item checked and routed on its own (see [`super::item`]),
//! then every item of every batch a job holds written in one transaction: their hashes (per
//! subscription) in one statement, the messages and deliveries of the new ones in another, the
//! upkeep actions lifecycle items ask for, and the batches marked processed. Lifecycle items
//! become `graph.subscription.*` events the same way.
//!
//! An item becomes an event at most once: its hash is recorded in the same transaction as its
//! message, so processing a batch again, or Graph sending the same item again, delivers nothing
//! twice. Different changes are never merged: the hash covers the whole item, so two real
//! updates of one user are two events.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, Statement, TransactionTrait,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    item::{self, Prepared, RichBatch, Routes},
    rich::{Dedup, Rich},
};
use crate::{
    delivery::engine,
    graph::subscriptions,
    platform::entities::{delivery, inbound_batch},
    platform::error::DomainResult,
    services::Services,
};

/// What processing batches did.
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

/// The same body, each item as the bytes Graph sent.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    value: Vec<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct Envelope {
    value: Vec<Value>,
    #[serde(default, rename = "validationTokens")]
    validation_tokens: Vec<String>,
}

/// Processes the batch unless it was already; marks it processed.
pub async fn process_batch(services: &Services, batch_id: uuid::Uuid) -> DomainResult<Processed> {
    process_batches(services, &[batch_id]).await
}

/// Checks and routes one inbound batch's items into `prepared` (dropped ones are counted in
/// `processed`); `false` when the batch is not a notification collection (it is marked so).
async fn prepare_batch(
    services: &Services,
    rich: &Rich,
    batch: inbound_batch::Model,
    routes: &mut Routes,
    prepared: &mut Vec<Prepared>,
    processed: &mut Processed,
) -> DomainResult<bool> {
    let envelope = match serde_json::from_slice::<Envelope>(&batch.body) {
        Ok(envelope) => envelope,
        Err(error) => {
            // The receiver's parse let it through, so this should not happen; keep the reason.
            tracing::warn!(%error, "an inbound batch is not a notification collection");
            let reason = format!("not a notification collection: {error}");
            mark(services, batch, Some(reason)).await?;
            return Ok(false);
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
            tenants: item::verify_tokens(rich, &envelope.validation_tokens, services.clock.now())
                .await,
            keys: HashMap::new(),
        })
    } else {
        None
    };
    let raws = serde_json::from_slice::<RawEnvelope>(&batch.body)
        .map(|e| e.value)
        .unwrap_or_default();
    routes
        .preload(&services.db, envelope.value.iter().filter_map(named))
        .await?;
    let mut dropped = Dropped::default();
    for (n, value) in envelope.value.iter().enumerate() {
        let received_at = batch.received_at;
        let raw = raws.get(n).copied();
        match item::prepare(
            services,
            routes,
            rich_batch.as_mut(),
            value,
            raw,
            received_at,
        )
        .await?
        {
            Ok(item) => prepared.push(item),
            Err(reason) => {
                dropped.add(reason, named(value));
                processed.dropped.push(reason);
            }
        }
    }
    dropped.report(batch.id);
    let lag = (services.clock.now() - batch.received_at)
        .num_milliseconds()
        .max(0) as f64
        / 1000.0;
    metrics::histogram!("graphhook_ingest_processing_lag_seconds").record(lag);
    Ok(true)
}

/// The Graph subscription an item names.
fn named(item: &Value) -> Option<&str> {
    item.get("subscriptionId").and_then(Value::as_str)
}

/// A batch's dropped items, told once: per reason, how many, with a few of Graph's subscription
/// ids (never a `clientState`), so a flood of junk makes one log line, not one per item.
#[derive(Default)]
struct Dropped {
    reasons: std::collections::BTreeMap<&'static str, u64>,
    sample: Vec<String>,
}

/// Subscription ids a batch's drop report names at most.
const DROPPED_SAMPLE: usize = 5;

impl Dropped {
    fn add(&mut self, reason: &'static str, graph_subscription: Option<&str>) {
        *self.reasons.entry(reason).or_default() += 1;
        if self.sample.len() < DROPPED_SAMPLE {
            let id = graph_subscription.unwrap_or_default();
            self.sample.push(id.chars().take(64).collect());
        }
    }

    fn report(self, batch: uuid::Uuid) {
        if self.reasons.is_empty() {
            return;
        }
        let total: u64 = self.reasons.values().sum();
        metrics::counter!("graphhook_ingest_items_total", "outcome" => "dropped").increment(total);
        for (reason, count) in &self.reasons {
            metrics::counter!("graphhook_ingest_dropped_total", "reason" => *reason)
                .increment(*count);
        }
        tracing::info!(
            %batch,
            dropped = total,
            reasons = ?self.reasons,
            graph_subscriptions = ?self.sample,
            "notification items were dropped"
        );
    }
}

/// The batches are processed: they are not handed out again.
async fn mark_processed<C: ConnectionTrait>(
    txn: &C,
    done: Vec<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    inbound_batch::Entity::update_many()
        .col_expr(
            inbound_batch::Column::ProcessedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            inbound_batch::Column::Attempts,
            sea_orm::sea_query::ExprTrait::add(
                sea_orm::sea_query::Expr::col(inbound_batch::Column::Attempts),
                1,
            ),
        )
        .col_expr(
            inbound_batch::Column::LastError,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(inbound_batch::Column::Id.is_in(done))
        .exec(txn)
        .await?;
    Ok(())
}

/// Processes those of the batches not processed yet, all in one transaction; marks them
/// processed.
#[tracing::instrument(level = "debug", skip(services))]
pub async fn process_batches(
    services: &Services,
    batch_ids: &[uuid::Uuid],
) -> DomainResult<Processed> {
    let batches = inbound_batch::Entity::find()
        .filter(inbound_batch::Column::Id.is_in(batch_ids.iter().copied()))
        .filter(inbound_batch::Column::ProcessedAt.is_null())
        .order_by_asc(inbound_batch::Column::ReceivedAt)
        .order_by_asc(inbound_batch::Column::Id)
        .all(&services.db)
        .await?;
    let mut processed = Processed::default();
    let mut routes = Routes::default();
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut done = Vec::with_capacity(batches.len());
    for batch in batches {
        let id = batch.id;
        if prepare_batch(
            services,
            &services.rich,
            batch,
            &mut routes,
            &mut prepared,
            &mut processed,
        )
        .await?
        {
            done.push(id);
        }
    }
    if done.is_empty() {
        return Ok(processed);
    }
    let txn = services.db.begin().await?;
    let fresh = remember(&txn, &prepared, services.rich.dedup).await?;
    let mut news = Vec::new();
    let mut actions = Vec::new();
    for (item, fresh) in prepared.into_iter().zip(fresh) {
        if !fresh {
            processed.duplicates += 1;
            metrics::counter!("graphhook_ingest_items_total", "outcome" => "duplicate")
                .increment(1);
            continue;
        }
        processed.events += 1;
        metrics::counter!("graphhook_ingest_items_total", "outcome" => "event").increment(1);
        if let Some(action) = item.action {
            actions.push((item.subscription, action));
        }
        news.push(item.message);
    }
    let written = engine::write_messages(&txn, &services.clock, news).await?;
    // The actions events ask for are due in the same transaction: they cannot be lost.
    for (subscription, (action, trigger)) in &actions {
        if subscriptions::upkeep::request(&txn, &services.clock, subscription, *action, trigger)
            .await?
        {
            processed.actions += 1;
        }
    }
    routes.rejections.record(&txn, &services.clock).await?;
    mark_processed(&txn, done, services.clock.now()).await?;
    txn.commit().await?;
    let deliveries: Vec<delivery::Model> = written.into_iter().flat_map(|(_, d)| d).collect();
    processed.deliveries = deliveries.len();
    if let Err(error) = engine::push_deliveries(&services.queues, &deliveries).await {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
    }
    Ok(processed)
}

/// Records the items' hashes in one statement; says which of them were new (the first of two
/// equal items in one go is). An item seen before is new again once its window has passed.
async fn remember<C: ConnectionTrait>(
    txn: &C,
    items: &[Prepared],
    dedup: Dedup,
) -> DomainResult<Vec<bool>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let window = match i.identified {
                true => dedup.identified,
                false => dedup.anonymous,
            };
            serde_json::json!({
                "subscription_id": i.subscription.id,
                "item_hash": BASE64.encode(&i.hash),
                "tenant_id": i.subscription.tenant_id,
                "received_at": i.received_at,
                "remember_until": i.received_at + window,
            })
        })
        .collect();
    // One row per item (DO UPDATE may not touch a row twice); a row whose window has passed is
    // taken over by the new sighting, which is then new.
    let inserted = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO inbound_items (subscription_id, item_hash, tenant_id, received_at, remember_until) \
             SELECT DISTINCT ON (r.subscription_id, r.item_hash) \
                    r.subscription_id, decode(r.item_hash, 'base64'), r.tenant_id, r.received_at, r.remember_until \
               FROM jsonb_to_recordset($1::jsonb) \
                    AS r(subscription_id uuid, item_hash text, tenant_id uuid, received_at timestamptz, \
                         remember_until timestamptz) \
             ON CONFLICT (subscription_id, item_hash) DO UPDATE \
                SET received_at = EXCLUDED.received_at, remember_until = EXCLUDED.remember_until \
              WHERE inbound_items.remember_until <= EXCLUDED.received_at \
             RETURNING subscription_id, item_hash",
            [Value::Array(rows).into()],
        ))
        .await?;
    let mut new: HashMap<(uuid::Uuid, Vec<u8>), usize> = HashMap::new();
    for row in inserted {
        let key = (
            row.try_get::<uuid::Uuid>("", "subscription_id")?,
            row.try_get::<Vec<u8>>("", "item_hash")?,
        );
        *new.entry(key).or_default() += 1;
    }
    Ok(items
        .iter()
        .map(|i| {
            let key = (i.subscription.id, i.hash.clone());
            match new.get_mut(&key) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    true
                }
                _ => false,
            }
        })
        .collect())
}

async fn mark(
    services: &Services,
    batch: inbound_batch::Model,
    error: Option<String>,
) -> DomainResult<()> {
    let attempts = batch.attempts + 1;
    let mut active = batch.into_active_model();
    active.processed_at = Set(Some(services.clock.now()));
    active.attempts = Set(attempts);
    active.last_error = Set(error);
    active.update(&services.db).await?;
    Ok(())
}

/// Forgets the items whose window has passed, and batches processed longer ago than `dedup`,
/// in batches of `batch` rows. Returns how many rows it removed.
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
             (SELECT ctid FROM inbound_items WHERE remember_until < $1 LIMIT $2)",
            [clock.now().into(), (batch as i64).into()],
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
