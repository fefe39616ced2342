//! The reconciler: no Graph subscription of this deployment outlives its row.
//!
//! A create can die between Graph's 201 and our write (a crash, Postgres gone), and a
//! recreation can lose its lease after Graph created the new one; either leaves a live Graph
//! subscription that nothing renews or deletes, and that blocks the same resource and change
//! types (Graph's duplicate rule). Each tenant with subscriptions is taken on every
//! `subscriptions.reconcile_interval_secs`, and sooner when a row of it is stuck in `creating`:
//!
//! - Rows `creating` for longer than an upkeep lease (`subscriptions.upkeep_lease_secs`; a
//!   create takes seconds) are given up: deleted, with `subscription.creation_abandoned` in the
//!   audit log. They are not adopted: the tenant was answered with an error (or nothing), so a
//!   subscription it was told failed must not start delivering. The Graph subscription such a
//!   row's `clientState` identifies is deleted at once.
//! - Graph's listing of the tenant's subscriptions (app-only `GET /subscriptions`, §1.2) is
//!   compared with the rows. A Graph subscription is deleted (`subscription.orphan_deleted`)
//!   only when its `notificationUrl` is this deployment's
//!   `{api.public_base_url}/graph/notifications` (staging and development may share the app
//!   registration), no row holds its Graph id, no create or recreation in flight may be about
//!   to claim it, and it is older than an upkeep lease. Graph does not say when a subscription
//!   was created; its expiry, less the lifetime Graphhook asks for that kind, does (Graph
//!   granting less only makes it look older, which is why subscriptions in flight are
//!   recognised by their rows as well).
//! - A delegated subscription belongs to its user: only the user's token deletes it, and a
//!   personal account's lives in the consumers tenant, which the app's listing does not reach.
//!   So each user of the tenant's active connections is listed with that connection's token
//!   (delegated `GET /subscriptions`: this app's subscriptions for the signed-in user), judged
//!   by the same rules, and its orphans deleted with that token; the app's listing leaves out
//!   what those users created (`creatorId`).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::json;

use super::{hash, lifetime, notification_url};
use crate::{
    graph::microsoft::{
        graph::{GraphCallError, GraphSubscription},
        tokens::AccessToken,
    },
    graph::resources,
    operator::audit::{self, Actor, NewEntry},
    platform::config::Settings,
    platform::entities::{
        connection::{self, ConnectionStatus},
        subscription::{self, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::error::DomainResult,
    platform::ids::{ConnectionId, SubscriptionId, TenantId},
    services::Services,
    tenancy::connections::tokens as connection_tokens,
    tenancy::tenants,
};

/// What one reconciliation of a tenant did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Rows stuck in `creating` that were given up.
    pub abandoned: usize,
    /// Graph subscriptions of this deployment that no row held, deleted.
    pub deleted: usize,
}

/// Hands out up to `limit` tenants due for reconciliation and records when. Due: an active or
/// suspended tenant with subscriptions (in any status; a tenant that never asked for one has
/// nothing of ours at Graph, and is not sent there) not taken on for
/// `reconcile_interval_secs`, or any tenant with a row stuck in `creating` that was not taken
/// on for an upkeep lease.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    now: DateTime<Utc>,
    limit: u32,
) -> DomainResult<Vec<TenantId>> {
    let s = &settings.subscriptions;
    let interval = Duration::seconds(i64::try_from(s.reconcile_interval_secs).unwrap_or(3_600));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r"WITH due AS (
                SELECT t.id, r.handed_out_at
                  FROM tenants t
                  LEFT JOIN subscription_reconciliations r ON r.tenant_id = t.id
                 WHERE (t.status IN ('active', 'suspended')
                        AND (r.handed_out_at IS NULL OR r.handed_out_at <= $2)
                        AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = t.id))
                    OR ((r.handed_out_at IS NULL OR r.handed_out_at <= $3)
                        AND EXISTS (SELECT 1 FROM subscriptions s
                                     WHERE s.tenant_id = t.id AND s.status = 'creating'
                                       AND s.created_at <= $3))
                 ORDER BY r.handed_out_at NULLS FIRST, t.id
                 LIMIT $4
            )
            INSERT INTO subscription_reconciliations (tenant_id, handed_out_at)
            SELECT id, $1 FROM due
            ON CONFLICT (tenant_id) DO UPDATE SET handed_out_at = EXCLUDED.handed_out_at
            RETURNING tenant_id",
            [
                now.into(),
                (now - interval).into(),
                (now - lease(settings)).into(),
                i64::from(limit).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok(TenantId::from(r.try_get::<uuid::Uuid>("", "tenant_id")?)))
        .collect()
}

fn lease(settings: &Settings) -> Duration {
    Duration::seconds(i64::try_from(settings.subscriptions.upkeep_lease_secs).unwrap_or(300))
}

/// Reconciles one tenant (see the module docs). Graph being unreachable, or a token failing,
/// skips that listing's comparison; stuck rows are given up all the same (a Graph subscription
/// one of them left is then an orphan for a later run).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn run(services: &Services, tenant: TenantId) -> DomainResult<Reconciled> {
    let Some(found) = tenants::find(&services.db, tenant).await? else {
        return Ok(Reconciled::default());
    };
    // Graph first, the rows after: whatever Graph lists was created before its row was read.
    let listings = match found.status {
        TenantStatus::Active | TenantStatus::Suspended => listings(services, &found).await?,
        _ => Vec::new(),
    };
    let now = services.clock.now();
    let abandoned = give_up_stuck(services, tenant, now).await?;
    let mut done = Reconciled {
        abandoned: abandoned.len(),
        deleted: 0,
    };
    if listings.is_empty() {
        return Ok(done);
    }
    let rows = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant.uuid()))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
        .all(&services.db)
        .await?;
    let ours = notification_url(&services.settings);
    // A user with two connections lists the same subscriptions twice.
    let mut seen = std::collections::HashSet::new();
    for listing in &listings {
        for graph in &listing.subscriptions {
            if !seen.insert(graph.id.as_str()) {
                continue;
            }
            let Verdict::Delete(reason) =
                verdict(graph, &ours, &rows, &abandoned, now, &services.settings)
            else {
                continue;
            };
            if delete_orphan(services, tenant, listing, graph, reason).await? {
                done.deleted += 1;
            }
        }
    }
    Ok(done)
}

/// Deletes the rows `creating` for longer than an upkeep lease, recording each: the rows.
/// Given up before anything is deleted at Graph: a create still running finds its row gone, and
/// deletes what it created itself.
async fn give_up_stuck(
    services: &Services,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> DomainResult<Vec<subscription::Model>> {
    let abandoned = subscription::Entity::delete_many()
        .filter(subscription::Column::TenantId.eq(tenant.uuid()))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Creating))
        .filter(subscription::Column::CreatedAt.lte(now - lease(&services.settings)))
        .exec_with_returning(&services.db)
        .await?;
    for row in &abandoned {
        tracing::warn!(subscription = %SubscriptionId::from(row.id), "gave up a create stuck in creating");
        let entry = NewEntry::new(
            Actor::system("reconciler"),
            "subscription.creation_abandoned",
        )
        .tenant(tenant)
        .target("subscription", SubscriptionId::from(row.id))
        .details(json!({"resource": row.resource, "created_at": row.created_at}));
        audit::record(&services.db, &services.clock, entry).await?;
    }
    Ok(abandoned)
}

/// Deletes `graph` at Graph with the token that listed it, and records it: whether it went.
async fn delete_orphan(
    services: &Services,
    tenant: TenantId,
    listing: &Listing,
    graph: &GraphSubscription,
    reason: &str,
) -> DomainResult<bool> {
    if let Err(error) = services
        .graph
        .delete_subscription(&listing.token, &graph.id)
        .await
    {
        tracing::warn!(%error, graph_id = %graph.id, "could not delete an orphaned Graph subscription");
        return Ok(false);
    }
    tracing::info!(graph_id = %graph.id, reason, "deleted a Graph subscription no row holds");
    let mut details = json!({
        "graph_id": graph.id,
        "resource": graph.resource,
        "change_type": graph.change_type,
        "reason": reason,
    });
    if let Some(connection) = listing.connection {
        details["connection_id"] = json!(ConnectionId::from(connection).to_string());
    }
    let entry = NewEntry::new(Actor::system("reconciler"), "subscription.orphan_deleted")
        .tenant(tenant)
        .target("graph_subscription", &graph.id)
        .details(details);
    audit::record(&services.db, &services.clock, entry).await?;
    Ok(true)
}

/// What one token sees at Graph, and may delete.
struct Listing {
    token: AccessToken,
    /// The connection whose user's token it is; `None`: the app's.
    connection: Option<uuid::Uuid>,
    subscriptions: Vec<GraphSubscription>,
}

/// The app's listing of the tenant (without its connections' users' subscriptions, which only
/// their own tokens may delete), then one per user of an active connection (a personal
/// account's are held in the consumers tenant, which no app-only token reaches). A listing
/// that cannot be had is left out (logged).
async fn listings(services: &Services, tenant: &tenant::Model) -> DomainResult<Vec<Listing>> {
    let connections = connection::Entity::find()
        .filter(connection::Column::TenantId.eq(tenant.id))
        .filter(connection::Column::UserObjectId.is_not_null())
        .order_by_desc(connection::Column::ConnectedAt)
        .all(&services.db)
        .await?;
    let users: HashSet<String> = connections
        .iter()
        .filter_map(|c| c.user_object_id.map(|u| u.to_string()))
        .collect();
    let mut listings = Vec::new();
    if let Some((token, mut subscriptions)) = app_listing(services, tenant).await? {
        subscriptions.retain(|s| {
            s.creator_id
                .as_deref()
                .is_none_or(|creator| !users.contains(&creator.to_ascii_lowercase()))
        });
        listings.push(Listing {
            token,
            connection: None,
            subscriptions,
        });
    }
    let mut listed_users = HashSet::new();
    for found in connections {
        if found.status != ConnectionStatus::Active || !listed_users.insert(found.user_object_id) {
            continue;
        }
        if let Some(listing) = connection_listing(services, found.id).await? {
            listings.push(listing);
        }
    }
    Ok(listings)
}

/// A connection's user's subscriptions, with the user's token; `None` (logged) when the token
/// or the listing fails.
async fn connection_listing(services: &Services, id: uuid::Uuid) -> DomainResult<Option<Listing>> {
    let token = match connection_tokens::access_token(services, id, false).await {
        Ok(token) => token,
        Err(tenants::AccessError::Domain(error)) => return Err(error),
        Err(error) => {
            tracing::warn!(%error, connection = %ConnectionId::from(id), "no token to reconcile the connection's subscriptions");
            return Ok(None);
        }
    };
    match services.graph.list_subscriptions(&token).await {
        Ok(subscriptions) => Ok(Some(Listing {
            token,
            connection: Some(id),
            subscriptions,
        })),
        Err(error) => {
            tracing::warn!(%error, connection = %ConnectionId::from(id), "could not list the connection's Graph subscriptions");
            Ok(None)
        }
    }
}

/// The tenant's token and Graph's listing, or `None` (logged) when either fails or Graph is
/// throttling the tenant (whose upkeep then waits too, as for any 429).
async fn app_listing(
    services: &Services,
    tenant: &tenant::Model,
) -> DomainResult<Option<(AccessToken, Vec<GraphSubscription>)>> {
    let now = services.clock.now();
    let throttled = services
        .db
        .query_one_raw(Statement::from_sql_and_values(
            services.db.get_database_backend(),
            "SELECT 1 AS throttled FROM graph_throttles WHERE tenant_id = $1 AND until > $2",
            [tenant.id.into(), now.into()],
        ))
        .await?;
    if throttled.is_some() {
        tracing::debug!("Graph is throttling the tenant; its reconciliation waits");
        return Ok(None);
    }
    let token = match tenants::app_token(services, tenant, false).await {
        Ok(token) => token,
        Err(tenants::AccessError::Domain(error)) => return Err(error),
        Err(
            error @ (tenants::AccessError::Token(_) | tenants::AccessError::Reauthorize { .. }),
        ) => {
            tracing::warn!(%error, "no token to reconcile the tenant's subscriptions");
            return Ok(None);
        }
    };
    match services.graph.list_subscriptions(&token).await {
        Ok(listed) => Ok(Some((token, listed))),
        Err(GraphCallError::Graph(error)) if error.status == 429 => {
            let wait = error
                .retry_after
                .unwrap_or(services.settings.subscriptions.throttle_default_secs);
            let until = now + Duration::seconds(i64::try_from(wait).unwrap_or(60));
            super::upkeep::throttle(&services.db, tenant.id, until).await?;
            tracing::info!(
                wait,
                "Graph throttled the listing of the tenant's subscriptions"
            );
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(%error, "could not list the tenant's Graph subscriptions");
            Ok(None)
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// Why: `creation_abandoned` (a given-up row's) or `no_row`.
    Delete(&'static str),
}

fn verdict(
    graph: &GraphSubscription,
    ours: &str,
    rows: &[subscription::Model],
    abandoned: &[subscription::Model],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Verdict {
    if graph.notification_url.as_deref() != Some(ours) {
        return Verdict::Keep;
    }
    if rows
        .iter()
        .any(|r| r.graph_id.as_deref() == Some(graph.id.as_str()))
    {
        return Verdict::Keep;
    }
    let state = graph.client_state.as_deref().map(hash);
    if state
        .as_ref()
        .is_some_and(|state| abandoned.iter().any(|r| &r.client_state_hash == state))
    {
        return Verdict::Delete("creation_abandoned");
    }
    let same_target = |r: &subscription::Model| {
        r.resource == graph.resource && r.change_types == graph.change_type
    };
    // A create about to complete its row (by its clientState, or by what it subscribes to when
    // Graph does not echo clientState), or a recreation under its lease.
    let in_flight = rows.iter().any(|r| match (r.status, &state) {
        (SubscriptionStatus::Creating, Some(state)) => &r.client_state_hash == state,
        (SubscriptionStatus::Creating, None) => same_target(r),
        _ => r.lease_until.is_some_and(|until| until > now) && same_target(r),
    });
    if in_flight {
        return Verdict::Keep;
    }
    match created_at(graph, settings) {
        Some(created) if now - created >= lease(settings) => Verdict::Delete("no_row"),
        _ => Verdict::Keep,
    }
}

/// When Graphhook would have created (or last renewed) `graph`: its expiry less the lifetime
/// Graphhook asks for its kind. Unknown resources count with the shortest lifetime there is,
/// which makes them look youngest.
fn created_at(graph: &GraphSubscription, settings: &Settings) -> Option<DateTime<Utc>> {
    let expires = DateTime::parse_from_rfc3339(&graph.expiration_date_time)
        .ok()?
        .to_utc();
    let rich = graph.include_resource_data == Some(true);
    let max_minutes = match resources::parse(&graph.resource) {
        Ok(resource) => {
            let spec = resources::spec(resource.kind);
            match (rich, spec.max_minutes_rich) {
                (true, Some(minutes)) => minutes,
                _ => spec.max_minutes,
            }
        }
        Err(_) => resources::TABLE
            .iter()
            .flat_map(|s| [Some(s.max_minutes), s.max_minutes_rich])
            .flatten()
            .min()
            .unwrap_or(60),
    };
    Some(expires - lifetime(settings, max_minutes))
}

#[cfg(test)]
mod tests;
