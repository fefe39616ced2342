//! The validation handshake (§2): before a subscription is created (and when its
//! notificationUrl changes), Graph POSTs to each URL with `?validationToken=…` appended and
//! expects, within 10 s, exactly 200 with the form-decoded token as the body.

use std::time::Duration;

use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::shared::Shared;

/// Why a validation failed: status, Graph error code, message (§2, §7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

pub const TIMED_OUT: Failure = Failure {
    status: StatusCode::BAD_REQUEST,
    code: "InvalidRequest",
    message: "Subscription validation request timed out.",
};
pub const NOT_200: Failure = Failure {
    status: StatusCode::BAD_REQUEST,
    code: "ValidationError",
    message: "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
};
pub const MISMATCH: Failure = Failure {
    status: StatusCode::BAD_REQUEST,
    code: "ValidationError",
    message: "Subscription validation request failed. Response must exactly match validationToken query parameter.",
};

/// A fresh token, as Graph writes them today: spaces and colons included.
pub fn new_token() -> String {
    format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        Uuid::new_v4()
    )
}

/// The URL with `validationToken` appended (form-encoded), keeping its own query string.
pub fn url_with_token(url: &str, token: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}validationToken={encoded}")
}

const MAX_BODY: usize = 64 * 1024;

pub async fn validate(shared: &Shared, url: &str) -> Result<(), Failure> {
    let (timeout, always_time_out) = {
        let world = shared.world();
        (
            Duration::from_millis(world.behaviour.validation_timeout_ms),
            world.behaviour.validation_always_times_out,
        )
    };
    if always_time_out {
        return Err(TIMED_OUT);
    }
    let token = new_token();
    let request = shared
        .http
        .post(url_with_token(&shared.outbound_url(url), &token))
        .header("content-type", "text/plain; charset=utf-8")
        .timeout(timeout)
        .send();
    let response = match request.await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%url, %error, "validation request failed");
            return Err(TIMED_OUT);
        }
    };
    if response.status().as_u16() != 200 {
        return Err(NOT_200);
    }
    let body = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(body)) => body,
        _ => return Err(TIMED_OUT),
    };
    if body.len() > MAX_BODY || body.as_ref() != token.as_bytes() {
        return Err(MISMATCH);
    }
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_token_is_form_encoded_after_the_urls_own_query() {
        let token = "Validation: Testing client application reachability for subscription Request-Id: 877cb92e-a60b-483b-8a39-79aa5f64f5a3";
        let url = url_with_token("https://relay.example.com/graph/notify?route=t42", token);
        // graph-protocol.md §2 (Graph writes %3a; the encoding is the same)
        assert_eq!(
            url.to_lowercase(),
            "https://relay.example.com/graph/notify?route=t42&validationtoken=validation%3a+testing+client+application+reachability+for+subscription+request-id%3a+877cb92e-a60b-483b-8a39-79aa5f64f5a3"
        );
        assert!(url_with_token("https://x.example/n", "a b").ends_with("/n?validationToken=a+b"));
    }
}
