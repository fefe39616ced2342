//! Every error, whoever produced it, has one JSON shape: `code`, `message`, `request_id`
//! (matching the `x-request-id` header), and `details` only where useful.

use graphhook_tests::{
    TestApp,
    client::{header, sent},
    errors::{Refusal, assert_error},
};
use reqwest::Method;
use serde_json::json;

/// A probe request with this content type and raw body, as a client could send it.
async fn post_probes_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    sent(
        app.client
            .post(app.url("/admin/v1/probes"))
            .bearer_auth(app.operator_token())
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

/// The error a `GET` of the operator api's `path` answers, checked as [`assert_error`] does.
async fn operator_get_error(
    app: &TestApp,
    path: &str,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_error(app.admin_get(path).await, status, code).await
}

#[tokio::test]
async fn malformed_json_is_a_400_invalid_json() {
    let app = TestApp::spawn().await;
    let response = post_probes_raw(&app, "application/json", "{\"hold_ms\": ").await;
    let invalid_json = Refusal::new(400, "invalid_json", "json_syntax");
    invalid_json.of_response(response).await;
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_422_naming_the_problem() {
    let app = TestApp::spawn().await;
    let probes = "/admin/v1/probes";
    // Under test: `details` name the problem.
    let response = app
        .admin_post_json(probes, &json!({"hold_ms": "soon"}))
        .await;
    Refusal::invalid("json_type").of_response(response).await;

    let response = app.admin_post_json(probes, &json!({"hold": 1})).await;
    let body = Refusal::invalid("unknown_field")
        .of_response(response)
        .await;
    assert_eq!(body["details"]["field"], "hold", "{body}");
}

#[tokio::test]
async fn a_body_without_json_content_type_is_a_415() {
    let app = TestApp::spawn().await;
    let response = post_probes_raw(&app, "text/plain", "{}").await;
    assert_error(response, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = TestApp::spawn_with(|s| s.api.max_json_bytes = 2048).await;
    let padding = "x".repeat(4096);
    let response = post_probes_raw(
        &app,
        "application/json",
        format!("{{\"hold_ms\": 0, \"pad\": \"{padding}\"}}"),
    )
    .await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn a_malformed_path_parameter_is_a_400_invalid_path() {
    let app = TestApp::spawn().await;
    // Under test: `details` say which kind of id the path takes.
    let response = app.admin_get("/admin/v1/probes/not-an-id").await;
    let body = Refusal::new(400, "invalid_path", "invalid_id")
        .of_response(response)
        .await;
    assert_eq!(body["details"]["prefix"], "prb", "{body}");
    assert_eq!(body["details"]["field"], "id", "{body}");
    // An id of another kind is refused the same way.
    let tenant_id = "ten_0194c1a27b3c7d4e8f90123456789abc";
    let path = format!("/admin/v1/probes/{tenant_id}");
    operator_get_error(&app, &path, 400, "invalid_path").await;
}

#[tokio::test]
async fn a_malformed_query_parameter_is_a_400_invalid_query() {
    let app = TestApp::spawn().await;
    let cases = [
        ("limit=many", 400, "invalid_query"),
        ("tenant_id=acme", 400, "invalid_query"),
        ("colour=blue", 400, "invalid_query"),
        ("limit=0", 422, "validation_failed"),
    ];
    for (query, status, code) in cases {
        let path = format!("/admin/v1/audit-log?{query}");
        operator_get_error(&app, &path, status, code).await;
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_404() {
    let app = TestApp::spawn().await;
    let body = assert_error(app.get("/no/such/route").await, 404, "not_found").await;
    // Under test: `details` name the method and path that matched no route.
    assert_eq!(body["details"]["method"], "GET", "{body}");
    assert_eq!(body["details"]["path"], "/no/such/route", "{body}");
    operator_get_error(&app, "/admin/v1/nothing-here", 404, "not_found").await;
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_is_a_405() {
    let app = TestApp::spawn().await;
    let response = app.anonymous(Method::DELETE, "/healthz").await;
    assert_error(response, 405, "method_not_allowed").await;
    let response = app
        .as_operator()
        .send(Method::PUT, "/admin/v1/probes", None)
        .await;
    let body = assert_error(response, 405, "method_not_allowed").await;
    // Under test: `details` name the method refused and the route.
    assert_eq!(body["details"]["method"], "PUT", "{body}");
    assert_eq!(body["details"]["path"], "/admin/v1/probes", "{body}");
}

#[tokio::test]
async fn the_operator_api_refuses_missing_and_wrong_tokens() {
    let app = TestApp::spawn().await;
    let response = app.get("/admin/v1/audit-log").await;
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_error(response, 401, "unauthorized").await;
    let response = app
        .as_operator_bearing("test-operator-token-0123456788")
        .send(Method::GET, "/admin/v1/audit-log", None)
        .await;
    assert_error(response, 401, "unauthorized").await;
}
