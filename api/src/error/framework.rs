//! The errors the framework meets before a handler runs (a body that is not JSON or not of the
//! expected shape, a malformed path id or query, an unknown route, a wrong method), rendered in
//! the one error shape. Their `details` name the rule broken (`json_syntax`, `json_type`,
//! `unknown_field`, `missing_field`, `invalid_id`, `invalid_value`) and, where the parser tells
//! it, the field; routing errors name the `method` and `path`.

use actix_web::{
    HttpRequest, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::ServiceResponse,
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::header,
    middleware::ErrorHandlerResponse,
};
use serde_json::{Map, Value, json};

use super::{ApiError, Code, ErrorBody};
use crate::request_id;

/// Requests for paths no route serves.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::NotFound,
        format!("no route for {} {}", req.method(), req.path()),
    )
    .with_details(Some(route_details(&req))))
}

fn route_details(req: &HttpRequest) -> Value {
    json!({"method": req.method().as_str(), "path": req.path()})
}

/// What a deserializer's error says, as `details`: the rule and, where named, the field.
/// serde reports unknown and missing fields as "unknown field `x`" and "missing field `x`";
/// any other failure is a value that does not fit (`otherwise`).
fn serde_details(message: &str, otherwise: &str) -> Map<String, Value> {
    let mut details = Map::new();
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = named("unknown field `") {
        details.insert("rule".into(), "unknown_field".into());
        details.insert("field".into(), field.into());
    } else if let Some(field) = named("missing field `") {
        details.insert("rule".into(), "missing_field".into());
        details.insert("field".into(), field.into());
    } else {
        details.insert("rule".into(), otherwise.into());
        let expected = message
            .strip_prefix("invalid type: ")
            .and_then(|rest| rest.split_once(", expected "))
            .map(|(_, expected)| expected.split(" at line ").next().unwrap_or(expected));
        if let Some(expected) = expected {
            details.insert("expected".into(), expected.into());
        }
    }
    details
}

/// Malformed or unacceptable JSON bodies.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "the request body must be JSON with content-type: application/json",
        ),
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("the request body exceeds {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::new(
            Code::ValidationFailed,
            format!("the request body does not match the expected shape: {e}"),
        )
        .with_details(Some(Value::Object(serde_details(
            &e.to_string(),
            "json_type",
        )))),
        JsonPayloadError::Deserialize(e) => ApiError::new(
            Code::InvalidJson,
            format!("the request body is not valid JSON: {e}"),
        )
        .with_details(Some(json!({"rule": "json_syntax"}))),
        other => ApiError::new(
            Code::BadRequest,
            format!("could not read the request body: {other}"),
        ),
    };
    api.into()
}

pub fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    let cause = match &err {
        PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let mut details = Map::new();
    // An id's parse error names the prefix it wants (see `graphhook_domain::platform::ids`).
    let prefix = cause
        .strip_prefix("expected an id of the form ")
        .and_then(|rest| rest.split_once("_<"))
        .map(|(prefix, _)| prefix);
    if let Some(prefix) = prefix {
        details.insert("rule".into(), "invalid_id".into());
        details.insert("prefix".into(), prefix.into());
        let field = req
            .match_info()
            .iter()
            .find(|(_, value)| !is_id_of(value, prefix))
            .map(|(name, _)| name);
        if let Some(field) = field {
            details.insert("field".into(), field.into());
        }
    } else {
        details.insert("rule".into(), "invalid_value".into());
    }
    ApiError::new(
        Code::InvalidPath,
        format!("invalid path parameter: {cause}"),
    )
    .with_details(Some(Value::Object(details)))
    .into()
}

/// Whether `value` has the form of an id with `prefix`: the prefix, `_`, 32 hex digits.
fn is_id_of(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let cause = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let details = serde_details(&cause, "invalid_value");
    ApiError::new(
        Code::InvalidQuery,
        format!("invalid query parameter: {cause}"),
    )
    .with_details(Some(Value::Object(details)))
    .into()
}

/// The safety net for error responses the framework produced without our shape (unknown routes,
/// wrong methods, anything else): replaces a body that is neither our JSON nor one of our HTML
/// pages with the standard one, keeping the status and headers such as `Allow`.
pub fn render_framework_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // Our JSON errors and our HTML pages (onboarding) are already what they should be.
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = Code::from_status(status);
    let (method, path) = (res.request().method(), res.request().path());
    let (message, details) = match code {
        Code::NotFound => (
            format!("no route for {method} {path}"),
            Some(route_details(res.request())),
        ),
        Code::MethodNotAllowed => (
            format!("{method} is not allowed on {path}"),
            Some(route_details(res.request())),
        ),
        _ => (
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_lowercase(),
            None,
        ),
    };
    let body = ErrorBody {
        code: code.as_str(),
        message,
        request_id: request_id::current().unwrap_or_default(),
        details,
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let new: HttpResponse<BoxBody> = new.json(body);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
