//! Checks of the one error shape: a status, a stable `code`, a non-empty `message`, the
//! `request_id` of the response header, and `details` where the api gives them.

use serde_json::Value;

/// Checks an error in the one shape, strictly: the status, `application/json`, the `code`, a
/// non-empty `message`, the `request_id` of the header, and no key besides `details`.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let header_id = crate::client::header(&response, "x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id header"));
    let content_type = crate::client::header(&response, "content-type");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("not a JSON body: {e}"));
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["request_id"], header_id.as_str(), "{body}");
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    for key in &keys {
        assert!(
            ["code", "message", "request_id", "details"].contains(&key.as_str()),
            "unexpected key {key} in {body}"
        );
    }
    body
}

/// Checks a 4xx in the one error shape and returns its body.
pub async fn refused(response: reqwest::Response, status: u16, code: &str) -> Value {
    refused_case(response, status, code, "").await
}

/// As [`refused`], for one case of a table: every failure names `case`.
pub async fn refused_case(
    response: reqwest::Response,
    status: u16,
    code: &str,
    case: &str,
) -> Value {
    let actual = response.status().as_u16();
    let header_id = crate::client::header(&response, "x-request-id");
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{case}: {body}");
    assert_eq!(body["code"], code, "{case}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        header_id.as_deref(),
        "{case}: {body}"
    );
    body
}

/// Checks an error body's `code` and the `details.field` it names.
pub fn assert_field(body: &Value, code: &str, field: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["details"]["field"], field, "{body}");
}

/// Checks an error body's `code`, `details.field` and `details.rule`.
pub fn assert_rule(body: &Value, code: &str, field: &str, rule: &str) {
    assert_field(body, code, field);
    assert_eq!(body["details"]["rule"], rule, "{body}");
}

/// Checks an answer's status and error `code`.
pub fn assert_code(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

/// A refusal a test expects: a status, its error `code`, and the `details.rule` it names.
#[derive(Clone, Copy, Debug)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub rule: &'static str,
}

impl Refusal {
    pub const fn new(status: u16, code: &'static str, rule: &'static str) -> Self {
        Self { status, code, rule }
    }

    /// A 401 `unauthorized` for `rule`.
    pub const fn unauthorized(rule: &'static str) -> Self {
        Self::new(401, "unauthorized", rule)
    }

    /// A 403 `forbidden` for `rule`.
    pub const fn forbidden(rule: &'static str) -> Self {
        Self::new(403, "forbidden", rule)
    }

    /// A 422 `validation_failed` for `rule`.
    pub const fn invalid(rule: &'static str) -> Self {
        Self::new(422, "validation_failed", rule)
    }

    /// A 409 `conflict` for `rule`.
    pub const fn conflict(rule: &'static str) -> Self {
        Self::new(409, "conflict", rule)
    }

    /// A 502 `upstream_error` for `rule`.
    pub const fn upstream(rule: &'static str) -> Self {
        Self::new(502, "upstream_error", rule)
    }

    /// Checks that `answer` is this refusal. Returns its body, for the details a test checks
    /// besides.
    pub fn of(self, answer: crate::client::Answer) -> Value {
        let (status, body) = answer;
        assert_code(status, &body, self.status, self.code);
        assert_eq!(body["details"]["rule"], self.rule, "{body}");
        body
    }

    /// Checks that `response` is this refusal, in the one error shape as strictly as
    /// [`assert_error`] does. Returns its body.
    pub async fn of_response(self, response: reqwest::Response) -> Value {
        let body = assert_error(response, self.status, self.code).await;
        assert_eq!(body["details"]["rule"], self.rule, "{body}");
        body
    }
}
