//! `GET /api/v1/tenant`: the tenant, its consent and what it is missing.
//! `POST /api/v1/tenant/verify`: checks the consent with Microsoft now (after granting missing
//! permissions, for example).

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    ids::TenantId,
    microsoft::roles,
    tenants::{self, AccessError, ConsentProof},
};
use serde_json::json;

use crate::{
    error::{ApiError, Code},
    extractors::TenantAuth,
    state::AppState,
};

async fn view(
    state: &AppState,
    tenant: &graphhook_domain::entities::tenant::Model,
) -> Result<serde_json::Value, ApiError> {
    let id = TenantId::from(tenant.id);
    let consent = tenants::current_consent(&state.db, id).await?;
    let granted = consent
        .as_ref()
        .map(tenants::granted_roles)
        .unwrap_or_default();
    Ok(json!({
        "id": id,
        "name": tenant.name,
        "entra_tenant_id": tenant.entra_tenant_id,
        "status": tenant.status,
        "status_reason": tenant.status_reason,
        "consent": consent.map(|c| json!({"granted_roles": granted, "granted_at": c.granted_at})),
        "missing_roles": roles::missing(&granted),
        "created_at": tenant.created_at,
    }))
}

pub async fn show(auth: TenantAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(view(&state, &auth.tenant).await?))
}

pub async fn verify(
    auth: TenantAuth,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token =
        match tenants::access_token(&state.db, &state.clock, &state.broker, &auth.tenant, true)
            .await
        {
            Ok(token) => token,
            Err(AccessError::Token(error)) => {
                let code = if error.aadsts().is_some() {
                    Code::Conflict
                } else {
                    Code::ServiceUnavailable
                };
                return Err(ApiError::new(
                    code,
                    format!("Microsoft refused a token for this tenant: {error}"),
                ));
            }
            Err(AccessError::Domain(error)) => return Err(error.into()),
        };
    let proof = ConsentProof {
        entra_tenant_id: auth.tenant.entra_tenant_id,
        roles: token.claims.roles.clone(),
    };
    let recorded = tenants::record_consent(
        &state.db,
        &state.clock,
        &proof,
        &auth.tenant.name,
        auth.request_id.clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&state, &recorded.tenant).await?))
}
