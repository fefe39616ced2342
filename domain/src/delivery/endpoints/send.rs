//! Signed requests to an endpoint: the ownership verification and the test event.

use std::time::Duration;

use rand::RngCore;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use super::{ed25519_key, headers, live_hmac_secrets};
use crate::{
    delivery::webhooks::{
        new_message_id,
        sender::{Outcome, Request},
        signing::signature_header,
    },
    platform::entities::endpoint::{self, EndpointStatus},
    platform::error::{DomainError, DomainResult},
    services::Services,
};

/// How long an endpoint has to answer the verification challenge.
pub const VERIFICATION_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to an endpoint, signed and ready to go.
pub struct Signed {
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Signs `body` as message `msg_id` with every live secret of the endpoint.
pub async fn sign(
    services: &Services,
    endpoint: &endpoint::Model,
    msg_id: &str,
    body: Vec<u8>,
) -> DomainResult<Signed> {
    let url = url::Url::parse(&endpoint.url)
        .map_err(|e| DomainError::internal("a stored endpoint URL", e))?;
    let keys: Vec<Vec<u8>> = live_hmac_secrets(services, endpoint)
        .await?
        .iter()
        .map(|s| s.key().to_vec())
        .collect();
    let ed25519 = ed25519_key(&services.secret_box, endpoint)?;
    let timestamp = services.clock.now().timestamp();
    let signature = signature_header(&keys, ed25519.as_ref(), msg_id, timestamp, &body);
    let mut request_headers: Vec<(String, String)> = headers::read(&services.secret_box, endpoint)?
        .into_iter()
        .collect();
    request_headers.extend([
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), msg_id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature),
    ]);
    Ok(Signed {
        url,
        headers: request_headers,
        body,
    })
}

/// Sends a signed request.
pub async fn send(
    sender: &crate::delivery::webhooks::sender::Sender,
    signed: Signed,
    timeout: Duration,
) -> Outcome {
    sender
        .send(Request {
            url: &signed.url,
            headers: signed.headers,
            body: signed.body,
            timeout,
        })
        .await
}

/// Signs `body` as message `msg_id` with every live secret and sends it to the endpoint.
pub async fn send_signed(
    services: &Services,
    endpoint: &endpoint::Model,
    msg_id: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> DomainResult<Outcome> {
    let signed = sign(services, endpoint, msg_id, body).await?;
    Ok(send(&services.sender, signed, timeout).await)
}

fn event_body(deps_now: chrono::DateTime<chrono::Utc>, event_type: &str, data: Value) -> Vec<u8> {
    let body = json!({"type": event_type, "timestamp": deps_now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "data": data});
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Ownership verification (webhooks.md): a signed `endpoint.verification` request with a random
/// challenge; the endpoint must answer 2xx within 10 s with `{"challenge": "<same>"}`. Success
/// makes a pending endpoint `active`; failure leaves it pending with the reason.
pub async fn verify(
    services: &Services,
    endpoint: endpoint::Model,
) -> DomainResult<(endpoint::Model, Outcome)> {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let challenge =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    let body = event_body(
        services.clock.now(),
        "endpoint.verification",
        json!({"challenge": challenge}),
    );
    let outcome = send_signed(
        services,
        &endpoint,
        &new_message_id(),
        body,
        VERIFICATION_TIMEOUT,
    )
    .await?;
    let failure = match (&outcome.error, outcome.status) {
        (Some(error), _) => Some(format!("the request failed: {}", error.message)),
        (None, Some(status)) if !(200..300).contains(&status) => {
            Some(format!("the endpoint answered {status}; 2xx is required"))
        }
        _ => {
            let echoed = serde_json::from_str::<Value>(&outcome.body)
                .ok()
                .and_then(|v| v.get("challenge").cloned());
            match echoed {
                Some(Value::String(c)) if c == challenge => None,
                Some(_) => Some("the endpoint answered a different challenge".to_owned()),
                None => Some("the endpoint did not answer {\"challenge\": \"...\"} with the challenge it was sent".to_owned()),
            }
        }
    };
    let status = endpoint.status;
    let mut active = endpoint.into_active_model();
    let now = services.clock.now();
    match &failure {
        None => {
            active.verified_at = Set(Some(now));
            active.verification_error = Set(None);
            if status == EndpointStatus::PendingVerification {
                active.status = Set(EndpointStatus::Active);
            }
        }
        Some(reason) => active.verification_error = Set(Some(reason.clone())),
    }
    active.updated_at = Set(now);
    Ok((active.update(&services.db).await?, outcome))
}
