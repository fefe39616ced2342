//! Graph's error bodies for the subscription operations (§1.2): the general shape with its
//! `code` and `message`, a bad request, and the `ExtensionError` of a refused operation, named
//! as .NET names its status. Below every operation and check, so they all answer alike.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};

use crate::{http::graph_error, shared::Shared};

pub(super) fn error(
    req: &HttpRequest,
    shared: &Shared,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    graph_error(req, shared.clock.now(), status, code, message)
}

pub(super) fn bad_request(req: &HttpRequest, shared: &Shared, message: &str) -> HttpResponse {
    error(
        req,
        shared,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        message,
    )
}

/// Graph's `ExtensionError` body for a refused `operation`: "Operation: Create; Exception:
/// [Status Code: Forbidden; Reason: …]", the status named as .NET names it.
pub(super) fn extension_error(
    req: &HttpRequest,
    shared: &Shared,
    status: StatusCode,
    operation: &str,
    reason: &str,
) -> HttpResponse {
    let status_name = status
        .canonical_reason()
        .unwrap_or_default()
        .replace(' ', "");
    error(
        req,
        shared,
        status,
        "ExtensionError",
        &format!(
            "Operation: {operation}; Exception: [Status Code: {status_name}; Reason: {reason}]"
        ),
    )
}

pub(super) fn forbidden(req: &HttpRequest, shared: &Shared, operation: &str) -> HttpResponse {
    extension_error(req, shared, StatusCode::FORBIDDEN, operation, "Forbidden")
}
