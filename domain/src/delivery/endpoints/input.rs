//! Validated endpoint settings, within their bounds.

use std::collections::BTreeMap;

use url::Url;

use crate::{delivery::engine::schedule::Schedule, delivery::events};

/// Bounds and defaults of endpoint settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub default_timeout_secs: u64,
    pub default_max_in_flight: u32,
}

#[derive(Debug)]
pub struct EndpointInput {
    pub url: Url,
    pub description: String,
    pub filter_types: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: i32,
    pub rate_limit_per_sec: Option<i32>,
    pub max_in_flight: i32,
    pub ed25519: bool,
    /// `None`: the deployment's schedule.
    pub retry_schedule: Option<Schedule>,
}

/// A new endpoint's settings as the tenant wrote them, before any check; `None`: the
/// deployment's default.
#[derive(Debug)]
pub struct RawEndpoint<'a> {
    pub description: &'a str,
    pub filter_types: &'a [String],
    pub headers: &'a BTreeMap<String, String>,
    pub timeout_secs: Option<u64>,
    pub rate_limit_per_sec: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub ed25519: bool,
    pub retry_schedule: Option<&'a [i64]>,
}

impl EndpointInput {
    /// Checks a new endpoint's settings one by one, in the order the tenant reads them,
    /// filling in the deployment's defaults. The URL comes checked already: that check asks
    /// the network policy (and DNS).
    pub fn parse(url: Url, raw: RawEndpoint<'_>, limits: Limits) -> Result<Self, InputError> {
        Ok(Self {
            url,
            description: check_description(raw.description)?,
            filter_types: check_filter_types(raw.filter_types)?,
            // Nothing is stored yet, so a masked value has nothing to stand for.
            headers: check_headers(raw.headers)
                .and_then(|h| super::headers::unmask(h, &BTreeMap::new()))?,
            timeout_ms: check_timeout(raw.timeout_secs.unwrap_or(limits.default_timeout_secs))?,
            rate_limit_per_sec: raw.rate_limit_per_sec.map(check_rate_limit).transpose()?,
            max_in_flight: check_max_in_flight(
                raw.max_in_flight.unwrap_or(limits.default_max_in_flight),
            )?,
            ed25519: raw.ed25519,
            retry_schedule: raw.retry_schedule.map(check_retry_schedule).transpose()?,
        })
    }
}

#[derive(Debug, Default)]
pub struct EndpointPatch {
    pub url: Option<Url>,
    pub description: Option<String>,
    pub filter_types: Option<Vec<String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub timeout_ms: Option<i32>,
    pub rate_limit_per_sec: Option<Option<i32>>,
    pub max_in_flight: Option<i32>,
    pub enabled: Option<bool>,
    /// `Some(None)` returns to the deployment's schedule.
    pub retry_schedule: Option<Option<Schedule>>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: &'static str,
    /// The rule broken, where a client may act on it (stable snake_case).
    pub rule: Option<&'static str>,
    pub message: String,
}

impl From<InputError> for crate::DomainError {
    fn from(error: InputError) -> Self {
        crate::DomainError::Invalid {
            field: Some(error.field),
            rule: error.rule.map(str::to_owned),
            message: error.to_string(),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> InputError {
    InputError {
        field,
        rule: None,
        message: message.into(),
    }
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "user-agent",
    "expect",
];

pub fn check_description(description: &str) -> Result<String, InputError> {
    let description = description.trim();
    if description.chars().count() > 500 {
        return Err(invalid("description", "must be at most 500 characters"));
    }
    // Postgres text cannot hold NUL; other control characters have no place in a description
    // either (line breaks and tabs do).
    if description
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid(
            "description",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(description.to_owned())
}

pub fn check_filter_types(types: &[String]) -> Result<Vec<String>, InputError> {
    if types.len() > 100 {
        return Err(invalid("filter_types", "at most 100 patterns"));
    }
    for pattern in types {
        events::validate_pattern(pattern).map_err(|m| invalid("filter_types", m))?;
    }
    let mut types = types.to_vec();
    types.sort();
    types.dedup();
    Ok(types)
}

pub fn check_headers(
    headers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, InputError> {
    if headers.len() > 20 {
        return Err(invalid("headers", "at most 20 custom headers"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if lower.is_empty()
            || !lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(invalid(
                "headers",
                format!("'{name}' is not a valid header name"),
            ));
        }
        if HOP_BY_HOP.contains(&lower.as_str()) || lower.starts_with("webhook-") {
            return Err(invalid(
                "headers",
                format!(
                    "'{name}' cannot be set: hop-by-hop, content and webhook-* headers are Graphhook's"
                ),
            ));
        }
        if value.len() > 1024 || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(invalid(
                "headers",
                format!("the value of '{name}' must be printable and at most 1024 bytes"),
            ));
        }
        out.insert(lower, value.clone());
    }
    Ok(out)
}

pub fn check_timeout(secs: u64) -> Result<i32, InputError> {
    if !(1..=30).contains(&secs) {
        return Err(invalid("timeout_secs", "must be between 1 and 30"));
    }
    Ok((secs * 1000) as i32)
}

pub fn check_rate_limit(rate: u32) -> Result<i32, InputError> {
    if !(1..=10_000).contains(&rate) {
        return Err(invalid("rate_limit_per_sec", "must be between 1 and 10000"));
    }
    Ok(rate as i32)
}

pub fn check_max_in_flight(max: u32) -> Result<i32, InputError> {
    if !(1..=1000).contains(&max) {
        return Err(invalid("max_in_flight", "must be between 1 and 1000"));
    }
    Ok(max as i32)
}

/// An endpoint's own retry schedule: 1 to 20 delays, each 1 to 86400 seconds.
pub fn check_retry_schedule(delays_secs: &[i64]) -> Result<Schedule, InputError> {
    Schedule::new(delays_secs).map_err(|e| invalid("retry_schedule", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_webhook_headers_are_refused() {
        for name in [
            "Connection",
            "Transfer-Encoding",
            "Host",
            "webhook-signature",
            "Webhook-Id",
            "bad header",
            "",
        ] {
            let headers = BTreeMap::from([(name.to_owned(), "x".to_owned())]);
            assert!(check_headers(&headers).is_err(), "{name}");
        }
        let ok = BTreeMap::from([("X-Api-Key".to_owned(), "k".to_owned())]);
        assert_eq!(
            check_headers(&ok)
                .unwrap()
                .get("x-api-key")
                .map(String::as_str),
            Some("k")
        );
        let newline = BTreeMap::from([("X-A".to_owned(), "a\r\nb".to_owned())]);
        assert!(check_headers(&newline).is_err());
    }

    #[test]
    fn settings_have_bounds() {
        assert!(check_timeout(0).is_err() && check_timeout(31).is_err());
        assert_eq!(check_timeout(30), Ok(30_000));
        assert!(check_rate_limit(0).is_err());
        assert!(check_max_in_flight(1001).is_err());
        assert!(check_filter_types(&["graph.nope.*".into()]).is_err());
        assert_eq!(
            check_retry_schedule(&[10, 20]).map(|s| s.max_attempts()),
            Ok(3)
        );
        for bad in [&[][..], &[0], &[-1], &[86_401], &[5; 21]] {
            assert_eq!(
                check_retry_schedule(bad).unwrap_err().field,
                "retry_schedule"
            );
        }
    }

    #[test]
    fn a_description_is_at_most_500_characters_without_control_characters() {
        assert_eq!(
            check_description("  Orders\n\tsync  ").unwrap(),
            "Orders\n\tsync"
        );
        assert!(check_description(&"é".repeat(500)).is_ok());
        assert!(check_description(&"é".repeat(501)).is_err());
        for bad in ["a\u{0}b", "\u{1b}[31m", "x\u{7f}"] {
            assert_eq!(check_description(bad).unwrap_err().field, "description");
        }
    }
}
