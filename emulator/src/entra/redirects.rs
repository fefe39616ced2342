//! What the browser-facing Entra endpoints (admin consent, authorize) share: the redirect URI
//! rule, redirects with query parameters, AADSTS error parameters and the hidden form fields
//! their pages carry the request in.

use actix_web::{HttpResponse, http::header};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::http::{aadsts_description, escape_html};

/// Whether `uri` is registered: exactly, or a registered URI with extra path segments.
pub fn registered(registered: &[String], uri: &str) -> bool {
    registered.iter().any(|r| {
        uri == r || {
            let base = r.trim_end_matches('/');
            uri.strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/') && !rest.contains(['?', '#']))
        }
    })
}

/// A 302 to `uri` with `params` appended to its query.
pub fn redirect(uri: &str, params: &[(&str, &str)]) -> HttpResponse {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        Err(_) => return HttpResponse::BadRequest().body("invalid redirect_uri"),
    };
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.to_string()))
        .finish()
}

/// An error redirect's `error_description` (AADSTS code, message, Trace ID, Correlation ID,
/// Timestamp) and `error_uri`.
pub fn error_details(now: DateTime<Utc>, code: u32, message: &str) -> (String, String) {
    let description = aadsts_description(
        code,
        message,
        &Uuid::new_v4().to_string(),
        &Uuid::new_v4().to_string(),
        now,
    );
    (
        description,
        format!("https://login.microsoftonline.com/error?code={code}"),
    )
}

/// A hidden form field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        escape_html(value)
    )
}
