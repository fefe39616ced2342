//! Keeping subscriptions alive without the tenant's help: what is due and who acts on it.
//!
//! Every active subscription has a due action (`renew` on its schedule, or `reauthorize`,
//! `recreate`, `resume` when a lifecycle event or a consent change asks) and a time. The
//! scheduler hands due subscriptions out with a lease, through one conditional UPDATE, so any
//! number of worker processes never act on one subscription twice at once; at most
//! `subscriptions.upkeep_per_tenant` of a tenant's are leased at a time. A worker that dies
//! leaves its lease to expire, and the subscription is handed out again. What the action does
//! at Graph is [`super::act`]'s.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    delivery::engine::{self, NewMessage},
    platform::clock::Clock,
    platform::entities::{
        delivery,
        subscription::{self, DueAction},
        subscription_action,
    },
    platform::error::DomainResult,
    platform::ids::{EndpointId, SubscriptionId, TenantId},
};

/// A subscription handed to a worker, and the lease it holds it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub subscription: Uuid,
    pub lease: Uuid,
}

/// Hands out up to `limit` due subscriptions (of one tenant, or of all), leasing each until
/// `lease_until`, keeping at most `per_tenant` of a tenant's leased at once. Tenants take turns:
/// each tenant's first due subscription comes before any tenant's second.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    per_tenant: u32,
    limit: u32,
    tenant: Option<Uuid>,
) -> DomainResult<Vec<Claimed>> {
    let sql = r"
WITH busy AS (
    SELECT tenant_id, count(*) AS n FROM subscriptions
     WHERE lease_token IS NOT NULL AND lease_until > $1
       AND ($5::uuid IS NULL OR tenant_id = $5)
     GROUP BY tenant_id
), ranked AS (
    SELECT s.id, s.tenant_id,
           row_number() OVER (PARTITION BY s.tenant_id ORDER BY s.due_at, s.id) AS rn
      FROM subscriptions s
      JOIN tenants t ON t.id = s.tenant_id
      LEFT JOIN graph_throttles g ON g.tenant_id = s.tenant_id
     WHERE s.status = 'active' AND t.status IN ('active', 'suspended')
       AND s.due_at <= $1
       AND (s.lease_until IS NULL OR s.lease_until <= $1)
       AND (g.until IS NULL OR g.until <= $1)
       AND ($5::uuid IS NULL OR s.tenant_id = $5)
), picked AS (
    SELECT r.id FROM ranked r LEFT JOIN busy b ON b.tenant_id = r.tenant_id
     WHERE r.rn + coalesce(b.n, 0) <= $3
     ORDER BY r.rn, r.id
     LIMIT $4
)
UPDATE subscriptions s
   SET lease_token = gen_random_uuid(), lease_until = $2
  FROM picked
 WHERE s.id = picked.id AND s.status = 'active'
   AND (s.lease_until IS NULL OR s.lease_until <= $1)
RETURNING s.id, s.lease_token";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [
                now.into(),
                lease_until.into(),
                i64::from(per_tenant).into(),
                i64::from(limit).into(),
                tenant.into(),
            ],
        ))
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        claimed.push(Claimed {
            subscription: row.try_get("", "id")?,
            lease: row.try_get("", "lease_token")?,
        });
    }
    Ok(claimed)
}

/// Graph throttled the tenant: none of its upkeep is handed out before `until`.
pub async fn throttle<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    until: DateTime<Utc>,
) -> DomainResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO graph_throttles (tenant_id, until) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET until = greatest(graph_throttles.until, excluded.until)",
        [tenant.into(), until.into()],
    ))
    .await?;
    Ok(())
}

/// Gives a lease back without changing anything else.
pub async fn release<C: ConnectionTrait>(db: &C, claimed: &Claimed) -> DomainResult<()> {
    subscription::Entity::update_many()
        .col_expr(subscription::Column::LeaseToken, Expr::value(None::<Uuid>))
        .col_expr(
            subscription::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(subscription::Column::Id.eq(claimed.subscription))
        .filter(subscription::Column::LeaseToken.eq(claimed.lease))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks for `action` on an active subscription now (a stronger action already due is kept:
/// recreate > resume > reauthorize > renew), and records the request in its history. Returns
/// whether the subscription was active.
pub async fn request<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    subscription: &subscription::Model,
    action: DueAction,
    trigger: &str,
) -> DomainResult<bool> {
    let now = clock.now();
    let updated = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r"UPDATE subscriptions
                 SET due_action = CASE
                         WHEN array_position(ARRAY['renew','reauthorize','resume','recreate'], due_action)
                            > array_position(ARRAY['renew','reauthorize','resume','recreate'], $2)
                         THEN due_action ELSE $2 END,
                     due_at = $3, action_version = action_version + 1, updated_at = $3
               WHERE id = $1 AND status = 'active'",
            [
                subscription.id.into(),
                action.as_str().into(),
                now.into(),
            ],
        ))
        .await?
        .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    let line = Recorded::of(subscription, action.as_str(), trigger, "requested", None);
    record(db, clock, subscription, line).await?;
    Ok(true)
}

/// One line of a subscription's history.
pub struct Recorded<'a> {
    pub action: &'a str,
    pub trigger: &'a str,
    pub outcome: &'a str,
    pub graph_id: Option<&'a str>,
    pub detail: Option<String>,
}

impl<'a> Recorded<'a> {
    /// A line about `subscription` under the Graph id it has.
    pub fn of(
        subscription: &'a subscription::Model,
        action: &'a str,
        trigger: &'a str,
        outcome: &'a str,
        detail: Option<String>,
    ) -> Self {
        Self {
            action,
            trigger,
            outcome,
            graph_id: subscription.graph_id.as_deref(),
            detail,
        }
    }
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    subscription: &subscription::Model,
    line: Recorded<'_>,
) -> DomainResult<()> {
    use sea_orm::ActiveModelTrait;
    use sea_orm::Set;
    subscription_action::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(subscription.tenant_id),
        subscription_id: Set(subscription.id),
        action: Set(line.action.to_owned()),
        trigger: Set(line.trigger.to_owned()),
        outcome: Set(line.outcome.to_owned()),
        graph_id: Set(line.graph_id.map(str::to_owned)),
        detail: Set(line.detail),
        created_at: Set(clock.now()),
    }
    .insert(db)
    .await?;
    metrics::counter!(
        "graphhook_subscription_actions_total",
        "action" => line.action.to_owned(),
        "outcome" => line.outcome.to_owned()
    )
    .increment(1);
    Ok(())
}

/// Writes a `graph.subscription.*` event for the subscription's endpoints (or every endpoint
/// whose filter matches); returns the deliveries, due now, for the caller to enqueue (the
/// sweeper enqueues them otherwise).
pub async fn emit<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    clock: &Clock,
    subscription: &subscription::Model,
    event_type: &str,
    extra: serde_json::Value,
) -> DomainResult<Vec<delivery::Model>> {
    let mut data = json!({
        "subscriptionId": SubscriptionId::from(subscription.id),
        "resource": subscription.resource,
        "kind": subscription.kind,
    });
    if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    if let (Some(data), Some(connection)) = (data.as_object_mut(), subscription.connection_id) {
        data.insert(
            "connectionId".into(),
            json!(crate::platform::ids::ConnectionId::from(connection)),
        );
    }
    let endpoint_ids: Option<Vec<EndpointId>> = subscription
        .endpoint_ids
        .clone()
        .and_then(|ids| serde_json::from_value(ids).ok());
    let (_, created) = engine::write_message(
        db,
        clock,
        NewMessage {
            verbatim: Vec::new(),
            tenant: TenantId::from(subscription.tenant_id),
            event_type: event_type.to_owned(),
            data,
            endpoint_ids,
        },
    )
    .await?;
    Ok(created)
}

/// A subscription's history, oldest first, after `after`.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    subscription: SubscriptionId,
    after: Option<Uuid>,
    limit: u64,
) -> DomainResult<Vec<subscription_action::Model>> {
    let mut query = subscription_action::Entity::find()
        .filter(subscription_action::Column::TenantId.eq(tenant.uuid()))
        .filter(subscription_action::Column::SubscriptionId.eq(subscription.uuid()));
    if let Some(after) = after {
        query = query.filter(subscription_action::Column::Id.gt(after));
    }
    Ok(query
        .order_by_asc(subscription_action::Column::Id)
        .limit(limit.clamp(1, 200))
        .all(db)
        .await?)
}

/// The earliest expiry among active subscriptions.
pub async fn nearest_expiry<C: ConnectionTrait>(db: &C) -> DomainResult<Option<DateTime<Utc>>> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT min(expires_at) AS nearest FROM subscriptions WHERE status = 'active'",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "nearest")?,
        None => None,
    })
}

/// Forgets history older than `before`, at most `batch` rows. Returns how many it removed.
pub async fn prune_history<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
    batch: u64,
) -> DomainResult<u64> {
    Ok(db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "DELETE FROM subscription_actions WHERE id IN \
             (SELECT id FROM subscription_actions WHERE created_at < $1 LIMIT $2)",
            [before.into(), (batch as i64).into()],
        ))
        .await?
        .rows_affected())
}
