//! The static pages of `web/`, compiled into the binary so the api serves them from anywhere:
//! the public pages (landing, guide, service status, the API references) and the two apps (the
//! tenant portal and the operator console). The onboarding fills its own pages from `web/`
//! templates (`routes::onboarding::pages`).

use actix_web::{HttpResponse, body::MessageBody, http::header, web};

/// The public pages and what they load: anyone may read them, and browsers may cache them.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "/",
        include_str!("../../../web/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "/docs",
        include_str!("../../../web/docs.html"),
        "text/html; charset=utf-8",
    ),
    (
        "/status",
        include_str!("../../../web/status.html"),
        "text/html; charset=utf-8",
    ),
    (
        "/static/status.js",
        include_str!("../../../web/status.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/style.css",
        include_str!("../../../web/style.css"),
        "text/css; charset=utf-8",
    ),
    (
        "/static/api-docs.js",
        include_str!("../../../web/api-docs.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/api-docs-text.js",
        include_str!("../../../web/api-docs-text.js"),
        "text/javascript; charset=utf-8",
    ),
    // The onboarding's result page (served by the onboarding, never cached) loads it.
    (
        "/static/onboarding-key.js",
        include_str!("../../../web/onboarding-key.js"),
        "text/javascript; charset=utf-8",
    ),
];

/// One page renders both OpenAPI documents: `(path, title, document)`.
const REFERENCES: &[(&str, &str, &str)] = &[
    ("/api/docs", "Tenant API reference", "/api/openapi.json"),
    (
        "/admin/docs",
        "Operator API reference",
        "/admin/openapi.json",
    ),
];
const REFERENCE_HTML: &str = include_str!("../../../web/api-docs.html");

/// The tenant portal and the operator console: plain HTML, CSS and JavaScript calling the
/// tenant and admin apis from the same origin, with the helpers both use in `common.js`.
const APPS: &[(&str, &str, &str)] = &[
    (
        "/static/common.js",
        include_str!("../../../web/common.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/portal",
        include_str!("../../../web/portal.html"),
        "text/html; charset=utf-8",
    ),
    (
        "/static/portal-core.js",
        include_str!("../../../web/portal-core.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal-activity.js",
        include_str!("../../../web/portal-activity.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal-endpoints.js",
        include_str!("../../../web/portal-endpoints.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal-connections.js",
        include_str!("../../../web/portal-connections.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal-subscriptions.js",
        include_str!("../../../web/portal-subscriptions.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal-tenant.js",
        include_str!("../../../web/portal-tenant.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/portal.css",
        include_str!("../../../web/portal.css"),
        "text/css; charset=utf-8",
    ),
    (
        "/console",
        include_str!("../../../web/console.html"),
        "text/html; charset=utf-8",
    ),
    (
        "/static/console-core.js",
        include_str!("../../../web/console-core.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/console-tables.js",
        include_str!("../../../web/console-tables.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/console-subscriptions.js",
        include_str!("../../../web/console-subscriptions.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/console-tenants.js",
        include_str!("../../../web/console-tenants.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/console-operations.js",
        include_str!("../../../web/console-operations.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "/static/console.css",
        include_str!("../../../web/console.css"),
        "text/css; charset=utf-8",
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for &(path, body, content_type) in PAGES {
        cfg.service(
            web::resource(path)
                .route(web::get().to(move || async move { page(body, content_type) })),
        );
    }
    for &(path, title, document) in REFERENCES {
        cfg.service(web::resource(path).route(web::get().to(move || async move {
            page(reference(path, title, document), "text/html; charset=utf-8")
        })));
    }
    // Browsers ask for it on every page; there is none, and no error either.
    cfg.service(
        web::resource("/favicon.ico")
            .route(web::get().to(|| async { HttpResponse::NoContent().finish() })),
    );
    for (path, body, content_type) in APPS {
        cfg.service(web::resource(*path).route(web::get().to(move || app(body, content_type))));
    }
}

/// An app's file: never cached long (a new release must reach browsers at once), and its
/// scripts may only talk to this origin.
async fn app(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ))
        .body(body)
}

/// A public page's file: cached for a few minutes, its scripts only from this origin.
fn page(body: impl MessageBody + 'static, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ))
        .body(body)
}

/// The reference page for one document; the values are this module's constants, not input.
fn reference(path: &str, title: &str, document: &str) -> String {
    let current = |of: &str| {
        if of == path {
            " aria-current=\"page\""
        } else {
            ""
        }
    };
    REFERENCE_HTML
        .replace("{{title}}", title)
        .replace("{{document}}", document)
        .replace("{{tenant_current}}", current("/api/docs"))
        .replace("{{admin_current}}", current("/admin/docs"))
}

#[cfg(test)]
mod tests {
    use super::{APPS, PAGES};

    /// Every `/static/…` file a page names, in the order it names them.
    fn static_files(html: &str) -> Vec<&str> {
        html.split("\"/static/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn every_static_file_the_apps_load_is_served() {
        let served: Vec<&str> = APPS.iter().chain(PAGES).map(|(path, ..)| *path).collect();
        for (page, html, _) in APPS.iter().filter(|(_, _, t)| t.starts_with("text/html")) {
            for file in static_files(html) {
                assert!(
                    served.contains(&format!("/static/{file}").as_str()),
                    "{page} loads /static/{file}, which is not served"
                );
            }
        }
    }

    #[test]
    fn the_portal_and_the_console_load_the_shared_script_before_their_own() {
        for (page, own) in [
            ("/portal", "portal-core.js"),
            ("/console", "console-core.js"),
        ] {
            let html = APPS
                .iter()
                .find(|(path, ..)| *path == page)
                .map(|(_, html, _)| *html);
            let files = static_files(html.unwrap_or_default());
            let common = files.iter().position(|f| *f == "common.js");
            let core = files.iter().position(|f| *f == own);
            assert!(
                matches!((common, core), (Some(c), Some(o)) if c < o),
                "{page} must load common.js before {own}: {files:?}"
            );
        }
    }
}
