//! Deleting a connection: its subscriptions at Graph, with the user's token while it works
//! ([`super::tokens`]), and here, then its tokens. Kept apart from [`super::lifecycle`], which
//! the token refresh itself calls when only the user can fix a connection.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement, TransactionTrait,
    sea_query::Expr,
};
use serde_json::json;

use crate::{
    operator::audit::{self, Actor, NewEntry},
    platform::entities::{
        connection::{self, ConnectionStatus},
        subscription::{self, SubscriptionStatus},
        tenant,
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{ConnectionId, TenantId},
    services::Services,
};

/// Deletes a connection: its subscriptions at Graph (with the user's token, while it works)
/// and here, then its tokens.
#[tracing::instrument(skip_all, fields(connection = %id))]
pub async fn delete(
    services: &Services,
    tenant: &tenant::Model,
    id: ConnectionId,
    actor: Actor,
) -> DomainResult<usize> {
    let tenant_id = TenantId::from(tenant.id);
    let found = super::find(&services.db, tenant_id, id).await?;
    let held: Vec<subscription::Model> = subscription::Entity::find()
        .filter(subscription::Column::ConnectionId.eq(found.id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
        .all(&services.db)
        .await?;
    let at_graph: Vec<&str> = held.iter().filter_map(|s| s.graph_id.as_deref()).collect();
    if !at_graph.is_empty() && found.status == ConnectionStatus::Active {
        match super::tokens::access_token(services, found.id, false).await {
            Ok(token) => {
                for graph_id in at_graph {
                    if let Err(error) = services.graph.delete_subscription(&token, graph_id).await {
                        tracing::warn!(%error, graph_id, "could not delete a connection's Graph subscription; it expires by itself");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "no token to delete the connection's Graph subscriptions; they expire by themselves");
            }
        }
    }
    let txn = services.db.begin().await?;
    let now = services.clock.now();
    let mut marked = connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value("deleted"))
        .col_expr(connection::Column::UpdatedAt, Expr::value(now));
    // Its tokens, and what it kept for a sign-in, are forgotten.
    for held in [
        connection::Column::RefreshToken,
        connection::Column::AccessToken,
        connection::Column::AccessExpiresAt,
        connection::Column::AuthStateHash,
        connection::Column::AuthVerifier,
    ] {
        marked = marked.col_expr(held, Expr::cust("NULL"));
    }
    let marked = marked
        .filter(connection::Column::Id.eq(found.id))
        .filter(connection::Column::Status.ne(ConnectionStatus::Deleted))
        .exec(&txn)
        .await?;
    // Another request deleted it meanwhile: that one records it.
    if marked.rows_affected == 0 {
        txn.rollback().await?;
        return Err(DomainError::NotFound("connection"));
    }
    subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value("deleted"))
        .col_expr(subscription::Column::UpdatedAt, Expr::value(now))
        .filter(subscription::Column::ConnectionId.eq(found.id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
        .exec(&txn)
        .await?;
    let entry = NewEntry::new(actor, "connection.deleted")
        .tenant(tenant_id)
        .target("connection", id)
        .details(json!({"deleted_subscriptions": held.len()}));
    audit::record(&txn, &services.clock, entry).await?;
    txn.commit().await?;
    services.broker.forget_connection(id.uuid());
    Ok(held.len())
}

/// How long a connection nobody signed in to is kept after its sign-in link expired: long
/// enough for the tenant to see it and ask for a new link ([`super::reconnect`]).
pub const ABANDONED_AFTER_DAYS: i64 = 7;

/// The most connections one run removes (a backlog is worked off over the next minutes).
const ABANDONED_PER_RUN: i64 = 500;

/// Removes the connections nobody ever signed in to whose sign-in link expired more than
/// [`ABANDONED_AFTER_DAYS`] ago, with what they kept for that sign-in, and records each
/// removal in the tenant's audit log, at most [`ABANDONED_PER_RUN`] at a time. Returns how many
/// it removed.
pub async fn remove_abandoned(services: &Services) -> DomainResult<u64> {
    let now = services.clock.now();
    let before = now - chrono::Duration::days(ABANDONED_AFTER_DAYS);
    let txn = services.db.begin().await?;
    let removed = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "DELETE FROM connections WHERE id IN (
                SELECT c.id FROM connections c
                 WHERE c.status = 'pending' AND c.user_object_id IS NULL
                   AND c.auth_expires_at < $1
                   AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.connection_id = c.id)
                 LIMIT $2 FOR UPDATE SKIP LOCKED)
              RETURNING id, tenant_id",
            [before.into(), ABANDONED_PER_RUN.into()],
        ))
        .await?;
    for row in &removed {
        let id: uuid::Uuid = row.try_get("", "id")?;
        let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
        let entry = NewEntry::new(Actor::system("maintenance"), "connection.abandoned")
            .tenant(TenantId::from(tenant))
            .target("connection", ConnectionId::from(id))
            .details(json!({"abandoned_after_days": ABANDONED_AFTER_DAYS}));
        audit::record(&txn, &services.clock, entry).await?;
    }
    txn.commit().await?;
    Ok(removed.len() as u64)
}
