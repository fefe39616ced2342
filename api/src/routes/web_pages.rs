//! The static pages of `web/`, compiled into the binary so the api serves them from anywhere:
//! the public pages (landing, guide, service status, the API references) and the two apps (the
//! tenant portal and the operator console). Every public page but the landing page is its own
//! `<main>` on one shared layout ([`on_layout`]), which the onboarding's pages
//! (`routes::onboarding::pages`) use too.

use actix_web::{HttpResponse, body::MessageBody, http::header, web};

/// The public pages and what they load: anyone may read them, and browsers may cache them.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "/",
        include_str!("../../../web/index.html"),
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

/// The guide and the status page, each on the shared layout: `(path, title, navigation, main)`.
const LAID_OUT: &[(&str, &str, Nav, &str)] = &[
    (
        "/docs",
        "API guide",
        NAV_REFERENCES,
        include_str!("../../../web/docs.html"),
    ),
    (
        "/status",
        "Service status",
        NAV,
        include_str!("../../../web/status.html"),
    ),
];

/// The shell every public page but the landing page shares (`web/layout.html`): the head,
/// the skip link and the site header with the main navigation. A page's own file
/// (`web/docs.html`, …) holds its `<main>`, footer and scripts.
const LAYOUT: &str = include_str!("../../../web/layout.html");

/// Main navigation links: `(href, label)`.
pub(crate) type Nav = &'static [(&'static str, &'static str)];

/// The navigation of the guide and the API references.
const NAV_REFERENCES: Nav = &[
    ("/docs", "Guide"),
    ("/api/docs", "API reference"),
    ("/admin/docs", "Operator API reference"),
];

/// The navigation of the other pages.
pub(crate) const NAV: Nav = &[("/docs", "Guide"), ("/api/docs", "API reference")];

/// `main` on the layout, titled `title` (HTML, already escaped), the link to `current` marked
/// as the current page. `main` goes in last, so placeholders in it are left for the caller.
pub(crate) fn on_layout(title: &str, nav: Nav, current: &str, main: &str) -> String {
    let links: Vec<String> = nav
        .iter()
        .map(|(href, label)| {
            let marked = if *href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("        <li><a href=\"{href}\"{marked}>{label}</a></li>")
        })
        .collect();
    LAYOUT
        .replace("{{title}}", title)
        .replace("{{nav}}", &links.join("\n"))
        .replace("{{main}}", main)
}

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
    for &(path, title, nav, main) in LAID_OUT {
        let body = on_layout(title, nav, path, main);
        cfg.service(web::resource(path).route(web::get().to(move || {
            let body = body.clone();
            async move { page(body, "text/html; charset=utf-8") }
        })));
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
    let main = REFERENCE_HTML.replace("{{title}}", title);
    on_layout(title, NAV_REFERENCES, path, &main).replace("{{document}}", document)
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
