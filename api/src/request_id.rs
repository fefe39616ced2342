//! A request id on every response (`x-request-id`) and in every log line.
//!
//! An incoming `x-request-id` of sane form is kept (so ids flow through a load balancer);
//! otherwise one is generated. The id lives in a task-local for the duration of the request, so
//! error bodies can quote it, and in the request span, so every log line inside carries it.
//!
//! The same middleware counts requests for `/metrics`. Every label value comes from a fixed
//! set, whatever the request: the method is one of the standard nine or `other` (any token is a
//! valid method, and each new label value is a new series kept for the life of the process),
//! the route is the matched pattern or `unmatched`, never the path itself.

use std::time::Instant;

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{HeaderName, HeaderValue},
    },
    middleware::Next,
};
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The value the request metrics label a route with when no route matched.
const UNMATCHED: &str = "unmatched";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request id, as a request extension for handlers.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The method as a metric label: a standard method, or `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn accept(incoming: &str) -> bool {
    (8..=128).contains(&incoming.len())
        && incoming
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| accept(v))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{}", uuid::Uuid::now_v7().simple()));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let method_label = method_label(req.method());
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let mut res = result?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    metrics::counter!("graphhook_http_requests_total", "method" => method_label, "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("graphhook_http_request_duration_seconds", "method" => method_label, "route" => route.clone()).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if route == "/healthz" || route == "/readyz" || route == "/metrics" {
            tracing::debug!(status, elapsed_ms = ms, "served");
        } else {
            tracing::info!(status, elapsed_ms = ms, "served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::{Method, accept, method_label};

    #[test]
    fn a_method_label_is_a_standard_method_or_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for odd in ["XYZZY", "get", "PROPFIND"] {
            let method = Method::from_bytes(odd.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{odd}");
        }
    }

    #[test]
    fn only_sane_incoming_ids_are_kept() {
        assert!(accept("req_0194c1a27b3c7d4e8f90123456789abc"));
        assert!(accept("abc-123.def_456"));
        assert!(!accept("short"));
        assert!(!accept("has spaces in it"));
        assert!(!accept("inject\r\nheader: x"));
        assert!(!accept(&"x".repeat(129)));
    }
}
