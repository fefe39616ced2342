//! The OpenAPI 3.1 documents, generated from the handlers' annotations: the tenant api's,
//! served at `/api/openapi.json`, and the operator api's, served at `/admin/openapi.json`.
//! Reading either needs no credentials; one page renders both (`/api/docs`, `/admin/docs`, in
//! `routes::web_pages`).

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::routes::{admin, connections, endpoints, events, messages, subscriptions, tenant};

/// A bearer security scheme a document declares, by the name its operations require it under.
struct BearerScheme {
    name: &'static str,
    /// What the token is (`JWT`), when it has a format.
    format: Option<&'static str>,
    description: &'static str,
}

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(self.description));
        if let Some(format) = self.format {
            scheme = scheme.bearer_format(format);
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(self.name, SecurityScheme::Http(scheme.build()));
    }
}

/// The tenant api's scheme.
const API_KEY: BearerScheme = BearerScheme {
    name: "api_key",
    format: None,
    description: "A tenant API key, `ghk_…`, shown once at onboarding or creation",
};

/// The operator api's scheme.
const OPERATOR_TOKEN: BearerScheme = BearerScheme {
    name: "operator_token",
    format: Some("JWT"),
    description: "An operator token: a JWT signed with `admin.signing_key`, minted by `graphhook admin token --name <operator>`",
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Graphhook tenant API",
        description = "Register webhook endpoints and Microsoft Graph subscriptions for your Microsoft 365 tenant. JSON names are snake_case; ids are typed and prefixed (`ten_`, `key_`, `ep_`, `sub_`, `conn_`); lists use cursor pagination (`limit`, `cursor` → `next_cursor`); every error has the body `ErrorBody`."
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
        connections::create,
        connections::list,
        connections::show,
        connections::delete,
        connections::reconnect,
        messages::list_messages,
        messages::show_message,
        messages::resend,
        messages::list_deliveries,
        messages::list_attempts,
        messages::recover,
        events::list,
    ),
    modifiers(&API_KEY),
    tags(
        (name = "tenant", description = "Your tenant and its consent"),
        (name = "api keys", description = "Keys for this API"),
        (name = "endpoints", description = "Where your events are delivered"),
        (name = "subscriptions", description = "Microsoft Graph subscriptions held for you"),
        (name = "connections", description = "Microsoft users connected to your tenant, for the subscriptions Graph allows only in a signed-in user's name (group conversations, personal OneDrive, `me/…`)"),
        (name = "history", description = "Messages, deliveries and attempts; resend and recover; operational events"),
        (name = "webhooks", description = "What your endpoints receive: one Standard Webhooks POST per event, its `data` per type (the `webhooks` section)"),
    )
)]
pub struct ApiDoc;

/// The document as JSON, with a `webhooks` section describing every event a tenant's endpoints
/// receive (from the event catalogue).
pub fn document() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(doc) = doc.as_object_mut() {
        doc.insert("webhooks".to_owned(), webhooks());
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
}

/// One entry per event type: the Standard Webhooks request Graphhook sends, and its payload.
fn webhooks() -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let header = |name: &str, description: &str| {
        json!({"name": name, "in": "header", "required": true, "schema": {"type": "string"},
               "description": description})
    };
    let mut hooks = Map::new();
    for event in graphhook_domain::delivery::event_catalogue::all() {
        let fields: Map<String, Value> = event
            .fields
            .iter()
            .map(|(name, description)| ((*name).to_owned(), json!({"description": description})))
            .collect();
        hooks.insert(
            event.name.clone(),
            json!({"post": {
                "operationId": format!("webhook_{}", event.name.replace('.', "_")),
                "summary": event.summary,
                "tags": ["webhooks"],
                "parameters": [
                    header("webhook-id", "the message id (`msg_…`), the same on every retry"),
                    header("webhook-timestamp", "seconds since the epoch"),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256>`, space-separated (one per live secret during a rotation's grace period), plus `v1a,<base64 Ed25519>` for endpoints that asked for it"),
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "const": event.name},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "data": {"type": "object", "properties": fields},
                    },
                }}}},
                "responses": {"2XX": {"description": "Received; anything else is retried"}},
            }}),
        );
    }
    Value::Object(hooks)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Graphhook operator API",
        description = "Run a Graphhook deployment: find, suspend, resume and offboard tenants; watch subscriptions, queues, deliveries and the app credential; probe the worker pipeline; read the audit log; rotate the encryption certificates. Every call needs an operator token and is audited under the operator's name. JSON names are snake_case; ids are typed and prefixed (`ten_`, `sub_`, `prb_`, `aud_`); lists use cursor pagination (`limit`, `cursor` → `next_cursor`); every error has the body `ErrorBody`."
    ),
    paths(
        admin::tenants::list,
        admin::tenant_detail::show,
        admin::tenants::suspend,
        admin::tenants::resume,
        admin::tenants::offboard,
        admin::subscriptions::list,
        admin::subscriptions::renew,
        admin::ops::queues,
        admin::ops::delivery_stats,
        admin::ops::credential,
        admin::operators::me,
        admin::operators::revoke,
        admin::probes::create,
        admin::probes::show,
        admin::audit::list,
        admin::certificates::list,
        admin::certificates::rotate,
    ),
    modifiers(&OPERATOR_TOKEN),
    tags(
        (name = "tenants", description = "Tenants: their state, suspension, resumption and offboarding"),
        (name = "subscriptions", description = "Microsoft Graph subscriptions across tenants"),
        (name = "operations", description = "Queue depths and backlogs, delivery statistics, the app credential"),
        (name = "probes", description = "Jobs that check the pipeline from the api to a worker"),
        (name = "operators", description = "Operator tokens: who a token names, revoking one"),
        (name = "audit", description = "What operators, tenants and the system did"),
        (name = "certificates", description = "The certificates Graph encrypts rich notifications with"),
    )
)]
pub struct AdminApiDoc;

/// The operator api's document as JSON.
pub fn admin_document() -> String {
    AdminApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/openapi.json").route(web::get().to(openapi_json)))
        .service(web::resource("/admin/openapi.json").route(web::get().to(admin_openapi_json)));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

async fn admin_openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(admin_document())
}
