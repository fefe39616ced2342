//! Pausing and resuming subscriptions while Graph cannot be asked anything in their name: a
//! tenant's when its consent goes and comes back (here), a connection's when its user must
//! connect again and does ([`crate::tenancy::connections::lifecycle`]). A paused subscription
//! holds no lease; resuming makes `resume` due now (renewed, or recreated if Graph dropped it
//! meanwhile; `graph.subscription.resumed` when that succeeds).

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait, UpdateMany,
    sea_query::{Expr, ExprTrait, IntoCondition},
};
use serde_json::json;
use uuid::Uuid;

use super::upkeep::{Recorded, emit, record};
use crate::{
    delivery::event_catalogue::Event,
    delivery::events,
    platform::clock::Clock,
    platform::entities::subscription::{self, DueAction, SubscriptionStatus},
    platform::error::DomainResult,
    platform::ids::TenantId,
};

/// Applies `change` (and the time of it) to the subscriptions `which` picks among those in
/// `from`. Returns them as they were, oldest first.
async fn change_where<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    which: Condition,
    from: SubscriptionStatus,
    change: UpdateMany<subscription::Entity>,
) -> DomainResult<Vec<subscription::Model>> {
    let picked = subscription::Entity::find()
        .filter(which.clone())
        .filter(subscription::Column::Status.eq(from))
        .order_by_asc(subscription::Column::Id)
        .all(db)
        .await?;
    change
        .col_expr(subscription::Column::UpdatedAt, Expr::value(now))
        .filter(which)
        .filter(subscription::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(picked)
}

/// Pauses the active subscriptions `which` picks: each gives up its lease and keeps `reason` as
/// its last error. Returns them as they were, oldest first.
pub async fn pause_where<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    which: impl IntoCondition,
    reason: &str,
) -> DomainResult<Vec<subscription::Model>> {
    let change = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value("paused"))
        .col_expr(subscription::Column::LastError, Expr::value(reason))
        .col_expr(subscription::Column::LeaseToken, Expr::value(None::<Uuid>))
        .col_expr(
            subscription::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        );
    let active = SubscriptionStatus::Active;
    change_where(db, now, which.into_condition(), active, change).await
}

/// Makes the paused subscriptions `which` picks active again, with `resume` due now and their
/// failures forgotten. Returns them as they were, oldest first.
pub async fn resume_where<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    which: impl IntoCondition,
) -> DomainResult<Vec<subscription::Model>> {
    let change = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value("active"))
        .col_expr(
            subscription::Column::DueAction,
            Expr::value(DueAction::Resume.as_str()),
        )
        .col_expr(subscription::Column::DueAt, Expr::value(now))
        .col_expr(
            subscription::Column::ActionVersion,
            Expr::col(subscription::Column::ActionVersion).add(1),
        )
        .col_expr(subscription::Column::Failures, Expr::value(0));
    let paused = SubscriptionStatus::Paused;
    change_where(db, now, which.into_condition(), paused, change).await
}

/// Consent is gone: every active subscription of the tenant is paused (Graph cannot be asked
/// anything in its name), with `graph.subscription.paused` and `tenant.consent_revoked`.
/// Runs inside the caller's transaction.
pub async fn pause_tenant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    tenant: TenantId,
    reason: &str,
) -> DomainResult<usize> {
    let of_tenant = subscription::Column::TenantId.eq(tenant.uuid());
    let active = pause_where(db, clock.now(), of_tenant, reason).await?;
    events::record(
        db,
        clock,
        tenant,
        None,
        Event::TenantConsentRevoked.name(),
        json!({"reason": reason, "pausedSubscriptions": active.len()}),
    )
    .await?;
    paused(db, clock, &active, "consent_revoked", reason).await?;
    Ok(active.len())
}

/// App-only subscriptions, and those of connections whose user is still connected (the others
/// wait for their user: [`crate::tenancy::connections::lifecycle::restored`]).
fn held_by_active_connection() -> Condition {
    Condition::any()
        .add(subscription::Column::ConnectionId.is_null())
        .add(Expr::cust(
            "subscriptions.connection_id IN (SELECT id FROM connections WHERE status = 'active')",
        ))
}

/// Consent is back: every paused subscription of the tenant becomes active with `resume` due
/// now, and `tenant.consent_restored` is recorded. Runs inside the caller's transaction.
pub async fn resume_tenant<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    tenant: TenantId,
) -> DomainResult<usize> {
    let of_tenant = Condition::all()
        .add(subscription::Column::TenantId.eq(tenant.uuid()))
        .add(held_by_active_connection());
    let paused = resume_where(db, clock.now(), of_tenant).await?;
    events::record(
        db,
        clock,
        tenant,
        None,
        Event::TenantConsentRestored.name(),
        json!({"resumingSubscriptions": paused.len()}),
    )
    .await?;
    resuming(db, clock, &paused, "consent_restored").await?;
    Ok(paused.len())
}

/// What pausing `subscriptions` for `trigger` leaves behind: an upkeep record of each (with
/// the `reason`) and a `graph.subscription.paused` event naming the trigger. Shared by a
/// tenant's revoked consent and a connection whose user must connect again.
pub async fn paused<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    subscriptions: &[subscription::Model],
    trigger: &str,
    reason: &str,
) -> DomainResult<()> {
    for subscription in subscriptions {
        let detail = Some(reason.to_owned());
        let line = Recorded::of(subscription, "pause", trigger, "succeeded", detail);
        record(db, clock, subscription, line).await?;
        let data = json!({"status": "paused", "reason": trigger});
        emit(
            db,
            clock,
            subscription,
            Event::SubscriptionPaused.name(),
            data,
        )
        .await?;
    }
    Ok(())
}

/// An upkeep record of each of `subscriptions` being resumed for `trigger` (the resume itself
/// is due work: its success emits `graph.subscription.resumed`).
pub async fn resuming<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    subscriptions: &[subscription::Model],
    trigger: &str,
) -> DomainResult<()> {
    for subscription in subscriptions {
        let line = Recorded::of(subscription, "resume", trigger, "requested", None);
        record(db, clock, subscription, line).await?;
    }
    Ok(())
}
