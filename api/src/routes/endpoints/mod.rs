//! `/api/v1/endpoints`: a tenant's webhook endpoints.

pub(crate) mod actions;
pub(crate) mod read;
mod retry_schedule;
pub(crate) mod write;

use chrono::{DateTime, Utc};
use graphhook_domain::{
    delivery::endpoints,
    delivery::webhooks::{crypt::SecretBox, secrets::ed25519_public},
    platform::entities::endpoint::{self, DisabledReason, EndpointStatus},
    platform::ids::EndpointId,
};
use serde::Serialize;

use crate::error::ApiError;

/// An endpoint as the tenant sees it. Secrets are never part of it, and custom headers only by
/// name.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    #[schema(value_type = String, example = "ep_01a2254154d971fa93ff63f9783c66c4")]
    id: EndpointId,
    url: String,
    description: String,
    /// `pending_verification`, `active` or `disabled`.
    #[schema(value_type = String, example = "active")]
    status: EndpointStatus,
    /// `by_tenant`, `failing` or `gone` when disabled.
    #[schema(value_type = Option<String>)]
    disabled_reason: Option<DisabledReason>,
    filter_types: Vec<String>,
    /// The custom headers' names (lower case), every value masked as `********`: values are
    /// stored encrypted and never shown. Sending `********` back as a value in a change keeps
    /// the stored one.
    #[schema(example = json!({"authorization": "********"}))]
    headers: std::collections::BTreeMap<String, String>,
    timeout_secs: i32,
    rate_limit_per_sec: Option<i32>,
    max_in_flight: i32,
    /// The endpoint's own retry schedule: the delays (seconds) before attempts 2, 3, …;
    /// `null`: it follows the deployment's.
    #[schema(example = json!([10, 60, 600, 3600]))]
    retry_schedule: Option<Vec<i64>>,
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
            headers: endpoints::headers::masked(secret_box, model)?,
            timeout_secs: model.timeout_ms / 1000,
            rate_limit_per_sec: model.rate_limit_per_sec,
            max_in_flight: model.max_in_flight,
            retry_schedule: endpoints::retry_schedule(model),
            ed25519_public_key: ed25519.as_ref().map(ed25519_public),
            verified_at: model.verified_at,
            verification_error: model.verification_error.clone(),
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// A new endpoint: the only answer that carries its secret, besides `GET …/secret`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<EndpointId>,
}
