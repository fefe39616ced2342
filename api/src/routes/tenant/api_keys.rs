//! `/api/v1/api-keys`: a tenant's keys. The whole key is returned once, at creation.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    api_keys,
    audit::{self, Actor, NewEntry},
    entities::{api_key, audit_log::ActorKind},
    ids::ApiKeyId,
    secret::ExposeSecret,
};
use serde::{Deserialize, Serialize};

use crate::{error::ApiError, extractors::TenantAuth, state::AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
}

#[derive(Serialize)]
struct KeyView {
    id: ApiKeyId,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
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

fn actor(auth: &TenantAuth) -> Actor {
    Actor {
        kind: ActorKind::Tenant,
        id: Some(auth.key_id.to_string()),
    }
}

pub async fn create(
    auth: TenantAuth,
    state: web::Data<AppState>,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let created = api_keys::create(&state.db, &state.clock, auth.tenant_id(), &body.name).await?;
    let entry = NewEntry::new(actor(&auth), "api_key.created")
        .tenant(auth.tenant_id())
        .target("api_key", ApiKeyId::from(created.model.id))
        .request_id(auth.request_id.clone());
    audit::record(&state.db, &state.clock, entry).await?;
    let key = created.key.expose_secret().to_owned();
    let mut view =
        serde_json::to_value(KeyView::from(created.model)).map_err(ApiError::internal)?;
    if let Some(map) = view.as_object_mut() {
        map.insert("key".into(), serde_json::Value::String(key));
    }
    Ok(HttpResponse::Created().json(view))
}

pub async fn list(auth: TenantAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = api_keys::list(&state.db, auth.tenant_id()).await?;
    let data: Vec<KeyView> = keys.into_iter().map(KeyView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data})))
}

pub async fn revoke(
    auth: TenantAuth,
    state: web::Data<AppState>,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    api_keys::revoke(&state.db, &state.clock, auth.tenant_id(), id).await?;
    let entry = NewEntry::new(actor(&auth), "api_key.revoked")
        .tenant(auth.tenant_id())
        .target("api_key", id)
        .request_id(auth.request_id.clone());
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::NoContent().finish())
}
