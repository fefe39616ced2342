//! Actions on an endpoint: verify its ownership again, send a test event, rotate its secret.

use actix_web::{HttpResponse, web};
use chrono::Duration;
use graphhook_domain::{endpoints, ids::EndpointId, webhooks::secrets::HmacSecret};
use serde::Deserialize;
use serde_json::json;

use super::EndpointView;
use crate::{error::ApiError, extractors::TenantAuth, state::AppState};

pub async fn verify(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let (endpoint, _) = endpoints::verify(&state.endpoint_deps(), endpoint).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(&endpoint, &state.secret_box)?))
}

pub async fn test(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let (message_id, outcome) = endpoints::test_event(&state.endpoint_deps(), &endpoint).await?;
    Ok(HttpResponse::Ok().json(json!({
        "message_id": message_id,
        "delivered": outcome.is_success(),
        "status": outcome.status,
        "duration_ms": outcome.duration_ms,
        "response_headers": outcome.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "response_body": outcome.body,
        "error": outcome.error,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// How long the old secret keeps signing (0–604800 s; default one day).
    grace_period_secs: Option<i64>,
    /// The tenant's own new `whsec_…` secret; generated when absent.
    secret: Option<String>,
}

pub async fn rotate(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
    body: Option<web::Json<Rotate>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let new_secret = body
        .secret
        .as_deref()
        .map(HmacSecret::parse)
        .transpose()
        .map_err(|e| ApiError::validation(format!("secret: {e}")))?;
    let grace = Duration::seconds(body.grace_period_secs.unwrap_or(24 * 3600));
    let secret = endpoints::rotate(
        &state.endpoint_deps(),
        auth.tenant_id(),
        &endpoint,
        grace,
        new_secret,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "secret": secret.expose(),
            "old_secrets_expire_at": state.clock.now() + grace,
        })))
}
