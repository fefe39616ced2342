//! The static pages of `web/`, compiled into the binary so the api serves them from anywhere.

use actix_web::{HttpResponse, http::header, web};

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const DOCS_HTML: &str = include_str!("../../../web/docs.html");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

/// The tenant portal and the operator console: plain HTML, CSS and JavaScript calling the
/// tenant and admin apis from the same origin.
const APPS: &[(&str, &str, &str)] = &[
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
    cfg.service(web::resource("/").route(web::get().to(index)))
        .service(web::resource("/docs").route(web::get().to(docs)))
        .service(web::resource("/static/style.css").route(web::get().to(style)))
        // Browsers ask for it on every page; there is none, and no error either.
        .service(
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

fn page(body: &'static str, content_type: &str) -> HttpResponse {
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

async fn index() -> HttpResponse {
    page(INDEX_HTML, "text/html; charset=utf-8")
}

async fn docs() -> HttpResponse {
    page(DOCS_HTML, "text/html; charset=utf-8")
}

async fn style() -> HttpResponse {
    page(STYLE_CSS, "text/css; charset=utf-8")
}
