//! Actions on an endpoint: verify its ownership again, send a test event, rotate its secret.

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use graphhook_domain::{
    DomainError, delivery::endpoints, delivery::engine, delivery::webhooks::secrets::HmacSecret,
    platform::ids::EndpointId,
};
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, Visitor},
};

use utoipa::ToSchema;

use super::EndpointView;
use crate::{
    annotations::{IdPath, TenantRefusals},
    body::OptionalJson,
    error::{ApiError, ErrorBody},
    extractors::{Owned, TenantAuth},
    state::Services,
};

/// Sends the ownership challenge again.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{id}/verify",
    operation_id = "endpoints_verify",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "The endpoint, `active` if it answered", body = EndpointView),
        TenantRefusals<EndpointId>,
    ),
)]
pub async fn verify(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, _) = endpoints::verify(&state, endpoint).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(&endpoint, &state.secret_box)?))
}

/// Sends one signed `endpoint.test` message now and reports the answer. The message is in the
/// delivery history; if the endpoint fails, it is retried like any other.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{id}/test",
    operation_id = "endpoints_test",
    params(IdPath<EndpointId>),
    responses(
        (status = 200, description = "What happened", body = TestResult),
        TenantRefusals<EndpointId>,
        (status = 409, description = "The endpoint is not active", body = ErrorBody),
    ),
)]
pub async fn test(
    Owned(endpoint): Owned<EndpointId>,
    state: web::Data<Services>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let sent = engine::send_test(&state, &endpoint).await?;
    let outcome = sent.outcome;
    Ok(HttpResponse::Ok().json(TestResult {
        message_id: sent.webhook_id,
        delivered: outcome.is_success(),
        status: outcome.status,
        duration_ms: outcome.duration_ms,
        response_headers: outcome.headers,
        response_body: outcome.body,
        error: outcome.error,
    }))
}

/// What a test event did.
#[derive(Serialize, ToSchema)]
pub struct TestResult {
    /// The test message's `webhook-id`.
    message_id: String,
    /// Whether the endpoint answered 2xx.
    delivered: bool,
    status: Option<u16>,
    duration_ms: u64,
    /// The response's headers, as `[name, value]` pairs.
    response_headers: Vec<(String, String)>,
    /// The first 64 KiB of the response body.
    response_body: String,
    /// When no response came back: `{"class": "refused" | "timeout" | "connect" | "tls" | "other", "message"}`.
    #[schema(value_type = Option<Object>)]
    error: Option<graphhook_domain::delivery::webhooks::sender::SendError>,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret, shown once.
    secret: String,
    /// Until then the old secrets keep signing.
    old_secrets_expire_at: chrono::DateTime<chrono::Utc>,
}

/// The optional body of a rotation: no body means the defaults; a body must be this object.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grace_period_secs": 86400}))]
pub struct Rotate {
    /// How long the old secret keeps signing (0–604800 s, 7 days; default one day).
    #[serde(default, deserialize_with = "whole_seconds")]
    #[schema(value_type = Option<i64>)]
    grace_period_secs: Option<i128>,
    /// The tenant's own new `whsec_…` secret; generated when absent.
    secret: Option<String>,
}

/// A whole number of seconds, read wider than `i64` so that any integer out of range gets the
/// range in its error (`1e3` and `1.0` are whole; a fraction, a string or a boolean is refused
/// as a value of the wrong type); `null` is the default.
fn whole_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i128>, D::Error> {
    struct Whole;
    impl Visitor<'_> for Whole {
        type Value = Option<i128>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of seconds")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.into()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v.fract() == 0.0 {
                // Saturates: far out of range stays out of range.
                return Ok(Some(v as i128));
            }
            Err(E::invalid_type(de::Unexpected::Float(v), &self))
        }
    }
    deserializer.deserialize_any(Whole)
}

/// Rotates the signing secret; the old one keeps signing for the grace period.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{id}/secret/rotate",
    operation_id = "endpoints_rotate",
    params(IdPath<EndpointId>),
    request_body(content = Option<Rotate>, description = "Optional: without a body, a generated secret and a day's grace; a body must be this JSON object"),
    responses(
        (status = 200, description = "The new secret, shown once", body = RotatedSecret),
        (status = 400, description = "A body that is not JSON", body = ErrorBody),
        TenantRefusals<EndpointId>,
        (status = 415, description = "A body that is not sent as `application/json`", body = ErrorBody),
        (status = 422, description = "A body that is not the object above, or a grace period or secret out of range", body = ErrorBody),
    ),
)]
pub async fn rotate(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<EndpointId>,
    body: OptionalJson<Rotate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner().unwrap_or_default();
    let endpoint = endpoints::find(&state.db, auth.tenant_id(), id.into_inner()).await?;
    let new_secret = body
        .secret
        .as_deref()
        .map(HmacSecret::parse)
        .transpose()
        .map_err(|e| DomainError::invalid_field("secret", format!("secret: {e}")))?;
    let secs = body
        .grace_period_secs
        .map_or(endpoints::DEFAULT_GRACE_SECS, |secs| {
            i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX })
        });
    let grace = endpoints::grace_period(secs)?;
    let secret = endpoints::rotate(&state, auth.tenant_id(), &endpoint, grace, new_secret).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(RotatedSecret {
            secret: secret.expose(),
            old_secrets_expire_at: state.clock.now() + grace,
        }))
}
