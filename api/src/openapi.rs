//! The OpenAPI 3.1 documents, generated from the handlers' annotations: the tenant api's,
//! served at `/api/openapi.json`, and the operator api's, served at `/admin/openapi.json`.
//! Reading either needs no credentials; one page renders both (`/api/docs`, `/admin/docs`, in
//! `routes::web_pages`).

use actix_web::{HttpResponse, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        path::{Operation, PathItem},
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
        tag::TagBuilder,
    },
};

use crate::routes::{admin, connections, endpoints, events, messages, subscriptions, tenant};

/// A bearer security scheme a document declares, by the name its operations require it under.
struct BearerScheme {
    name: &'static str,
    /// What the token is (`JWT`), when it has a format.
    format: Option<&'static str>,
    description: &'static str,
}

/// A section of a document: its tag, what it holds, and the paths whose operations it tags.
struct Section {
    tag: &'static str,
    description: &'static str,
    /// Path prefixes, whole segments; a path belongs to the section of its longest matching one.
    paths: &'static [&'static str],
}

/// What holds for every operation of a document, declared here once rather than on each
/// handler: the scheme each requires (so a new route cannot forget it) and its section's tag.
/// The public routes (Graph's receiver, onboarding, health, these documents) are in neither
/// document, so every operation a document lists requires its scheme.
struct Document {
    scheme: BearerScheme,
    sections: &'static [Section],
}

impl Document {
    /// The tag of the operations at `path`: its section's, by the longest matching prefix.
    fn tag_of(&self, path: &str) -> Option<&'static str> {
        let within = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.sections
            .iter()
            .flat_map(|section| {
                section
                    .paths
                    .iter()
                    .map(move |prefix| (section.tag, prefix))
            })
            .filter(|(_, prefix)| within(prefix))
            .max_by_key(|(_, prefix)| prefix.len())
            .map(|(tag, _)| tag)
    }
}

impl Modify for Document {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let BearerScheme {
            name,
            format,
            description,
        } = self.scheme;
        let mut scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description));
        if let Some(format) = format {
            scheme = scheme.bearer_format(format);
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(name, SecurityScheme::Http(scheme.build()));

        let tags = self.sections.iter().map(|section| {
            TagBuilder::new()
                .name(section.tag)
                .description(Some(section.description))
                .build()
        });
        openapi.tags = Some(tags.collect());
        for (path, item) in &mut openapi.paths.paths {
            let tag = self.tag_of(path);
            for operation in operations(item) {
                operation.tags = tag.map(|tag| vec![tag.to_owned()]);
                let requirement = SecurityRequirement::new(name, Vec::<String>::new());
                operation.security = Some(vec![requirement]);
            }
        }
    }
}

/// Every operation at one path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    let PathItem {
        get,
        put,
        post,
        delete,
        options,
        head,
        patch,
        trace,
        query,
        additional_operations,
        ..
    } = item;
    [get, put, post, delete, options, head, patch, trace, query]
        .into_iter()
        .flatten()
        .chain(additional_operations.values_mut())
}

/// The tenant api's document.
const TENANT: Document = Document {
    scheme: BearerScheme {
        name: "api_key",
        format: None,
        description: "A tenant API key, `ghk_…`, shown once at onboarding or creation",
    },
    sections: &[
        Section {
            tag: "tenant",
            description: "Your tenant and its consent",
            paths: &["/api/v1/tenant"],
        },
        Section {
            tag: "api keys",
            description: "Keys for this API",
            paths: &["/api/v1/api-keys"],
        },
        Section {
            tag: "endpoints",
            description: "Where your events are delivered",
            paths: &["/api/v1/endpoints"],
        },
        Section {
            tag: "subscriptions",
            description: "Microsoft Graph subscriptions held for you",
            paths: &["/api/v1/subscriptions"],
        },
        Section {
            tag: "connections",
            description: "Microsoft users connected to your tenant, for the subscriptions Graph allows only in a signed-in user's name (group conversations, personal OneDrive, `me/…`)",
            paths: &["/api/v1/connections"],
        },
        Section {
            tag: "history",
            description: "Messages, deliveries and attempts; resend and recover; operational events",
            paths: &[
                "/api/v1/messages",
                "/api/v1/deliveries",
                "/api/v1/endpoints/{id}/recover",
                "/api/v1/events",
            ],
        },
        Section {
            tag: "webhooks",
            description: "What your endpoints receive: one Standard Webhooks POST per event, its `data` per type (the `webhooks` section)",
            paths: &[],
        },
    ],
};

/// The operator api's document.
const OPERATOR: Document = Document {
    scheme: BearerScheme {
        name: "operator_token",
        format: Some("JWT"),
        description: "An operator token: a JWT signed with `admin.signing_key`, minted by `graphhook admin token --name <operator>`",
    },
    sections: &[
        Section {
            tag: "tenants",
            description: "Tenants: their state, suspension, resumption and offboarding",
            paths: &["/admin/v1/tenants"],
        },
        Section {
            tag: "subscriptions",
            description: "Microsoft Graph subscriptions across tenants",
            paths: &["/admin/v1/subscriptions"],
        },
        Section {
            tag: "operations",
            description: "Queue depths and backlogs, delivery statistics, the app credential",
            paths: &[
                "/admin/v1/queues",
                "/admin/v1/deliveries",
                "/admin/v1/credential",
            ],
        },
        Section {
            tag: "probes",
            description: "Jobs that check the pipeline from the api to a worker",
            paths: &["/admin/v1/probes"],
        },
        Section {
            tag: "operators",
            description: "Operator tokens: who a token names, revoking one",
            paths: &["/admin/v1/me", "/admin/v1/operator-tokens"],
        },
        Section {
            tag: "audit",
            description: "What operators, tenants and the system did",
            paths: &["/admin/v1/audit-log"],
        },
        Section {
            tag: "certificates",
            description: "The certificates Graph encrypts rich notifications with",
            paths: &["/admin/v1/encryption-certificates"],
        },
    ],
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
    modifiers(&TENANT)
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
    modifiers(&OPERATOR)
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Every operation of `doc`: its path, its tags and its security requirements as JSON.
    fn operations_of(doc: utoipa::openapi::OpenApi) -> Vec<(String, Vec<String>, Value)> {
        let mut found = Vec::new();
        for (path, mut item) in doc.paths.paths {
            for operation in operations(&mut item) {
                let security = serde_json::to_value(&operation.security).unwrap_or_default();
                let tags = operation.tags.clone().unwrap_or_default();
                found.push((path.clone(), tags, security));
            }
        }
        found
    }

    fn assert_one_tag_and_the_scheme(doc: utoipa::openapi::OpenApi, declared: &Document) {
        let declared_tags: Vec<_> = declared.sections.iter().map(|s| s.tag).collect();
        let required = json!([{ declared.scheme.name: [] }]);
        let operations = operations_of(doc);
        assert!(!operations.is_empty());
        for (path, tags, security) in operations {
            assert_eq!(tags.len(), 1, "{path} has tags {tags:?}");
            assert!(
                declared_tags.contains(&tags[0].as_str()),
                "{path}: {tags:?}"
            );
            assert_eq!(security, required, "{path}");
        }
    }

    #[test]
    fn every_tenant_operation_has_one_tag_and_needs_an_api_key() {
        assert_one_tag_and_the_scheme(ApiDoc::openapi(), &TENANT);
    }

    #[test]
    fn every_operator_operation_has_one_tag_and_needs_an_operator_token() {
        assert_one_tag_and_the_scheme(AdminApiDoc::openapi(), &OPERATOR);
    }

    #[test]
    fn a_path_takes_the_tag_of_its_longest_prefix_by_whole_segments() {
        assert_eq!(TENANT.tag_of("/api/v1/endpoints/{id}"), Some("endpoints"));
        assert_eq!(
            TENANT.tag_of("/api/v1/endpoints/{id}/recover"),
            Some("history")
        );
        assert_eq!(TENANT.tag_of("/api/v1/tenant/verify"), Some("tenant"));
        assert_eq!(TENANT.tag_of("/api/v1/tenants"), None);
        assert_eq!(
            OPERATOR.tag_of("/admin/v1/deliveries/stats"),
            Some("operations")
        );
    }
}
