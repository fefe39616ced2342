//! The tenant api's OpenAPI 3.1 document, generated from the handlers' annotations, served at
//! `/api/openapi.json`, with a page that renders it at `/api/docs`.

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::routes::{endpoints, events, messages, subscriptions, tenant};

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A tenant API key, `ghk_…`, shown once at onboarding or creation",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Graphhook tenant API",
        description = "Register webhook endpoints and Microsoft Graph subscriptions for your Microsoft 365 tenant. JSON names are snake_case; ids are typed and prefixed (`ten_`, `key_`, `ep_`, `sub_`); lists use cursor pagination (`limit`, `cursor` → `next_cursor`); every error has the body `ErrorBody`."
    ),
    paths(
        tenant::status::show,
        tenant::status::verify,
        tenant::status::offboard,
        tenant::api_keys::create,
        tenant::api_keys::list,
        tenant::api_keys::revoke,
        endpoints::write::create,
        endpoints::read::list,
        endpoints::read::show,
        endpoints::read::health,
        endpoints::write::update,
        endpoints::write::delete,
        endpoints::actions::verify,
        endpoints::actions::test,
        endpoints::read::secret,
        endpoints::actions::rotate,
        endpoints::read::public_key,
        subscriptions::create,
        subscriptions::list,
        subscriptions::show,
        subscriptions::delete,
        subscriptions::actions,
        messages::list_messages,
        messages::show_message,
        messages::resend,
        messages::list_deliveries,
        messages::list_attempts,
        messages::recover,
        events::list,
    ),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "tenant", description = "Your tenant and its consent"),
        (name = "api keys", description = "Keys for this API"),
        (name = "endpoints", description = "Where your events are delivered"),
        (name = "subscriptions", description = "Microsoft Graph subscriptions held for you"),
        (name = "history", description = "Messages, deliveries and attempts; resend and recover; operational events"),
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

const DOCS_HTML: &str = include_str!("../../web/api-docs.html");
const DOCS_JS: &str = include_str!("../../web/api-docs.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/openapi.json").route(web::get().to(openapi_json)))
        .service(web::resource("/api/docs").route(web::get().to(docs)))
        .service(web::resource("/static/api-docs.js").route(web::get().to(docs_js)));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "content-security-policy",
            "default-src 'self'; style-src 'self'; script-src 'self'",
        ))
        .body(DOCS_HTML)
}

async fn docs_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(DOCS_JS)
}
