//! The tenant api's OpenAPI document: served, complete, and exactly the routes the app serves.

use graphhook_tests::TestApp;
use reqwest::Method;
use serde_json::Value;

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").await;
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

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_app_registers() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = operations(&doc);
    let registered = graphhook_api::routes::tenant_api::routes();
    assert_eq!(documented, registered);
    assert!(registered.len() >= 25);
}

#[tokio::test]
async fn every_documented_route_is_served_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let key = app
        .create_tenant(graphhook_emulator::config::DEFAULT_TENANT_ID, "Contoso")
        .await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        assert_eq!(
            op["security"][0]["api_key"],
            serde_json::json!([]),
            "{method} {path} needs a key"
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
        if let Some(body) =
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = body.rsplit('/').next().unwrap();
            assert!(
                doc["components"]["schemas"][name]["example"].is_object(),
                "{name} has an example"
            );
        }

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
            .tenant_request(method.clone(), &concrete, &key, body)
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
async fn the_reference_page_renders_the_document() {
    let app = TestApp::spawn().await;
    let page = app.get("/api/docs").await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/static/api-docs.js") && html.contains("/api/openapi.json"));
    let script = app.get("/static/api-docs.js").await;
    assert_eq!(script.status().as_u16(), 200);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("fetch(\"/api/openapi.json\")")
    );
}
