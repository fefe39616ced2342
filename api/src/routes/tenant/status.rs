//! `GET /api/v1/tenant`: the tenant, its consent and what it is missing.
//! `POST /api/v1/tenant/verify`: checks the consent with Microsoft now (after granting missing
//! permissions, for example).

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    DomainError,
    graph::microsoft::roles,
    platform::entities::tenant,
    platform::ids::TenantId,
    tenancy::tenants::{self, AccessError, ConsentProof},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::TenantAuth,
    state::Services,
};

#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub granted_roles: Vec<String>,
    pub granted_at: DateTime<Utc>,
}

/// The tenant as it sees itself.
#[derive(Serialize, ToSchema)]
pub struct TenantView {
    #[schema(value_type = String, example = "ten_01a2254154d971fa93ff63f9783c66c4")]
    pub id: TenantId,
    pub name: String,
    #[schema(value_type = String, example = "c0a7e5d2-3b1f-4e6a-9d8c-7f2b1a0e9c34")]
    pub entra_tenant_id: uuid::Uuid,
    /// `pending`, `active`, `consent_revoked` or `suspended`.
    #[schema(value_type = String, example = "active")]
    pub status: tenant::TenantStatus,
    pub status_reason: Option<String>,
    pub consent: Option<ConsentView>,
    /// Permissions Graphhook needs that the consent lacks.
    pub missing_roles: Vec<&'static str>,
    pub created_at: DateTime<Utc>,
}

async fn view(state: &Services, tenant: &tenant::Model) -> Result<TenantView, ApiError> {
    let id = TenantId::from(tenant.id);
    let consent = tenants::current_consent(&state.db, id).await?;
    let granted = consent
        .as_ref()
        .map(tenants::granted_roles)
        .unwrap_or_default();
    Ok(TenantView {
        id,
        name: tenant.name.clone(),
        entra_tenant_id: tenant.entra_tenant_id,
        status: tenant.status,
        status_reason: tenant.status_reason.clone(),
        missing_roles: roles::missing(&granted),
        consent: consent.map(|c| ConsentView {
            granted_roles: granted,
            granted_at: c.granted_at,
        }),
        created_at: tenant.created_at,
    })
}

/// The tenant, its consent and the permissions it is missing.
#[utoipa::path(
    get,
    path = "/api/v1/tenant",
    operation_id = "tenant_show",
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        KeyRefusals,
    ),
)]
pub async fn show(auth: TenantAuth, state: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(view(&state, &auth.tenant).await?))
}

/// Checks the consent with Microsoft now and records the granted roles.
#[utoipa::path(
    post,
    path = "/api/v1/tenant/verify",
    operation_id = "tenant_verify",
    responses(
        (status = 200, description = "The tenant, with the roles Microsoft shows now", body = TenantView),
        KeyRefusals,
        (status = 409, description = "Microsoft refused a token: consent was revoked", body = ErrorBody),
        (status = 503, description = "Microsoft could not be reached", body = ErrorBody),
    ),
)]
pub async fn verify(
    auth: TenantAuth,
    state: web::Data<Services>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let token =
        match tenants::access_token(&state.db, &state.clock, &state.broker, &auth.tenant, true)
            .await
        {
            Ok(token) => token,
            Err(AccessError::Token(error)) => {
                let message = format!("Microsoft refused a token for this tenant: {error}");
                // An AADSTS answer is the tenant's doing (consent, a disabled app); anything
                // else is Microsoft being unreachable for now.
                return Err(if let Some(code) = error.aadsts() {
                    DomainError::conflict_with(
                        "token_refused",
                        message,
                        vec![("aadsts", Some(code.to_string()))],
                    )
                } else {
                    DomainError::Unavailable {
                        message,
                        source: None,
                    }
                }
                .into());
            }
            Err(error @ AccessError::Reauthorize { .. }) => {
                return Err(DomainError::conflict("reauthorize", error.to_string()).into());
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
        auth.actor(),
        auth.request_id.clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(&state, &recorded.tenant).await?))
}

/// The confirmation `DELETE /api/v1/tenant` needs.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"confirm": "Contoso"}))]
pub struct OffboardTenant {
    /// The tenant's name, exactly as `GET /api/v1/tenant` shows it.
    confirm: String,
}

/// Offboards the tenant: its Graph subscriptions are deleted at Graph, every API key (this one
/// too) is revoked, deliveries stop, and its data is removed after the retention window.
#[utoipa::path(
    delete,
    path = "/api/v1/tenant",
    operation_id = "tenant_offboard",
    request_body = OffboardTenant,
    responses(
        (status = 200, description = "Offboarded: what was done, and when the data goes"),
        KeyRefusals,
        (status = 422, description = "The confirmation does not match the tenant's name", body = ErrorBody),
    ),
)]
pub async fn offboard(
    auth: TenantAuth,
    state: web::Data<Services>,
    body: web::Json<OffboardTenant>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.actor();
    crate::routes::admin::tenants::offboard_confirmed(
        &state,
        &auth.tenant,
        &body.confirm,
        actor,
        auth.request_id.clone(),
    )
    .await
}
