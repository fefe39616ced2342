//! The onboarding pages, filled from `web/` templates on the public pages' layout. Every value put into a page is escaped.

use actix_web::{
    HttpResponse,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
};
use graphhook_domain::graph::microsoft::roles::PRODUCT_ROLES;

use crate::routes::web_pages::{NAV, on_layout};

const ONBOARDING: &str = include_str!("../../../../web/onboarding.html");
const PAGE: &str = include_str!("../../../../web/page.html");

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' *",
        ))
        .body(body)
}

/// The start page, with an optional error above the form.
pub fn onboarding(status: StatusCode, error: Option<&str>, company: &str) -> HttpResponse {
    let permissions: String = PRODUCT_ROLES
        .iter()
        .map(|r| {
            let access = if r.writes { "<span class=\"badge write\">read and write</span>" } else { "<span class=\"badge\">read</span>" };
            format!(
                "          <tr><td><code>{}</code></td><td>{access}</td><td>{}</td><td>{}</td></tr>\n",
                escape(r.name),
                escape(r.description),
                escape(r.used_for)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("      <p class=\"alert\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = on_layout("Connect Microsoft 365", NAV, "", ONBOARDING)
        .replace("{{permissions}}", permissions.trim_end())
        .replace("{{error}}", &error)
        .replace("{{company}}", &escape(company));
    html(status, body)
}

/// A page with a title and prepared (already escaped) HTML content.
pub fn message(status: StatusCode, title: &str, content_html: &str) -> HttpResponse {
    let title = escape(title);
    let main = PAGE.replace("{{title}}", &title);
    html(
        status,
        on_layout(&title, NAV, "", &main).replace("{{content}}", content_html),
    )
}

pub fn paragraph(text: &str) -> String {
    format!("    <p>{}</p>\n", escape(text))
}

/// A page that refuses a client address over its per-minute limit: `page`, answered with
/// `Retry-After: 60`.
pub fn over_the_minute_limit(mut page: HttpResponse) -> HttpResponse {
    page.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    page
}
