//! `/admin/v1/encryption-certificates`: the certificates Graph encrypts rich notifications
//! with. Listing shows labels and dates (never keys); rotating makes a new current one.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    audit::{self, Actor, NewEntry},
    microsoft::certificates,
};
use serde_json::json;

use crate::{error::ApiError, extractors::Operator, state::AppState};

pub async fn list(
    _operator: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all = certificates::list(&state.db).await?;
    let data: Vec<_> = all
        .iter()
        .map(|c| json!({"label": c.label, "created_at": c.created_at, "retired_at": c.retired_at}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data})))
}

pub async fn rotate(
    operator: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let current = certificates::rotate(&state.db, &state.clock, &state.secret_box).await?;
    let entry = NewEntry::new(
        Actor::operator(&operator.name),
        "encryption_certificate.rotated",
    )
    .target("encryption_certificate", &current.label)
    .request_id(operator.request_id);
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::Ok().json(json!({"label": current.label})))
}
