//! What operators do to tenants and subscriptions: find tenants, suspend and resume them,
//! offboard them (also what a tenant's own `DELETE /api/v1/tenant` does), list subscriptions
//! across tenants and force a renewal. Every change is audited under the acting operator (or
//! the tenant's key).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Statement,
    TransactionSession, TransactionTrait,
    sea_query::{Expr, extension::postgres::PgExpr},
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    delivery::engine::HELD_WHILE_SUSPENDED,
    graph::subscriptions::upkeep,
    operator::audit::{self, Actor, NewEntry},
    platform::clock::Clock,
    platform::entities::{
        api_key, endpoint,
        subscription::{self, DueAction, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{SubscriptionId, TenantId},
    platform::paging::oldest_first,
    tenancy::tenants,
};

mod offboarding;

pub use offboarding::{Offboarded, offboard, purge_offboarded};

/// Which tenants to list.
#[derive(Debug, Default)]
pub struct TenantFilter {
    /// Part of the name (any case), or the exact Entra tenant id.
    pub search: Option<String>,
    pub status: Option<TenantStatus>,
    pub after: Option<Uuid>,
}

/// A tenant in the operator's list.
#[derive(Debug)]
pub struct TenantSummary {
    pub tenant: tenant::Model,
    pub subscriptions: u64,
    pub endpoints: u64,
}

pub async fn list_tenants<C: ConnectionTrait>(
    db: &C,
    filter: &TenantFilter,
    limit: u64,
) -> DomainResult<Vec<TenantSummary>> {
    let mut query = tenant::Entity::find();
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        query = match search.parse::<Uuid>() {
            Ok(entra) => query.filter(tenant::Column::EntraTenantId.eq(entra)),
            Err(_) => query.filter(Expr::col(tenant::Column::Name).ilike(format!(
                "%{}%",
                crate::platform::paging::escape_like(search)
            ))),
        };
    }
    if let Some(status) = filter.status {
        query = query.filter(tenant::Column::Status.eq(status));
    }
    let tenants = oldest_first(db, query, tenant::Column::Id, filter.after, limit).await?;
    let mut out = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let subscriptions = subscription::Entity::find()
            .filter(subscription::Column::TenantId.eq(tenant.id))
            .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
            .count(db)
            .await?;
        let endpoints = endpoint::Entity::find()
            .filter(endpoint::Column::TenantId.eq(tenant.id))
            .count(db)
            .await?;
        out.push(TenantSummary {
            tenant,
            subscriptions,
            endpoints,
        });
    }
    Ok(out)
}

/// Deliveries of a tenant over the last day, and what waits.
#[derive(Debug, Default, Serialize)]
pub struct DeliveryHealth {
    pub attempts_24h: i64,
    pub succeeded_24h: i64,
    pub failed_24h: i64,
    /// Deliveries not yet delivered (pending, retrying, held).
    pub open_deliveries: i64,
    pub exhausted_24h: i64,
}

pub async fn delivery_health<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> DomainResult<DeliveryHealth> {
    let since = now - Duration::hours(24);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r"SELECT
                (SELECT count(*) FROM attempts WHERE tenant_id = $1 AND created_at >= $2) AS attempts,
                (SELECT count(*) FROM attempts WHERE tenant_id = $1 AND created_at >= $2
                    AND status_code BETWEEN 200 AND 299) AS succeeded,
                (SELECT count(*) FROM deliveries WHERE tenant_id = $1
                    AND status IN ('pending', 'failed')) AS open,
                (SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND status = 'exhausted'
                    AND updated_at >= $2) AS exhausted",
            [tenant.uuid().into(), since.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(DeliveryHealth::default());
    };
    let attempts: i64 = row.try_get("", "attempts")?;
    let succeeded: i64 = row.try_get("", "succeeded")?;
    Ok(DeliveryHealth {
        attempts_24h: attempts,
        succeeded_24h: succeeded,
        failed_24h: attempts - succeeded,
        open_deliveries: row.try_get("", "open")?,
        exhausted_24h: row.try_get("", "exhausted")?,
    })
}

/// The keys of a tenant, newest first (hashes are never shown): the tenant's own listing.
pub async fn api_keys<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> DomainResult<Vec<api_key::Model>> {
    crate::tenancy::api_keys::list(db, tenant).await
}

async fn set_status<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    id: TenantId,
    allowed_from: &[TenantStatus],
    to: TenantStatus,
    reason: Option<String>,
) -> DomainResult<(tenant::Model, TenantStatus)> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let txn = db.begin().await?;
    let found = tenant::Entity::find_by_id(id.uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?;
    let previous = found.status;
    if !allowed_from.contains(&previous) {
        txn.rollback().await?;
        return Err(DomainError::conflict(
            "tenant_status",
            format!(
                "the tenant is {}",
                serde_json::to_value(previous)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        ));
    }
    let now = clock.now();
    let mut active = found.into_active_model();
    active.status = Set(to);
    active.status_reason = Set(reason);
    active.updated_at = Set(now);
    if to == TenantStatus::Offboarded {
        active.offboarded_at = Set(Some(now));
    }
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    Ok((updated, previous))
}

/// The longest reason for a suspension.
const MAX_REASON_CHARS: usize = 500;

/// A suspension's reason, trimmed: it is shown to the tenant in its 403s, so on one line.
fn suspension_reason(reason: &str) -> DomainResult<&str> {
    let reason = reason.trim();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        return Err(DomainError::invalid_field(
            "reason",
            format!("reason must be 1 to {MAX_REASON_CHARS} characters on one line"),
        ));
    }
    Ok(reason)
}

/// Suspends a tenant: its api calls get 403 and its deliveries wait (its subscriptions are
/// still kept alive at Graph, and what Graph sends is still recorded). The reason is checked
/// first (see [`suspension_reason`]).
pub async fn suspend<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    id: TenantId,
    actor: Actor,
    reason: &str,
    request_id: Option<String>,
) -> DomainResult<tenant::Model> {
    let reason = suspension_reason(reason)?;
    let (tenant, previous) = set_status(
        db,
        clock,
        id,
        &[
            TenantStatus::Active,
            TenantStatus::Pending,
            TenantStatus::ConsentRevoked,
        ],
        TenantStatus::Suspended,
        Some(format!("suspended by an operator: {reason}")),
    )
    .await?;
    let entry = NewEntry::new(actor, "tenant.suspended")
        .tenant(id)
        .target("tenant", id)
        .details(json!({"reason": reason, "previous_status": previous}))
        .request_id(request_id);
    audit::record(db, clock, entry).await?;
    Ok(tenant)
}

/// Resumes a suspended tenant: `active` again (or `consent_revoked`, when no consent is in
/// force), and its held deliveries are due now.
pub async fn resume<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    id: TenantId,
    actor: Actor,
    request_id: Option<String>,
) -> DomainResult<tenant::Model> {
    let consented = tenants::current_consent(db, id).await?.is_some();
    let (to, reason) = match consented {
        true => (TenantStatus::Active, None),
        false => (
            TenantStatus::ConsentRevoked,
            Some("no consent is in force; an administrator must consent again".to_owned()),
        ),
    };
    let (tenant, _) = set_status(db, clock, id, &[TenantStatus::Suspended], to, reason).await?;
    let now = clock.now();
    let released = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r"UPDATE deliveries SET next_attempt_at = $2, last_error = NULL, updated_at = $2
               WHERE tenant_id = $1 AND status IN ('pending', 'failed')
                 AND next_attempt_at IS NULL AND last_error = $3",
            [id.uuid().into(), now.into(), HELD_WHILE_SUSPENDED.into()],
        ))
        .await?
        .rows_affected();
    let entry = NewEntry::new(actor, "tenant.resumed")
        .tenant(id)
        .target("tenant", id)
        .details(json!({"status": tenant.status, "released_deliveries": released}))
        .request_id(request_id);
    audit::record(db, clock, entry).await?;
    Ok(tenant)
}

/// Which subscriptions to list across tenants.
#[derive(Debug, Default)]
pub struct SubscriptionFilter {
    pub tenant: Option<TenantId>,
    pub status: Option<SubscriptionStatus>,
    /// Only those expiring before this.
    pub expiring_before: Option<DateTime<Utc>>,
    pub after: Option<Uuid>,
}

/// A subscription in the operator's list, with its tenant's name.
#[derive(Debug)]
pub struct SubscriptionRow {
    pub subscription: subscription::Model,
    pub tenant_name: Option<String>,
}

pub async fn list_subscriptions<C: ConnectionTrait>(
    db: &C,
    filter: &SubscriptionFilter,
    limit: u64,
) -> DomainResult<Vec<SubscriptionRow>> {
    let mut query = subscription::Entity::find();
    if let Some(tenant) = filter.tenant {
        query = query.filter(subscription::Column::TenantId.eq(tenant.uuid()));
    }
    match filter.status {
        Some(status) => query = query.filter(subscription::Column::Status.eq(status)),
        None => {
            query = query.filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted));
        }
    }
    if let Some(before) = filter.expiring_before {
        query = query.filter(subscription::Column::ExpiresAt.lt(before));
    }
    let id = subscription::Column::Id;
    let subscriptions = oldest_first(db, query, id, filter.after, limit).await?;
    let names = tenant_names(db, subscriptions.iter().map(|s| s.tenant_id)).await?;
    Ok(subscriptions
        .into_iter()
        .map(|subscription| SubscriptionRow {
            tenant_name: names.get(&subscription.tenant_id).cloned(),
            subscription,
        })
        .collect())
}

/// The names of these tenants, in one query (those whose data is gone are missing).
pub async fn tenant_names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> DomainResult<HashMap<Uuid, String>> {
    let ids: BTreeSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}

/// Asks for a renewal of an active subscription now (the next tick hands it to a worker).
pub async fn force_renew<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    id: SubscriptionId,
    actor: Actor,
    request_id: Option<String>,
) -> DomainResult<subscription::Model> {
    let sub = subscription::Entity::find_by_id(id.uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("subscription"))?;
    if !upkeep::request(db, clock, &sub, DueAction::Renew, "operator").await? {
        return Err(DomainError::conflict(
            "subscription_not_active",
            "only an active subscription can be renewed",
        ));
    }
    let entry = NewEntry::new(actor, "subscription.renewal_forced")
        .tenant(TenantId::from(sub.tenant_id))
        .target("subscription", id)
        .request_id(request_id);
    audit::record(db, clock, entry).await?;
    Ok(subscription::Entity::find_by_id(id.uuid())
        .one(db)
        .await?
        .unwrap_or(sub))
}
