//! Reading endpoints, the current secret (the one documented read of a secret) and the Ed25519
//! public key.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    DomainError, delivery::endpoints, delivery::webhooks::secrets::ed25519_public,
    platform::ids::EndpointId,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{EndpointList, EndpointView};
use crate::{
    annotations::{IdPath, PageParams, QueryRefusals, TenantRefusals},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::{Owned, TenantAuth},
    pagination::PageQuery,
    state::Services,
};

/// How an endpoint is doing right now: its circuit, what is in flight, and since when it fails.
#[derive(Serialize, ToSchema)]
pub struct HealthView {
    /// `closed` (normal), `open` (nothing is sent until `circuit_until`, deliveries wait without
    /// spending retries) or `half_open` (one probe decides).
    #[schema(example = "closed")]
    circuit: &'static str,
    circuit_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Attempts to this endpoint in flight now, across every worker.
    in_flight: u64,
    max_in_flight: i32,
    rate_limit_per_sec: Option<i32>,
    /// Since when every attempt has failed; `null` after a success.
    failing_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct SecretView {
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicKeyView {
    #[schema(example = "whpk_5V0Gm7yFv6jwgUZ5cWmkKjR9f0yYv3tKqAqTcXkXUac=")]
    public_key: String,
}

/// Lists the tenant's endpoints, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints",
    operation_id = "endpoints_list",
    params(PageParams),
    responses(
        (status = 200, description = "A page of endpoints", body = EndpointList),
        KeyRefusals,
        QueryRefusals,
    ),
)]
pub async fn list(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<PageQuery<EndpointId>>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let rows = endpoints::list(&state.db, auth.tenant_id(), query.cursor, limit).await?;
    let (data, next_cursor) = crate::pagination::page(
        rows,
        limit,
        |r| EndpointId::from(r.id),
        |r| EndpointView::new(&r, &state.secret_box),
    );
    let data = data.into_iter().collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(EndpointList { data, next_cursor }))
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{id}",
    operation_id = "endpoints_show",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        TenantRefusals<EndpointId>,
    ),
)]
pub async fn show(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(EndpointView::new(&endpoint, &state.secret_box)?))
}

/// The endpoint's health: circuit breaker state, attempts in flight, failing period.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{id}/health",
    operation_id = "endpoints_health",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "The endpoint's health", body = HealthView),
        TenantRefusals<EndpointId>,
    ),
)]
pub async fn health(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    use graphhook_domain::delivery::engine::flow::CircuitState;
    let circuit = state
        .flow
        .circuit(endpoint.id, state.clock.now())
        .await
        .map_err(graphhook_domain::DomainError::from)?;
    let in_flight = state
        .flow
        .in_flight(endpoint.id)
        .await
        .map_err(graphhook_domain::DomainError::from)?;
    let (circuit, circuit_until) = match circuit {
        CircuitState::Closed => ("closed", None),
        CircuitState::Open { until } => ("open", Some(until)),
        CircuitState::HalfOpen => ("half_open", None),
    };
    Ok(HttpResponse::Ok().json(HealthView {
        circuit,
        circuit_until,
        in_flight,
        max_in_flight: endpoint.max_in_flight,
        rate_limit_per_sec: endpoint.rate_limit_per_sec,
        failing_since: endpoint.failing_since,
    }))
}

/// The endpoint's current signing secret: the one read of a secret after creation.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{id}/secret",
    operation_id = "endpoints_secret",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "The current secret", body = SecretView),
        TenantRefusals<EndpointId>,
    ),
)]
pub async fn secret(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let secret = endpoints::current_secret(&state, &endpoint).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(SecretView {
            secret: secret.expose(),
        }))
}

/// The Ed25519 public key that verifies the endpoint's `v1a` signatures.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{id}/public-key",
    operation_id = "endpoints_public_key",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "The public key", body = PublicKeyView),
        TenantRefusals<EndpointId>,
        (status = 404, description = "No such endpoint, or it signs with HMAC only", body = ErrorBody),
    ),
)]
pub async fn public_key(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let key = endpoints::ed25519_key(&state.secret_box, &endpoint)?
        .ok_or_else(|| DomainError::NotFound("Ed25519 key (the endpoint signs with HMAC only)"))?;
    Ok(HttpResponse::Ok().json(PublicKeyView {
        public_key: ed25519_public(&key),
    }))
}
