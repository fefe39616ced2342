//! Reading endpoints, the current secret (the one documented read of a secret) and the Ed25519
//! public key.

use actix_web::{HttpResponse, web};
use graphhook_domain::{endpoints, ids::EndpointId, webhooks::secrets::ed25519_public};
use serde::Deserialize;
use serde_json::json;

use super::EndpointView;
use crate::{error::ApiError, extractors::TenantAuth, state::AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The previous page's `next_cursor`.
    cursor: Option<EndpointId>,
    limit: Option<u16>,
}

pub async fn list(
    auth: TenantAuth,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = u64::from(query.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit must be between 1 and 200"));
    }
    let rows = endpoints::list(&state.db, auth.tenant_id(), query.cursor, limit).await?;
    let next_cursor = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| EndpointId::from(r.id)))
        .flatten();
    let data = rows
        .iter()
        .map(|r| EndpointView::new(r, &state.secret_box))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_cursor": next_cursor})))
}

pub async fn show(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(&endpoint, &state.secret_box)?))
}

pub async fn secret(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let secret = endpoints::current_secret(&state.endpoint_deps(), &endpoint).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({"secret": secret.expose()})))
}

pub async fn public_key(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<EndpointId>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let key = endpoints::ed25519_key(&state.secret_box, &endpoint)?
        .ok_or_else(|| ApiError::not_found("Ed25519 key (the endpoint signs with HMAC only)"))?;
    Ok(HttpResponse::Ok().json(json!({"public_key": ed25519_public(&key)})))
}
