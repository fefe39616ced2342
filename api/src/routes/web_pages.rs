//! The static pages of `web/`, compiled into the binary so the api serves them from anywhere.

use actix_web::{HttpResponse, http::header, web};

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const DOCS_HTML: &str = include_str!("../../../web/docs.html");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(index)))
        .service(web::resource("/docs").route(web::get().to(docs)))
        .service(web::resource("/static/style.css").route(web::get().to(style)));
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
