//! What a connection's state changes do to its subscriptions, as consent changes do to a
//! tenant's ([`crate::graph::subscriptions::pause::pause_tenant`]): when only the user can fix the
//! connection, its subscriptions are paused (`graph.subscription.paused` each) and the tenant is
//! told (`connection.reauthorization_required`); when the user connects again they are resumed
//! (renewed, or recreated if Graph dropped them: `graph.subscription.resumed`) and the tenant
//! is told (`connection.restored`). Deleting a connection deletes its subscriptions.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Set, TransactionTrait};
use serde_json::json;

use crate::{
    delivery::event_catalogue::Event,
    delivery::events,
    graph::subscriptions::pause,
    operator::audit::{self, Actor, NewEntry},
    platform::clock::Clock,
    platform::entities::{
        connection::{self, ConnectionStatus},
        subscription,
        tenant::{self, TenantStatus},
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{ConnectionId, TenantId},
};

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
    let of_connection = subscription::Column::ConnectionId.eq(found.id);
    let paused = pause::pause_where(db, now, of_connection, reason).await?;
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
    pause::paused(
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
        let of_connection = subscription::Column::ConnectionId.eq(found.id);
        pause::resume_where(db, clock.now(), of_connection).await?
    } else {
        Vec::new()
    };
    pause::resuming(db, clock, &paused, "connection_restored").await?;
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
