//! Response shapes shared by the emulated services: Graph's error body (§1.3) and Entra's
//! token-endpoint error body (§8.2), each with the headers Microsoft sends.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

/// The `client-request-id` a caller sent, or a fresh request id.
pub fn request_ids(req: &HttpRequest) -> (String, String) {
    let request_id = Uuid::new_v4().to_string();
    let client = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    (request_id, client)
}

/// A Graph error: `{"error": {"code", "message", "innerError": {"date", "request-id",
/// "client-request-id"}}}` with `request-id` and `client-request-id` headers. `date` is UTC
/// without offset or fraction, as Graph writes it.
pub fn graph_error(
    req: &HttpRequest,
    now: DateTime<Utc>,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    let (request_id, client_request_id) = request_ids(req);
    HttpResponse::build(status)
        .insert_header(("request-id", request_id.clone()))
        .insert_header(("client-request-id", client_request_id.clone()))
        .content_type("application/json")
        .json(json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        }))
}

/// Adds Graph's request-id headers to a successful response.
pub fn graph_ok(req: &HttpRequest, status: StatusCode) -> actix_web::HttpResponseBuilder {
    let (request_id, client_request_id) = request_ids(req);
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header(("request-id", request_id))
        .insert_header(("client-request-id", client_request_id));
    builder
}

/// Entra's timestamp format: `YYYY-MM-DD HH:MM:SSZ`.
pub fn entra_timestamp(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// An AADSTS error description with the trailer Entra appends.
pub fn aadsts_description(
    code: u32,
    message: &str,
    trace_id: &str,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> String {
    format!(
        "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {}",
        entra_timestamp(now)
    )
}

/// A token-endpoint error (§8.2). `invalid_client` errors come with 401.
pub fn entra_error(now: DateTime<Utc>, error: &str, code: u32, message: &str) -> HttpResponse {
    entra_error_with(now, error, code, message, &[])
}

/// [`entra_error`] with extra string fields (e.g. `suberror`).
pub fn entra_error_with(
    now: DateTime<Utc>,
    error: &str,
    code: u32,
    message: &str,
    extra: &[(&str, &str)],
) -> HttpResponse {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let trace_id = Uuid::new_v4().to_string();
    let correlation_id = Uuid::new_v4().to_string();
    let mut body = json!({
        "error": error,
        "error_description": aadsts_description(code, message, &trace_id, &correlation_id, now),
        "error_codes": [code],
        "timestamp": entra_timestamp(now),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    for (key, value) in extra {
        body[*key] = json!(value);
    }
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store, no-cache"))
        .insert_header(("pragma", "no-cache"))
        .content_type("application/json; charset=utf-8")
        .json(body)
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Entra's error page (shown instead of a redirect, e.g. for an unregistered redirect URI).
pub fn entra_error_page(now: DateTime<Utc>, code: u32, message: &str) -> HttpResponse {
    let trace_id = Uuid::new_v4();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><main><h1>Sorry, but we’re having trouble signing you in.</h1>\
         <p id=\"error\">AADSTS{code}: {}</p>\
         <dl><dt>Trace ID</dt><dd>{trace_id}</dd><dt>Timestamp</dt><dd>{}</dd></dl></main></body></html>",
        escape_html(message),
        entra_timestamp(now)
    );
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
