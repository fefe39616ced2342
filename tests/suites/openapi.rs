//! The OpenAPI documents, the tenant api's and the operator api's: served, complete, and exactly
//! the routes the app serves.

use graphhook_tests::{TestApp, client::strict_page};
use reqwest::Method;
use serde_json::Value;

/// The tenant api's document.
const TENANT_DOCUMENT: &str = "/api/openapi.json";
/// The operator api's document; reading it needs no operator token.
const ADMIN_DOCUMENT: &str = "/admin/openapi.json";

async fn document(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops.sort();
    ops
}

/// The document at `path` is OpenAPI 3.1.0 and lists exactly `registered`, at least `at_least`
/// operations: the document.
async fn documents_exactly(path: &str, registered: &[(String, String)], at_least: usize) -> Value {
    let app = TestApp::spawn().await;
    let doc = document(&app, path).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(operations(&doc), registered);
    assert!(registered.len() >= at_least);
    doc
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_app_registers() {
    let registered = graphhook_api::routes::tenant_api::routes();
    documents_exactly(TENANT_DOCUMENT, &registered, 25).await;
}

#[tokio::test]
async fn every_documented_route_is_served_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    let doc = document(&app, TENANT_DOCUMENT).await;
    for (method, path) in operations(&doc) {
        documents_the_rules(&doc, &method, &path, "api_key");

        // The app answers it: with a made-up id, a 404 for the resource, never "no route".
        let concrete = path
            .replace(
                "/api-keys/{id}",
                "/api-keys/key_0194c1a27b3c7d4e8f90123456789abc",
            )
            .replace(
                "/endpoints/{id}",
                "/endpoints/ep_0194c1a27b3c7d4e8f90123456789abc",
            )
            .replace(
                "/subscriptions/{id}",
                "/subscriptions/sub_0194c1a27b3c7d4e8f90123456789abc",
            )
            .replace(
                "/messages/{id}",
                "/messages/msg_0194c1a27b3c7d4e8f90123456789abc",
            )
            .replace(
                "/deliveries/{id}",
                "/deliveries/dlv_0194c1a27b3c7d4e8f90123456789abc",
            );
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PATCH).then(|| serde_json::json!({}));
        let response = app
            .as_tenant(&key)
            .send(method.clone(), &concrete, body)
            .await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {concrete}: {text}");
        assert!(
            !text.contains("no route for"),
            "{method} {concrete} is served: {text}"
        );
    }
}

#[tokio::test]
async fn one_reference_page_renders_each_document() {
    let app = TestApp::spawn().await;
    for (path, document) in [
        ("/api/docs", "/api/openapi.json"),
        ("/admin/docs", "/admin/openapi.json"),
    ] {
        let page = strict_page(&app, path).await;
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("data-document=\"{document}\"")),
            "{path}: {html}"
        );
        assert!(html.contains("/static/api-docs-text.js") && html.contains("/static/api-docs.js"));
        assert!(!html.contains("{{"), "{path}: every placeholder is filled");
    }
    for script in ["/static/api-docs.js", "/static/api-docs-text.js"] {
        let response = app.get(script).await;
        assert_eq!(response.status().as_u16(), 200, "{script}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
    let script = app.get("/static/api-docs.js").await.text().await.unwrap();
    assert!(script.contains("root.dataset.document"));
}

/// A request to the operator api, with `token` when given.
async fn admin_request(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if matches!(method, Method::POST | Method::PATCH) {
        request = request.json(&serde_json::json!({}));
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `path` with made-up ids in place of its parameters.
fn admin_concrete(path: &str) -> String {
    path.replace(
        "/tenants/{id}",
        "/tenants/ten_0194c1a27b3c7d4e8f90123456789abc",
    )
    .replace(
        "/subscriptions/{id}",
        "/subscriptions/sub_0194c1a27b3c7d4e8f90123456789abc",
    )
    .replace(
        "/probes/{id}",
        "/probes/prb_0194c1a27b3c7d4e8f90123456789abc",
    )
}

#[tokio::test]
async fn the_admin_document_lists_exactly_the_admin_routes_the_app_registers() {
    let registered = graphhook_api::routes::admin::routes();
    let doc = documents_exactly(ADMIN_DOCUMENT, &registered, 15).await;
    assert!(
        registered
            .iter()
            .all(|(_, path)| path.starts_with("/admin/v1/")),
        "{registered:?}"
    );
    let scheme = &doc["components"]["securitySchemes"]["operator_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
}

#[tokio::test]
async fn every_admin_operation_requires_an_operator_token_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let doc = document(&app, ADMIN_DOCUMENT).await;
    for (method, path) in operations(&doc) {
        documents_the_rules(&doc, &method, &path, "operator_token");
        let op = &doc["paths"][&path][method.to_lowercase()];
        assert!(
            op["operationId"]
                .as_str()
                .is_some_and(|id| id.starts_with("admin_")),
            "{method} {path}: operation id {}",
            op["operationId"]
        );

        // As documented: without a token, 401.
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let concrete = admin_concrete(&path);
        let (status, text) = admin_request(&app, method.clone(), &concrete, None).await;
        assert_eq!(status, 401, "{method} {concrete} without a token: {text}");
    }
}

#[tokio::test]
async fn every_documented_admin_route_is_served() {
    let app = TestApp::spawn().await;
    let token = app.operator_token();
    let doc = document(&app, ADMIN_DOCUMENT).await;
    for (method, path) in operations(&doc) {
        // With made-up ids, a 404 for the resource (or a 400 for a missing body), never
        // "no route".
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let concrete = admin_concrete(&path);
        assert!(!concrete.contains('{'), "{concrete} has no parameter left");
        let (status, text) = admin_request(&app, method.clone(), &concrete, Some(&token)).await;
        assert_ne!(status, 405, "{method} {concrete}: {text}");
        assert_ne!(status, 401, "{method} {concrete} takes the token: {text}");
        assert!(
            !text.contains("no route for"),
            "{method} {concrete} is served: {text}"
        );
    }
    // A GET the document lists answers with its documented 200.
    let response = app.admin_get("/admin/v1/credential").await;
    assert_eq!(response.status().as_u16(), 200);
}

/// The rules every documented operation keeps: it needs `scheme`, documents 401 with the error
/// body, has a summary, and its request body (if any) has an example.
fn documents_the_rules(doc: &Value, method: &str, path: &str, scheme: &str) {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert_eq!(
        op["security"][0][scheme],
        serde_json::json!([]),
        "{method} {path} needs {scheme}"
    );
    assert!(
        op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("/ErrorBody")),
        "{method} {path} documents 401 with the error body"
    );
    assert!(
        op["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{method} {path} has a summary"
    );
    if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
    {
        let name = body.rsplit('/').next().unwrap();
        assert!(
            doc["components"]["schemas"][name]["example"].is_object(),
            "{name} has an example"
        );
    }
}

#[tokio::test]
async fn the_webhooks_section_and_the_readme_describe_every_event_type_of_the_catalogue() {
    let app = TestApp::spawn().await;
    let doc = document(&app, TENANT_DOCUMENT).await;
    let hooks = doc["webhooks"].as_object().unwrap();
    let catalogue = graphhook_domain::delivery::event_catalogue::all();
    let mut documented: Vec<&String> = hooks.keys().collect();
    documented.sort();
    let mut names: Vec<&String> = catalogue.iter().map(|t| &t.name).collect();
    names.sort();
    assert_eq!(documented, names);
    for event in &catalogue {
        let post = &hooks[&event.name]["post"];
        let schema = &post["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema["properties"]["type"]["const"], event.name.as_str());
        let data = schema["properties"]["data"]["properties"]
            .as_object()
            .unwrap();
        for (field, _) in &event.fields {
            assert!(data.contains_key(*field), "{}: {field}", event.name);
        }
        assert!(post["parameters"].to_string().contains("webhook-signature"));
    }
    // The checkout the test runs in (a build may be reused from another checkout).
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(std::path::Path::new(&root).join("../README.md")).unwrap();
    for event in &catalogue {
        assert!(
            readme.contains(&format!("| `{}` |", event.name)),
            "the README's event table lacks {}",
            event.name
        );
    }
}
