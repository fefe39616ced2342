//! The one error shape every api response uses, and the one table that maps each error code to
//! an HTTP status.
//!
//! Domain code returns [`DomainError`], which knows nothing about HTTP; handlers return
//! [`ApiError`], and build one only from a domain error (through `?`) or through the named
//! constructors here, for what only the http edge knows. [`ApiError`]'s `From<DomainError>` is
//! the one place that turns a kind of refusal into a status, a code, `details` and headers.
//! Extractor failures (malformed JSON, bad path or query parameters), unknown
//! routes and wrong methods are rendered through the same shape:
//! `{"code": "snake_case", "message": "…", "request_id": "…"}` plus `details` where useful.
//! Internal errors log their whole cause chain and tell the client only that something failed.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use graphhook_domain::{DomainError, platform::error::Facts};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

use crate::request_id;

mod framework;

pub use framework::{json_error, no_route, path_error, query_error, render_framework_error};

/// Every error code the api returns. Codes are stable: clients match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    BadRequest,
    InvalidJson,
    InvalidPath,
    InvalidQuery,
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    TooManyRequests,
    NotReady,
    BadGateway,
    ServiceUnavailable,
    Internal,
}

impl Code {
    /// The table: code → (status, wire name).
    pub const fn spec(self) -> (StatusCode, &'static str) {
        match self {
            Code::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Code::InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json"),
            Code::InvalidPath => (StatusCode::BAD_REQUEST, "invalid_path"),
            Code::InvalidQuery => (StatusCode::BAD_REQUEST, "invalid_query"),
            Code::ValidationFailed => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Code::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Code::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Code::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Code::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Code::Conflict => (StatusCode::CONFLICT, "conflict"),
            Code::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Code::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Code::BadGateway => (StatusCode::BAD_GATEWAY, "upstream_error"),
            Code::ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn status(self) -> StatusCode {
        self.spec().0
    }

    pub fn as_str(self) -> &'static str {
        self.spec().1
    }

    /// The code a bare status (from the framework, not from us) stands for.
    fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Code::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
            StatusCode::UNAUTHORIZED => Code::Unauthorized,
            StatusCode::FORBIDDEN => Code::Forbidden,
            StatusCode::SERVICE_UNAVAILABLE => Code::ServiceUnavailable,
            s if s.is_server_error() => Code::Internal,
            _ => Code::BadRequest,
        }
    }
}

/// The wire shape of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"code": "not_found", "message": "endpoint not found", "request_id": "req_01a2254154d87379bb35cb2584dfe561"}))]
pub struct ErrorBody {
    /// A stable snake_case code.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
    /// Equals the `x-request-id` response header.
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// What every tenant api operation may answer before its handler runs (see
/// [`crate::extractors::TenantAuth`]): documented once, so every operation says it alike.
#[derive(utoipa::IntoResponses)]
pub enum KeyRefusals {
    #[response(
        status = 401,
        description = "Missing, malformed, unknown or revoked API key"
    )]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The tenant is not active")]
    Forbidden(ErrorBody),
}

/// What every operator api operation may answer before its handler runs (see
/// [`crate::extractors::Operator`]).
#[derive(utoipa::IntoResponses)]
pub enum OperatorRefusals {
    #[response(status = 401, description = "Missing or invalid operator token")]
    Unauthorized(ErrorBody),
}

#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    /// Boxed: most errors have none, and every `Result` carries the error's size.
    details: Option<Box<Value>>,
    /// Sent as the `Retry-After` header (503s without one get the default).
    retry_after: Option<Duration>,
    source: Option<anyhow::Error>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The errors only the http edge knows (authentication, reading a body, routing, readiness);
/// everything else arrives as a [`DomainError`].
impl ApiError {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            source: None,
        }
    }

    fn with_details(mut self, details: Option<Value>) -> Self {
        self.details = details.map(Box::new);
        self
    }

    /// Something failed on our side: logged with its cause chain, reported without detail.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                Code::Internal,
                "an internal error occurred; quote the request_id when reporting it",
            )
        }
    }

    /// `service` (`database`, `queue`) cannot be reached now; `details.service` names it.
    fn unavailable(service: &str, source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                Code::ServiceUnavailable,
                format!("the {service} is temporarily unavailable; try again shortly"),
            )
            .with_details(Some(json!({ "service": service })))
        }
    }

    /// Missing or refused credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    /// Missing or refused credentials, `details.rule` saying which (`missing`, `malformed`,
    /// `unknown`, `invalid`, `expired`, `revoked`).
    pub fn unauthorized_because(rule: &str, message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message).with_details(Some(json!({ "rule": rule })))
    }

    /// Too many requests from one caller.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(Code::TooManyRequests, message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(Code::PayloadTooLarge, message)
    }

    /// A request body that could not be read at all.
    pub fn unreadable_body(message: impl Into<String>) -> Self {
        Self::new(Code::BadRequest, message)
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidJson, message)
    }

    /// The service cannot take traffic yet; `checks` says what is missing.
    pub fn not_ready(message: impl Into<String>, checks: Value) -> Self {
        Self::new(Code::NotReady, message).with_details(Some(json!({ "checks": checks })))
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.as_str(),
            message: self.message.clone(),
            request_id: request_id::current().unwrap_or_default(),
            details: self.details.as_deref().cloned(),
        }
    }
}

/// The one mapping from domain errors to HTTP: each kind of refusal to its code, its
/// structured facts to `details`, and a throttle's wait to `Retry-After`.
impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound(what) => Self::new(Code::NotFound, format!("{what} not found")),
            DomainError::Invalid {
                field,
                rule,
                message,
            } => Self::new(Code::ValidationFailed, message)
                .with_details(invalid_details(field, rule)),
            DomainError::Conflict {
                rule,
                message,
                mut facts,
            } => {
                facts.insert(0, ("rule", Some(rule.to_owned())));
                Self::new(Code::Conflict, message).with_details(facts_details(facts))
            }
            DomainError::Forbidden { message, facts } => {
                Self::new(Code::Forbidden, message).with_details(facts_details(facts))
            }
            DomainError::Throttled {
                message,
                retry_after,
            } => Self {
                retry_after: Some(retry_after),
                ..Self::new(Code::ServiceUnavailable, message)
                    .with_details(Some(json!({"retry_after_secs": retry_after.as_secs()})))
            },
            DomainError::Upstream { message, facts } => {
                Self::new(Code::BadGateway, message).with_details(facts_details(facts))
            }
            DomainError::Unavailable { message, source } => Self {
                source,
                ..Self::new(Code::ServiceUnavailable, message)
            },
            DomainError::Database(e) if graphhook_domain::platform::db::is_unavailable(&e) => {
                ApiError::unavailable("database", e)
            }
            DomainError::Redis(e) => ApiError::unavailable("queue", e),
            // A database that went away under a step reported as internal is still a 503.
            other if database_unavailable_within(&other) => {
                ApiError::unavailable("database", other)
            }
            other => ApiError::internal(other),
        }
    }
}

/// Errors of one domain step that read as a [`DomainError`] render as that one.
macro_rules! through_domain {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for ApiError {
            fn from(error: $error) -> Self {
                DomainError::from(error).into()
            }
        }
    )*};
}

through_domain!(
    graphhook_domain::graph::subscriptions::CreateError,
    graphhook_domain::tenancy::connections::ConnectionError,
    graphhook_domain::operator::probe::ProbeError,
    graphhook_domain::delivery::endpoints::InputError,
    graphhook_domain::delivery::webhooks::sender::UrlRefusal,
);

/// A refused input's `details`: the field and the rule, where known.
fn invalid_details(field: Option<&'static str>, rule: Option<String>) -> Option<Value> {
    let mut details = serde_json::Map::new();
    if let Some(field) = field {
        details.insert("field".into(), field.into());
    }
    if let Some(rule) = rule {
        details.insert("rule".into(), rule.into());
    }
    (!details.is_empty()).then_some(Value::Object(details))
}

fn facts_details(facts: Facts) -> Option<Value> {
    (!facts.is_empty()).then(|| {
        Value::Object(
            facts
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.map_or(Value::Null, Value::from)))
                .collect(),
        )
    })
}

/// Whether an error's cause chain holds a database error that means unavailable.
fn database_unavailable_within(err: &DomainError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(db) = current.downcast_ref::<sea_orm::DbErr>()
            && graphhook_domain::platform::db::is_unavailable(db)
        {
            return true;
        }
        cause = current.source();
    }
    false
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            if self.code == Code::Internal {
                tracing::error!(error = ?source, "request failed");
            } else {
                tracing::warn!(error = %format!("{source:#}"), code = self.code.as_str(), "request failed");
            }
        }
        let mut response = HttpResponse::build(self.status_code());
        if self.code == Code::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        // Unavailable is temporary (a database restarting, a queue reconnecting, Graph
        // throttling): say when to come back.
        if self.code == Code::ServiceUnavailable {
            let wait = self
                .retry_after
                .unwrap_or(graphhook_domain::platform::db::RETRY_AFTER);
            response.insert_header((header::RETRY_AFTER, wait.as_secs().to_string()));
        }
        response.json(self.body())
    }
}
