//! `POST /portal/session`: the tenant portal signs in with an API key and gets a short-lived
//! session token instead (`Authorization: Bearer <token>` on the tenant api), so the key itself
//! need not stay in the browser. The key travels in the body, never in a URL.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    DomainError, platform::entities::tenant::TenantStatus, platform::ids::TenantId,
    tenancy::api_keys,
};
use serde::Deserialize;
use serde_json::json;

use crate::{error::ApiError, state::Services};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/portal/session").route(web::post().to(session)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    api_key: String,
}

async fn session(
    state: web::Data<Services>,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let presented = body.api_key.trim();
    let (key, tenant) = match api_keys::authenticate(&state.db, &state.clock, presented).await? {
        Ok(found) => found,
        Err(error) => {
            return Err(ApiError::unauthorized_because(
                error.rule(),
                error.to_string(),
            ));
        }
    };
    if !matches!(
        tenant.status,
        TenantStatus::Active | TenantStatus::ConsentRevoked
    ) {
        let reason = tenant.status_reason.clone().unwrap_or_default();
        return Err(
            DomainError::forbidden(format!("this tenant cannot sign in now: {reason}")).into(),
        );
    }
    let (token, expires_at) =
        api_keys::sessions::mint(&state.settings.admin_signing_key(), &key, state.clock.now())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("could not sign a session")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "token": token,
            "expires_at": expires_at,
            "tenant": {
                "id": TenantId::from(tenant.id),
                "name": tenant.name,
                "status": tenant.status,
            },
        })))
}
