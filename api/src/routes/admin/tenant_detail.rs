//! `GET /admin/v1/tenants/{id}`: one tenant with everything an operator looks at first: its
//! consent, API keys (never secrets), endpoints, subscriptions, connected users and delivery
//! health.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    delivery::endpoints,
    graph::subscriptions,
    operator::admin::{self, DeliveryHealth},
    platform::entities::{
        api_key, consent,
        endpoint::{self, DisabledReason, EndpointStatus},
    },
    platform::ids::{ApiKeyId, ConnectionId, EndpointId, SubscriptionId, TenantId},
    tenancy::connections,
    tenancy::tenants,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{subscriptions::SubscriptionView, tenants::TenantView};
use crate::routes::connections::ConnectionView;
use crate::{
    annotations::{IdPath, OperatorTargetRefusals},
    error::ApiError,
    extractors::Operator,
    state::Services,
};

/// The consent in force.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    /// The application roles granted to Graphhook in the tenant.
    roles: Vec<String>,
    granted_at: DateTime<Utc>,
}

impl From<&consent::Model> for ConsentView {
    fn from(c: &consent::Model) -> Self {
        Self {
            roles: tenants::granted_roles(c),
            granted_at: c.granted_at,
        }
    }
}

/// An API key's prefix and dates; never the key.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String, example = "key_0194c1a27b3c7d4e8f90123456789abc")]
    id: ApiKeyId,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_key::Model> for ApiKeyView {
    fn from(k: &api_key::Model) -> Self {
        Self {
            id: k.id.into(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// An endpoint's address and health.
#[derive(Serialize, ToSchema)]
pub struct EndpointSummaryView {
    #[schema(value_type = String, example = "ep_0194c1a27b3c7d4e8f90123456789abc")]
    id: EndpointId,
    url: String,
    /// `pending_verification`, `active` or `disabled`.
    #[schema(value_type = String, example = "active")]
    status: EndpointStatus,
    /// `by_tenant`, `failing` or `gone`, when `disabled`.
    #[schema(value_type = Option<String>)]
    disabled_reason: Option<DisabledReason>,
    /// Since when every attempt has failed; `null` after a success.
    failing_since: Option<DateTime<Utc>>,
}

impl From<&endpoint::Model> for EndpointSummaryView {
    fn from(e: &endpoint::Model) -> Self {
        Self {
            id: e.id.into(),
            url: e.url.clone(),
            status: e.status,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
        }
    }
}

/// The tenant's deliveries over the last day, and what waits.
#[derive(Serialize, ToSchema)]
pub struct DeliveryHealthView {
    attempts_24h: i64,
    /// Attempts the endpoint answered with 2xx.
    succeeded_24h: i64,
    failed_24h: i64,
    /// Deliveries not yet delivered (pending, retrying, held).
    open_deliveries: i64,
    /// Deliveries given up on in the last day.
    exhausted_24h: i64,
}

impl From<DeliveryHealth> for DeliveryHealthView {
    fn from(h: DeliveryHealth) -> Self {
        Self {
            attempts_24h: h.attempts_24h,
            succeeded_24h: h.succeeded_24h,
            failed_24h: h.failed_24h,
            open_deliveries: h.open_deliveries,
            exhausted_24h: h.exhausted_24h,
        }
    }
}

/// One tenant with everything an operator looks at first.
#[derive(Serialize, ToSchema)]
pub struct TenantDetail {
    tenant: TenantView,
    /// `null` when no consent is in force.
    consent: Option<ConsentView>,
    /// Newest first.
    api_keys: Vec<ApiKeyView>,
    /// The first 200.
    endpoints: Vec<EndpointSummaryView>,
    /// The first 200.
    subscriptions: Vec<SubscriptionView>,
    /// Connected Microsoft users (the first 200); never their tokens.
    connections: Vec<ConnectionView>,
    delivery_health: DeliveryHealthView,
}

/// Shows a tenant: its consent, API keys, endpoints, subscriptions, connections and delivery
/// health.
#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{id}",
    operation_id = "admin_tenants_show",
    params(IdPath<TenantId>),
    responses(
        (status = 200, description = "The tenant", body = TenantDetail),
        OperatorTargetRefusals<TenantId>,
    ),
)]
pub async fn show(
    _operator: Operator,
    state: web::Data<Services>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let tenant = super::tenants::find(&state, id).await?;
    let consent = tenants::current_consent(&state.db, id).await?;
    let keys = admin::api_keys(&state.db, id).await?;
    let endpoint_rows = endpoints::list(&state.db, id, None::<EndpointId>, 200).await?;
    let subscription_rows = subscriptions::list(&state.db, id, None::<SubscriptionId>, 200).await?;
    let connection_rows = connections::list(&state.db, id, None::<ConnectionId>, 200).await?;
    let health = admin::delivery_health(&state.db, id, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(TenantDetail {
        tenant: TenantView::from(&tenant),
        consent: consent.as_ref().map(ConsentView::from),
        api_keys: keys.iter().map(ApiKeyView::from).collect(),
        endpoints: endpoint_rows
            .iter()
            .map(EndpointSummaryView::from)
            .collect(),
        subscriptions: subscription_rows
            .iter()
            .map(SubscriptionView::from)
            .collect(),
        connections: connection_rows.iter().map(ConnectionView::from).collect(),
        delivery_health: health.into(),
    }))
}
