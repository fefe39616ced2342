//! `/api/v1/api-keys`: a tenant's keys. The whole key is returned once, at creation.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    operator::audit, platform::entities::api_key, platform::ids::ApiKeyId,
    platform::secret::ExposeSecret, tenancy::api_keys,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    annotations::{IdPath, TenantRefusals},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::TenantAuth,
    state::Services,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "CI"}))]
pub struct CreateKey {
    /// 1 to 100 characters.
    name: String,
}

/// An API key, without its secret part.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    #[schema(value_type = String, example = "key_01a2254154d971fa93ff63f9783c66c4")]
    id: ApiKeyId,
    name: String,
    /// The key's public start.
    #[schema(example = "ghk_gCRKo8veECn4")]
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A new key: the only time the whole key is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    key_view: KeyView,
    /// The whole key; store it now.
    #[schema(example = "ghk_gCRKo8veECn4_YH0kqvuI8OpgYV0p3vTsZ0xt6SpqAr97lq3nY0cqYws")]
    key: String,
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    data: Vec<KeyView>,
}

impl From<api_key::Model> for KeyView {
    fn from(k: api_key::Model) -> Self {
        Self {
            id: k.id.into(),
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// Creates an API key and returns it, once.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    operation_id = "api_keys_create",
    request_body = CreateKey,
    responses(
        (status = 201, description = "The new key, shown once", body = CreatedKey),
        KeyRefusals,
        (status = 409, description = "The tenant holds `api.max_api_keys_per_tenant` keys that are neither revoked nor expired (`details.rule: \"quota\"`, with the `limit`)", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody),
    ),
)]
pub async fn create(
    auth: TenantAuth,
    state: web::Data<Services>,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let limit = state.settings.api.max_api_keys_per_tenant;
    let created =
        api_keys::create(&state.db, &state.clock, auth.tenant_id(), &body.name, limit).await?;
    let entry = auth
        .audit("api_key.created")
        .target("api_key", ApiKeyId::from(created.model.id));
    audit::record(&state.db, &state.clock, entry).await?;
    let key = created.key.expose_secret().to_owned();
    Ok(HttpResponse::Created().json(CreatedKey {
        key_view: KeyView::from(created.model),
        key,
    }))
}

/// Lists the tenant's keys (never their secret part).
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "api_keys_list",
    responses(
        (status = 200, description = "The keys, newest first", body = KeyList),
        KeyRefusals,
    ),
)]
pub async fn list(
    auth: TenantAuth,
    state: web::Data<Services>,
    _query: web::Query<crate::pagination::NoQuery>,
) -> Result<HttpResponse, ApiError> {
    let keys = api_keys::list(&state.db, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(KeyList {
        data: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// Revokes a key.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    operation_id = "api_keys_revoke",
    params(IdPath<ApiKeyId>),
    responses(
        (status = 204, description = "Revoked"),
        TenantRefusals<ApiKeyId>,
        (status = 400, description = "Malformed id", body = ErrorBody),
    ),
)]
pub async fn revoke(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    api_keys::revoke(&state.db, &state.clock, auth.tenant_id(), id).await?;
    let entry = auth.audit("api_key.revoked").target("api_key", id);
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::NoContent().finish())
}
