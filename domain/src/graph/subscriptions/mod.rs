//! Graph subscriptions held for tenants: created synchronously at Graph in the tenant's name
//! (as Graph's own create is; see [`create`] for how that stays crash-safe), with Graphhook's
//! receiver URLs and a random `clientState` stored hashed; deleted at Graph too. Every query is
//! scoped to the tenant. Keeping them alive (renewal, reauthorization, recreation) is
//! [`upkeep`]'s; pausing and resuming them on consent changes [`pause`]'s; finding Graph
//! subscriptions that no row holds is [`reconcile`]'s.

pub mod act;
mod create;
mod input;
pub mod pause;
pub mod reconcile;
mod refusal;
pub mod upkeep;

pub use create::create;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select, sea_query::Expr};
use sha2::{Digest, Sha256};

use crate::platform::owned::TenantOwned;
/// The tenant's subscription (not deleted), and a page of them, oldest first.
pub use crate::platform::owned::{find, page as list};
use crate::{
    graph::microsoft::{
        graph::{GraphCallError, GraphError, GraphSubscription, NewSubscription},
        tokens::AccessToken,
    },
    graph::resources::ResourceError,
    operator::audit::{self, Actor, NewEntry},
    platform::config::Settings,
    platform::entities::{
        subscription::{self, SubscriptionStatus},
        tenant,
    },
    platform::error::DomainError,
    platform::ids::{ConnectionId, EndpointId, SubscriptionId, TenantId},
    services::Services,
    tenancy::tenants::{self, AccessError},
};

#[derive(Debug)]
pub struct CreateRequest {
    pub resource: String,
    pub change_types: Vec<String>,
    pub include_resource_data: bool,
    pub endpoint_ids: Option<Vec<EndpointId>>,
    /// The connected user whose token holds it; `None`: app-only.
    pub connection_id: Option<ConnectionId>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// An input past its bounds (too long, too many): the field and the rule it broke.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        rule: &'static str,
        message: String,
    },
    #[error(
        "the tenant has not granted {permission}, which {kind} subscriptions need; an administrator must consent again (/onboarding) to grant it"
    )]
    MissingPermission {
        permission: String,
        kind: &'static str,
    },
    #[error(
        "includeResourceData (rich notifications) is available for messages, events and contacts, not {0} resources"
    )]
    RichNotAvailable(&'static str),
    #[error("endpoint {0} does not exist")]
    UnknownEndpoint(EndpointId),
    #[error("connection {0} does not exist")]
    UnknownConnection(ConnectionId),
    #[error("connection {id} is {status}; {}", not_active_hint(*id, status))]
    ConnectionNotActive {
        id: ConnectionId,
        status: &'static str,
    },
    #[error(
        "{kind} resources cannot be subscribed to through a {account} account's connection{hint}"
    )]
    NotThroughConnection {
        kind: &'static str,
        account: &'static str,
        hint: &'static str,
    },
    #[error(
        "connection {id} has not been granted {scope}, which {kind} subscriptions need; connect again with kinds including {kind} (POST /api/v1/connections/{id}/reconnect asks for the connection's kinds)"
    )]
    MissingScope {
        id: ConnectionId,
        scope: &'static str,
        kind: &'static str,
    },
    #[error("the SharePoint site or drive in '{resource}' was not found: {graph}")]
    SiteNotFound { resource: String, graph: String },
    #[error("the tenant already holds {0} subscriptions, Graphhook's limit per tenant")]
    TenantQuota(usize),
    #[error("Microsoft Graph's subscription quota is reached: {0}")]
    GraphQuota(String),
    #[error("Microsoft Graph is throttling requests for this tenant")]
    Throttled { retry_after: Option<u64> },
    /// Graph allows one subscription per resource and change types (§1.2 Duplicates).
    /// `existing`: the tenant's subscription that holds the combination, when it is one.
    #[error("{}", duplicate_message(*existing, graph_id.as_deref()))]
    Duplicate {
        existing: Option<SubscriptionId>,
        graph_id: Option<String>,
    },
    /// Graph's validation handshake against our receiver failed: almost always because
    /// `api.public_base_url` is not reachable from Graph, so the message names what Graph tried.
    #[error(
        "Microsoft Graph could not validate Graphhook's notification receiver at {url} ({graph}); Graph must be able to reach that URL from the internet, and it is built from the api.public_base_url setting of this Graphhook deployment, which its operator has to correct"
    )]
    ReceiverNotValidated { url: String, graph: String },
    #[error("Microsoft Graph refused the subscription: {0}")]
    Refused(GraphError),
    #[error("Microsoft Graph could not be reached: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

fn not_active_hint(id: ConnectionId, status: &str) -> String {
    match status {
        "pending" => "its user has not signed in yet".to_owned(),
        _ => format!("its user must connect again (POST /api/v1/connections/{id}/reconnect)"),
    }
}

fn duplicate_message(existing: Option<SubscriptionId>, graph_id: Option<&str>) -> String {
    match existing {
        Some(id) => format!(
            "this tenant already has subscription {id} for this resource and change types, and Microsoft Graph allows only one per combination; one subscription can deliver to several endpoints (endpoint_ids lists them; without endpoint_ids every endpoint whose filter matches receives its events), so use {id}, or delete it and create one whose endpoint_ids names every endpoint"
        ),
        None => format!(
            "Microsoft Graph already holds a subscription for this resource and change types{} that is not one of this tenant's Graphhook subscriptions (another deployment sharing the app registration may hold it), and it allows only one per combination",
            graph_id.map(|id| format!(" ({id})")).unwrap_or_default()
        ),
    }
}

/// Where Graph sends this deployment's change notifications; the reconciler recognises the
/// deployment's Graph subscriptions by it.
pub fn notification_url(settings: &Settings) -> String {
    format!(
        "{}/graph/notifications",
        settings.api.public_base_url.trim_end_matches('/')
    )
}

fn lifecycle_url(settings: &Settings) -> String {
    format!(
        "{}/graph/lifecycle",
        settings.api.public_base_url.trim_end_matches('/')
    )
}

/// A fresh random `clientState` (§1.1: at most 128 characters; this is 43).
pub(crate) fn new_client_state() -> String {
    let mut state = [0u8; 32];
    rand::rng().fill_bytes(&mut state);
    URL_SAFE_NO_PAD.encode(state)
}

pub(crate) fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Whether a presented `clientState` is the subscription's (constant time).
pub fn client_state_matches(subscription: &subscription::Model, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    hash(presented)
        .ct_eq(&subscription.client_state_hash)
        .into()
}

/// A tenant sees its subscriptions until they are deleted.
impl TenantOwned for subscription::Entity {
    const NAME: &'static str = "subscription";

    const TENANT_ID: subscription::Column = subscription::Column::TenantId;
    const ID: subscription::Column = subscription::Column::Id;

    fn visible(query: Select<Self>) -> Select<Self> {
        query.filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
    }
}

/// Graph's answer as a create error; `receiver` is the notification URL Graph was given.
fn map_graph_error(error: GraphCallError, receiver: &str) -> CreateError {
    let error = match error {
        GraphCallError::Unavailable(e) => return CreateError::Unavailable(e),
        GraphCallError::Graph(e) => e,
    };
    let message = error.message.to_lowercase();
    match error.status {
        429 | 503 | 504 => CreateError::Throttled {
            retry_after: error.retry_after,
        },
        403 if message.contains("maximum number") || message.contains("quota") => {
            CreateError::GraphQuota(error.message)
        }
        400 if error.code.eq_ignore_ascii_case("ValidationError")
            || message.contains("validation request") =>
        {
            CreateError::ReceiverNotValidated {
                url: receiver.to_owned(),
                graph: error.message,
            }
        }
        // "Subscription Id <id> already exists for the requested combination" (as recalled).
        409 => CreateError::Duplicate {
            existing: None,
            graph_id: error
                .message
                .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
                .find(|word| uuid::Uuid::parse_str(word).is_ok())
                .map(str::to_owned),
        },
        _ => CreateError::Refused(error),
    }
}

/// A subscription just created at Graph: Graph's id for it, the `clientState` we gave it (to be
/// stored hashed), the expiry Graph granted and when to renew it.
pub(crate) struct AtGraph {
    pub graph_id: String,
    pub client_state: String,
    pub certificate_label: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub renew_at: DateTime<Utc>,
}

/// How long Graphhook asks a subscription to live: its kind's maximum less the margin.
pub(crate) fn lifetime(settings: &Settings, max_minutes: i64) -> Duration {
    Duration::minutes(max_minutes - settings.subscriptions.lifetime_margin_minutes.max(1))
        .max(Duration::minutes(max_minutes.clamp(1, 5)))
}

/// When to renew a subscription that expires at `expires_at`: `renew_at_fraction` of the time
/// left, give or take `renew_jitter_fraction` of it (`unit` in 0..1 picks where).
pub fn renew_time(
    settings: &Settings,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    unit: f64,
) -> DateTime<Utc> {
    let left = (expires_at - now).num_milliseconds().max(0) as f64;
    let s = &settings.subscriptions;
    let fraction =
        s.renew_at_fraction + s.renew_jitter_fraction * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    now + Duration::milliseconds((left * fraction).round() as i64)
}

/// Graph's expiry from its answer (the truth, it may be earlier than asked), else what was asked.
pub(crate) fn granted_expiry(graph: &GraphSubscription, asked: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&graph.expiration_date_time)
        .map(|t| t.to_utc())
        .unwrap_or(asked)
}

/// Creates a subscription at Graph with our receivers and the given `clientState` (see
/// [`new_client_state`]).
pub(crate) async fn create_at_graph(
    services: &Services,
    token: &AccessToken,
    resource: &str,
    change_type: &str,
    max_minutes: i64,
    rich: bool,
    client_state: String,
) -> Result<AtGraph, CreateError> {
    let now = services.clock.now();
    let asked = now + lifetime(&services.settings, max_minutes);
    let certificate = match rich {
        true => Some(
            crate::graph::microsoft::certificates::current(
                &services.db,
                &services.clock,
                &services.secret_box,
            )
            .await?,
        ),
        false => None,
    };
    let notification_url = notification_url(&services.settings);
    let lifecycle_url = lifecycle_url(&services.settings);
    let body = NewSubscription {
        change_type,
        notification_url: &notification_url,
        lifecycle_notification_url: &lifecycle_url,
        resource,
        expiration_date_time: asked.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        client_state: &client_state,
        latest_supported_tls_version: "v1_2",
        include_resource_data: certificate.is_some(),
        encryption_certificate: certificate.as_ref().map(|c| c.certificate_base64.as_str()),
        encryption_certificate_id: certificate.as_ref().map(|c| c.label.as_str()),
    };
    let graph = services
        .graph
        .create_subscription(token, &body)
        .await
        .map_err(|e| map_graph_error(e, &notification_url))?;
    let expires_at = granted_expiry(&graph, asked);
    Ok(AtGraph {
        graph_id: graph.id,
        client_state,
        certificate_label: certificate.map(|c| c.label),
        expires_at,
        renew_at: renew_time(&services.settings, now, expires_at, rand::random()),
    })
}

/// The token Graph is asked with about a subscription: its connection's user's, or the
/// tenant's app-only token.
pub(crate) async fn token_for(
    services: &Services,
    tenant: &tenant::Model,
    subscription: &subscription::Model,
    fresh: bool,
) -> Result<AccessToken, AccessError> {
    token_through(services, tenant, subscription.connection_id, fresh).await
}

/// The token of the `connection`'s user, or without one the tenant's app-only token.
pub(crate) async fn token_through(
    services: &Services,
    tenant: &tenant::Model,
    connection: Option<uuid::Uuid>,
    fresh: bool,
) -> Result<AccessToken, AccessError> {
    match connection {
        Some(id) => crate::tenancy::connections::tokens::access_token(services, id, fresh).await,
        None => tenants::app_token(services, tenant, fresh).await,
    }
}

/// Deletes a subscription at Graph (a subscription Graph no longer knows is fine) and here.
pub async fn delete(
    services: &Services,
    tenant: &tenant::Model,
    id: SubscriptionId,
    actor: Actor,
) -> Result<(), CreateError> {
    let tenant_id = TenantId::from(tenant.id);
    let subscription = find(&services.db, tenant_id, id).await?;
    if let Some(graph_id) = &subscription.graph_id {
        let token = token_for(services, tenant, &subscription, false).await?;
        services
            .graph
            .delete_subscription(&token, graph_id)
            .await
            .map_err(|e| map_graph_error(e, &notification_url(&services.settings)))?;
    }
    let marked = subscription::Entity::update_many()
        .col_expr(subscription::Column::Status, Expr::value("deleted"))
        .col_expr(
            subscription::Column::UpdatedAt,
            Expr::value(services.clock.now()),
        )
        .filter(subscription::Column::Id.eq(subscription.id))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
        .exec(&services.db)
        .await
        .map_err(DomainError::from)?;
    // Another request deleted it meanwhile: that one records it.
    if marked.rows_affected == 0 {
        return Err(DomainError::NotFound("subscription").into());
    }
    let entry = NewEntry::new(actor, "subscription.deleted")
        .tenant(tenant_id)
        .target("subscription", id);
    audit::record(&services.db, &services.clock, entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn renewals_come_at_sixty_percent_of_the_lifetime_give_or_take_ten() {
        let settings = Settings::default();
        let now: DateTime<Utc> = "2026-01-05T09:00:00Z".parse().unwrap();
        let expires = now + Duration::hours(100);
        let at = |unit: f64| (renew_time(&settings, now, expires, unit) - now).num_minutes();
        assert_eq!(at(0.0), 50 * 60);
        assert_eq!(at(0.5), 60 * 60);
        assert_eq!(at(1.0), 70 * 60);
        // Out-of-range draws stay inside the window.
        assert_eq!(at(-3.0), 50 * 60);
        assert_eq!(at(7.0), 70 * 60);
        // Renewals of subscriptions created together spread over the window.
        let spread: std::collections::BTreeSet<i64> = (0..50).map(|_| at(rand::random())).collect();
        assert!(spread.len() > 40, "{spread:?}");
        assert!(spread.iter().all(|m| (50 * 60..=70 * 60).contains(m)));
        // An expiry in the past renews now.
        assert_eq!(
            renew_time(&settings, now, now - Duration::hours(1), 0.5),
            now
        );
    }
}
