//! Creating, changing and deleting endpoints. A new endpoint, or one whose URL changed, is
//! verified at once; nothing else is sent to it until it passes.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    DomainError,
    delivery::endpoints::{
        self, EndpointInput, EndpointPatch, Limits, RawEndpoint,
        headers::unmask,
        input::{
            check_description, check_filter_types, check_headers, check_max_in_flight,
            check_rate_limit, check_retry_schedule, check_timeout,
        },
    },
    delivery::webhooks::secrets::HmacSecret,
    platform::ids::EndpointId,
};
use serde::Deserialize;

use super::{
    CreatedEndpoint, EndpointView,
    retry_schedule::{Delays, given, present},
};
use crate::{
    annotations::{IdPath, TenantRefusals},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::TenantAuth,
    state::Services,
};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/graphhook", "filter_types": ["graph.message.*"], "timeout_secs": 15, "retry_schedule": [10, 60, 600, 3600]}))]
pub struct CreateEndpoint {
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    filter_types: Vec<String>,
    /// Sent with every request (e.g. `Authorization`); stored encrypted and shown masked.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout_secs: Option<u64>,
    rate_limit_per_sec: Option<u32>,
    max_in_flight: Option<u32>,
    /// The tenant's own `whsec_…` secret; generated when absent.
    secret: Option<String>,
    /// Also sign with Ed25519 (`v1a`).
    #[serde(default)]
    ed25519: bool,
    /// The delays (whole seconds) before attempts 2, 3, … of a failed delivery: 1 to 20 of
    /// them, each 1 to 86400, each with ±20 % jitter; after the last the delivery is
    /// `exhausted`. Absent or `null`: the deployment's schedule.
    #[schema(value_type = Option<Vec<i64>>, min_items = 1, max_items = 20, example = json!([10, 60, 600, 3600]))]
    retry_schedule: Option<Delays>,
}

/// Registers an endpoint, returns its secret once, and sends it the ownership challenge.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints",
    operation_id = "endpoints_create",
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "Registered; `active` if it answered the challenge", body = CreatedEndpoint),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        KeyRefusals,
        (status = 409, description = "The tenant holds `webhooks.max_endpoints_per_tenant` endpoints already (`details.rule: \"quota\"`, with the `limit`)", body = ErrorBody),
        (status = 422, description = "A refused URL (the rule is named) or setting", body = ErrorBody),
    ),
)]
pub async fn create(
    auth: TenantAuth,
    state: web::Data<Services>,
    body: web::Json<CreateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let url = state.sender.check_url(&body.url).await?;
    let raw = RawEndpoint {
        description: &body.description,
        filter_types: &body.filter_types,
        headers: &body.headers,
        timeout_secs: body.timeout_secs,
        rate_limit_per_sec: body.rate_limit_per_sec,
        max_in_flight: body.max_in_flight,
        ed25519: body.ed25519,
        retry_schedule: body.retry_schedule.as_ref().map(|d| d.as_slice()),
    };
    let settings = &state.settings.webhooks;
    let limits = Limits {
        default_timeout_secs: settings.default_timeout_secs,
        default_max_in_flight: settings.default_max_in_flight,
    };
    let input = EndpointInput::parse(url, raw, limits)?;
    let secret = body
        .secret
        .as_deref()
        .map(HmacSecret::parse)
        .transpose()
        .map_err(|e| DomainError::invalid_field("secret", format!("secret: {e}")))?;
    let (endpoint, secret) = endpoints::create(&state, auth.tenant_id(), input, secret).await?;
    let (endpoint, _) = endpoints::verify(&state, endpoint).await?;
    let view = CreatedEndpoint {
        endpoint: EndpointView::new(&endpoint, &state.secret_box)?,
        secret: secret.expose(),
    };
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct UpdateEndpoint {
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    url: Option<String>,
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    description: Option<String>,
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    filter_types: Option<Vec<String>>,
    /// Replaces every custom header; a header left out is removed. A value of `********` (as
    /// the endpoint shows it) keeps the stored value of that header.
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    timeout_secs: Option<u64>,
    /// A number sets the limit; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    rate_limit_per_sec: Option<Option<u32>>,
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    max_in_flight: Option<u32>,
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false)]
    enabled: Option<bool>,
    /// An array of delays (as on creation) replaces the endpoint's retry schedule; `null`
    /// returns it to the deployment's. Deliveries already waiting keep their next attempt's due
    /// time; the delays after it follow the new schedule.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<i64>>, min_items = 1, max_items = 20, example = json!([10, 60, 600]))]
    retry_schedule: Option<Option<Delays>>,
}

/// Changes an endpoint; a new URL is verified again. `"enabled": false` disables it.
#[utoipa::path(
    patch,
    path = "/api/v1/endpoints/{id}",
    operation_id = "endpoints_update",
    params(IdPath<EndpointId>),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        TenantRefusals<EndpointId>,
        (status = 422, description = "A refused URL or setting", body = ErrorBody),
    ),
)]
pub async fn update(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<EndpointId>,
    body: web::Json<UpdateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = id.into_inner();
    let current = endpoints::find(&state.db, auth.tenant_id(), id).await?;
    let url = match &body.url {
        Some(url) => Some(state.sender.check_url(url).await?),
        None => None,
    };
    let rate_limit_per_sec = match body.rate_limit_per_sec {
        None => None,
        Some(None) => Some(None),
        Some(Some(rate)) => Some(Some(check_rate_limit(rate)?)),
    };
    let patch = EndpointPatch {
        url,
        description: body
            .description
            .as_deref()
            .map(check_description)
            .transpose()?,
        filter_types: body
            .filter_types
            .as_deref()
            .map(check_filter_types)
            .transpose()?,
        headers: match body.headers.as_ref() {
            Some(headers) => {
                let stored = endpoints::headers::read(&state.secret_box, &current)?;
                Some(check_headers(headers).and_then(|h| unmask(h, &stored))?)
            }
            None => None,
        },
        timeout_ms: body.timeout_secs.map(check_timeout).transpose()?,
        rate_limit_per_sec,
        max_in_flight: body.max_in_flight.map(check_max_in_flight).transpose()?,
        enabled: body.enabled,
        retry_schedule: match &body.retry_schedule {
            None => None,
            Some(None) => Some(None),
            Some(Some(delays)) => Some(Some(check_retry_schedule(delays.as_slice())?)),
        },
    };
    let (mut endpoint, url_changed) =
        endpoints::update(&state, auth.tenant_id(), id, patch).await?;
    if url_changed {
        endpoint = endpoints::verify(&state, endpoint).await?.0;
    }
    Ok(HttpResponse::Ok().json(EndpointView::new(&endpoint, &state.secret_box)?))
}

/// Deletes an endpoint.
#[utoipa::path(
    delete,
    path = "/api/v1/endpoints/{id}",
    operation_id = "endpoints_delete",
    params(IdPath<EndpointId>),
    responses(
        (status = 204, description = "Deleted"),
        TenantRefusals<EndpointId>,
    ),
)]
pub async fn delete(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    endpoints::delete(&state, auth.tenant_id(), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
