//! Offboarding: a tenant leaves (an operator's decision, or the tenant's own
//! `DELETE /api/v1/tenant`). Its Graph subscriptions are deleted at Graph, its keys revoked,
//! and its data removed once the retention has passed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement, sea_query::Expr,
};
use serde::Serialize;
use serde_json::json;

use crate::{
    operator::audit::{self, Actor, NewEntry},
    platform::clock::Clock,
    platform::entities::{
        api_key,
        connection::{self, ConnectionStatus},
        subscription::{self, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::error::DomainResult,
    platform::ids::TenantId,
    services::Services,
    tenancy::tenants,
};

use super::set_status;

/// What an offboarding did.
#[derive(Debug, Default, Serialize)]
pub struct Offboarded {
    pub deleted_subscriptions: usize,
    /// Subscriptions Graph could not be asked to delete (they expire there by themselves).
    pub subscriptions_left_at_graph: usize,
    pub revoked_keys: u64,
    /// Connected users whose connections ended.
    pub deleted_connections: u64,
    /// When the tenant's data is removed.
    pub data_removed_after: Option<DateTime<Utc>>,
}

/// Offboards a tenant: no more api calls or deliveries, its Graph subscriptions deleted at
/// Graph, its keys revoked; its data is removed after `retention`.
pub async fn offboard(
    services: &Services,
    id: TenantId,
    actor: Actor,
    retention: Duration,
    request_id: Option<String>,
) -> DomainResult<Offboarded> {
    let (tenant, previous) = set_status(
        &services.db,
        &services.clock,
        id,
        &[
            TenantStatus::Active,
            TenantStatus::Pending,
            TenantStatus::ConsentRevoked,
            TenantStatus::Suspended,
        ],
        TenantStatus::Offboarded,
        Some("offboarded".to_owned()),
    )
    .await?;
    let now = services.clock.now();
    let revoked_keys = revoke_and_stop(&services.db, id, now).await?;
    let held = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(id.uuid()))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
        .all(&services.db)
        .await?;
    let mut report = Offboarded {
        revoked_keys,
        data_removed_after: Some(now + retention),
        ..Offboarded::default()
    };
    delete_subscriptions(services, &tenant, previous, &held, now, &mut report).await?;
    report.deleted_connections = end_connections(services, id, now).await?;
    let entry = NewEntry::new(actor, "tenant.offboarded")
        .tenant(id)
        .target("tenant", id)
        .details(json!({
            "previous_status": previous,
            "deleted_subscriptions": report.deleted_subscriptions,
            "deleted_connections": report.deleted_connections,
            "subscriptions_left_at_graph": report.subscriptions_left_at_graph,
            "revoked_keys": report.revoked_keys,
            "data_removed_after": report.data_removed_after,
        }))
        .request_id(request_id);
    audit::record(&services.db, &services.clock, entry).await?;
    Ok(report)
}

/// Revokes the tenant's keys and stops its deliveries; returns how many keys were revoked.
async fn revoke_and_stop<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
    now: DateTime<Utc>,
) -> DomainResult<u64> {
    let revoked_keys = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::TenantId.eq(id.uuid()))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    // Nothing more is delivered.
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        r"UPDATE deliveries SET next_attempt_at = NULL, last_error = $2, updated_at = $3
               WHERE tenant_id = $1 AND status IN ('pending', 'failed')",
        [
            id.uuid().into(),
            "the tenant is offboarded".into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(revoked_keys)
}

/// Deletes the tenant's subscriptions at Graph (with the tenant's token, or a connection's
/// user's) and here, counting those Graph may still hold.
async fn delete_subscriptions(
    services: &Services,
    tenant: &crate::platform::entities::tenant::Model,
    previous: TenantStatus,
    held: &[subscription::Model],
    now: DateTime<Utc>,
    report: &mut Offboarded,
) -> DomainResult<()> {
    // A token is only asked for if there is something to delete, and only if consent may
    // still be in force.
    let token = match (held.iter().any(|s| s.graph_id.is_some()), previous) {
        (true, TenantStatus::Active | TenantStatus::Suspended) => {
            tenants::app_token(services, tenant, false).await.ok()
        }
        _ => None,
    };
    for sub in held {
        // A connection's subscription is deleted with its user's token, while it works.
        let user_token = match (&sub.graph_id, sub.connection_id) {
            (Some(_), Some(connection)) => {
                crate::tenancy::connections::tokens::access_token(services, connection, false)
                    .await
                    .ok()
            }
            _ => None,
        };
        let token = match sub.connection_id {
            Some(_) => user_token.as_ref(),
            None => token.as_ref(),
        };
        let deleted_at_graph = match (&sub.graph_id, token) {
            (None, _) => true,
            (Some(graph_id), Some(token)) => services
                .graph
                .delete_subscription(token, graph_id)
                .await
                .is_ok(),
            (Some(_), None) => false,
        };
        if !deleted_at_graph {
            report.subscriptions_left_at_graph += 1;
        }
        subscription::Entity::update_many()
            .col_expr(subscription::Column::Status, Expr::value("deleted"))
            .col_expr(
                subscription::Column::DueAt,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(subscription::Column::UpdatedAt, Expr::value(now))
            .filter(subscription::Column::Id.eq(sub.id))
            .exec(&services.db)
            .await?;
        report.deleted_subscriptions += 1;
    }
    Ok(())
}

/// Ends the tenant's users' connections and forgets their tokens; returns how many.
async fn end_connections(
    services: &Services,
    id: TenantId,
    now: DateTime<Utc>,
) -> DomainResult<u64> {
    // Its users' connections end: their tokens are forgotten.
    let ended = connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value("deleted"))
        .col_expr(
            connection::Column::RefreshToken,
            Expr::value(None::<Vec<u8>>),
        )
        .col_expr(
            connection::Column::AccessToken,
            Expr::value(None::<Vec<u8>>),
        )
        .col_expr(connection::Column::UpdatedAt, Expr::value(now))
        .filter(connection::Column::TenantId.eq(id.uuid()))
        .filter(connection::Column::Status.ne(ConnectionStatus::Deleted))
        .exec_with_returning(&services.db)
        .await?;
    for ended in &ended {
        services.broker.forget_connection(ended.id);
    }
    Ok(ended.len() as u64)
}

/// Removes the data of tenants offboarded longer than `retention` ago (every tenant-owned row
/// goes with the tenant; audit entries stay, without their tenant). Returns how many tenants.
pub async fn purge_offboarded<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    retention: Duration,
) -> DomainResult<u64> {
    let before = clock.now() - retention;
    let gone = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Offboarded))
        .filter(tenant::Column::OffboardedAt.lt(before))
        .limit(50)
        .all(db)
        .await?;
    for tenant in &gone {
        audit::record(
            db,
            clock,
            NewEntry::new(Actor::system("retention"), "tenant.data_removed")
                .target("tenant", TenantId::from(tenant.id))
                .details(json!({"entra_tenant_id": tenant.entra_tenant_id, "name": tenant.name})),
        )
        .await?;
        tenant::Entity::delete_by_id(tenant.id).exec(db).await?;
    }
    Ok(gone.len() as u64)
}
