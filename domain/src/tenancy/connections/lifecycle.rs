//! What a connection's state changes do to its subscriptions, as consent changes do to a
//! tenant's ([`crate::graph::subscriptions::upkeep::pause_tenant`]): when only the user can fix the
//! connection, its subscriptions are paused (`graph.subscription.paused` each) and the tenant is
//! told (`connection.reauthorization_required`); when the user connects again they are resumed
//! (renewed, or recreated if Graph dropped them: `graph.subscription.resumed`) and the tenant
//! is told (`connection.restored`). Deleting a connection deletes its subscriptions.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    delivery::event_catalogue::Event,
    delivery::events,
    graph::subscriptions::upkeep,
    operator::audit::{self, Actor, NewEntry},
    platform::clock::Clock,
    platform::entities::{
        connection::{self, ConnectionStatus},
        subscription::{self, DueAction, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{ConnectionId, TenantId},
};

async fn in_status<C: ConnectionTrait>(
    db: &C,
    connection: Uuid,
    status: SubscriptionStatus,
) -> DomainResult<Vec<subscription::Model>> {
    Ok(subscription::Entity::find()
        .filter(subscription::Column::ConnectionId.eq(connection))
        .filter(subscription::Column::Status.eq(status))
        .order_by_asc(subscription::Column::Id)
        .all(db)
        .await?)
}

/// The connection's user must connect again: the connection is `reauthorization_required`, its
/// tokens are dropped and its active subscriptions paused. Runs inside the caller's
/// transaction (the one holding the connection's row).
pub async fn reauthorization_required<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    found: &connection::Model,
    reason: &str,
) -> DomainResult<()> {
    let now = clock.now();
    let mut active: connection::ActiveModel = found.clone().into();
    active.status = Set(ConnectionStatus::ReauthorizationRequired);
    active.last_error = Set(Some(reason.to_owned()));
    active.refresh_token = Set(None);
    active.access_token = Set(None);
    active.access_expires_at = Set(None);
    active.updated_at = Set(now);
    active.update(db).await?;
    let paused = in_status(db, found.id, SubscriptionStatus::Active).await?;
    set_status(
        db,
        now,
        found.id,
        SubscriptionStatus::Active,
        SubscriptionStatus::Paused,
        Some(reason),
    )
    .await?;
    let tenant = TenantId::from(found.tenant_id);
    let id = ConnectionId::from(found.id);
    events::record(
        db,
        clock,
        tenant,
        None,
        Event::ConnectionReauthorizationRequired.name(),
        json!({
            "connectionId": id,
            "account": found.account,
            "username": found.username,
            "reason": reason,
            "pausedSubscriptions": paused.len(),
            "reconnect": format!("POST /api/v1/connections/{id}/reconnect"),
        }),
    )
    .await?;
    upkeep::paused(
        db,
        clock,
        &paused,
        "connection_reauthorization_required",
        reason,
    )
    .await?;
    let entry = NewEntry::new(
        Actor::system("token-broker"),
        "connection.reauthorization_required",
    )
    .tenant(tenant)
    .target("connection", id)
    .details(json!({"reason": reason, "paused_subscriptions": paused.len()}));
    audit::record(db, clock, entry).await?;
    tracing::warn!(connection = %id, reason, "a connection needs its user to connect again");
    Ok(())
}

fn status_text(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Creating => "creating",
        SubscriptionStatus::Active => "active",
        SubscriptionStatus::Paused => "paused",
        SubscriptionStatus::Failed => "failed",
        SubscriptionStatus::Deleted => "deleted",
    }
}

async fn set_status<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    connection: Uuid,
    from: SubscriptionStatus,
    to: SubscriptionStatus,
    reason: Option<&str>,
) -> DomainResult<()> {
    let mut update = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value(status_text(to)))
        .col_expr(subscription::Column::LeaseToken, Expr::value(None::<Uuid>))
        .col_expr(
            subscription::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(subscription::Column::UpdatedAt, Expr::value(now));
    if let Some(reason) = reason {
        update = update.col_expr(subscription::Column::LastError, Expr::value(reason));
    }
    if to == SubscriptionStatus::Active {
        update = update
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
    }
    update
        .filter(subscription::Column::ConnectionId.eq(connection))
        .filter(subscription::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(())
}

/// The user connected again: the paused subscriptions are resumed (unless the tenant itself
/// is not active: its own consent change resumes them later) and the tenant is told.
pub async fn restored<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    found: &connection::Model,
) -> DomainResult<usize> {
    let tenant = tenant::Entity::find_by_id(found.tenant_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?;
    let paused = if matches!(
        tenant.status,
        TenantStatus::Active | TenantStatus::Suspended
    ) {
        let paused = in_status(db, found.id, SubscriptionStatus::Paused).await?;
        set_status(
            db,
            clock.now(),
            found.id,
            SubscriptionStatus::Paused,
            SubscriptionStatus::Active,
            None,
        )
        .await?;
        paused
    } else {
        Vec::new()
    };
    upkeep::resuming(db, clock, &paused, "connection_restored").await?;
    events::record(
        db,
        clock,
        TenantId::from(found.tenant_id),
        None,
        Event::ConnectionRestored.name(),
        json!({
            "connectionId": ConnectionId::from(found.id),
            "account": found.account,
            "username": found.username,
            "resumingSubscriptions": paused.len(),
        }),
    )
    .await?;
    Ok(paused.len())
}
