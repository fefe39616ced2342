//! `/api/v1/endpoints`: a tenant's webhook endpoints.

mod actions;
mod read;
mod write;

use actix_web::web;
use chrono::{DateTime, Utc};
use graphhook_domain::{
    endpoints,
    entities::endpoint::{self, DisabledReason, EndpointStatus},
    ids::EndpointId,
    webhooks::{crypt::SecretBox, secrets::ed25519_public, sender::UrlRefusal},
};
use serde::Serialize;
use serde_json::json;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/endpoints")
            .service(
                web::resource("")
                    .route(web::post().to(write::create))
                    .route(web::get().to(read::list)),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(read::show))
                    .route(web::patch().to(write::update))
                    .route(web::delete().to(write::delete)),
            )
            .service(web::resource("/{id}/verify").route(web::post().to(actions::verify)))
            .service(web::resource("/{id}/test").route(web::post().to(actions::test)))
            .service(web::resource("/{id}/secret").route(web::get().to(read::secret)))
            .service(web::resource("/{id}/secret/rotate").route(web::post().to(actions::rotate)))
            .service(web::resource("/{id}/public-key").route(web::get().to(read::public_key))),
    );
}

/// An endpoint as the tenant sees it. Secrets are never part of it.
#[derive(Serialize)]
pub struct EndpointView {
    id: EndpointId,
    url: String,
    description: String,
    status: EndpointStatus,
    disabled_reason: Option<DisabledReason>,
    filter_types: Vec<String>,
    headers: std::collections::BTreeMap<String, String>,
    timeout_secs: i32,
    rate_limit_per_sec: Option<i32>,
    max_in_flight: i32,
    /// `whpk_…` when requests also carry an Ed25519 (`v1a`) signature.
    ed25519_public_key: Option<String>,
    verified_at: Option<DateTime<Utc>>,
    verification_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointView {
    pub fn new(model: &endpoint::Model, secret_box: &SecretBox) -> Result<Self, ApiError> {
        let ed25519 = endpoints::ed25519_key(secret_box, model)?;
        Ok(Self {
            id: model.id.into(),
            url: model.url.clone(),
            description: model.description.clone(),
            status: model.status,
            disabled_reason: model.disabled_reason,
            filter_types: endpoints::filter_types(model),
            headers: endpoints::headers(model).into_iter().collect(),
            timeout_secs: model.timeout_ms / 1000,
            rate_limit_per_sec: model.rate_limit_per_sec,
            max_in_flight: model.max_in_flight,
            ed25519_public_key: ed25519.as_ref().map(ed25519_public),
            verified_at: model.verified_at,
            verification_error: model.verification_error.clone(),
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// A refused URL, naming the rule that refused it.
pub fn url_error(refusal: UrlRefusal) -> ApiError {
    let rule = match &refusal {
        UrlRefusal::Address(r) => r.rule.clone(),
        UrlRefusal::Resolves { refusal, .. } => refusal.rule.clone(),
        other => other.to_string(),
    };
    ApiError::validation(format!("url: {refusal}"))
        .with_details(json!({"field": "url", "rule": rule}))
}

pub fn input_error(error: endpoints::InputError) -> ApiError {
    ApiError::validation(error.to_string()).with_details(json!({"field": error.field}))
}
