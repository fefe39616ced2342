//! Tenant API keys: create, list, revoke; isolation between tenants.

use graphhook_tests::TestApp;
use graphhook_tests::errors::Refusal;
use graphhook_tests::fixtures::onboarded_contoso;
use reqwest::Method;
use serde_json::json;

const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";

/// Onboards Contoso and Fabrikam; returns their first keys.
async fn two_tenants(app: &TestApp) -> (String, String) {
    let contoso = app.onboard("Contoso").await.key.unwrap();
    let fabrikam = app
        .onboard_tenant(FABRIKAM, "fabrikam.onmicrosoft.com", "Fabrikam")
        .await
        .key
        .unwrap();
    (contoso, fabrikam)
}

#[tokio::test]
async fn keys_are_created_shown_once_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let first = app.onboard("Contoso").await.key.unwrap();
    let (status, created) = app
        .as_tenant(&first)
        .post_json("/api/v1/api-keys", json!({"name": "CI"}))
        .await;
    assert_eq!(status, 201, "{created}");
    let second = created["key"].as_str().unwrap().to_owned();
    assert!(second.starts_with(created["prefix"].as_str().unwrap()));
    assert!(created["id"].as_str().unwrap().starts_with("key_"));

    let list = app.as_tenant(&second).get_body("/api/v1/api-keys").await;
    let keys = list["data"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.get("key").is_none()),
        "listing never shows a key"
    );
    assert!(
        keys.iter()
            .any(|k| k["name"] == "Default key" && k["last_used_at"].is_string())
    );

    let path = format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap());
    assert_eq!(
        app.as_tenant(&first).status_of(Method::DELETE, &path).await,
        204
    );
    let answer = app.as_tenant(&second).get("/api/v1/tenant").await;
    Refusal::unauthorized("revoked").of(answer);
    assert_eq!(
        app.as_tenant(&first).get_status("/api/v1/tenant").await,
        200
    );
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_401() {
    let (app, key) = onboarded_contoso().await;
    assert_eq!(app.get("/api/v1/tenant").await.status().as_u16(), 401);
    for bad in [
        "nope",
        "ghk_short_x",
        &format!("{key}x"),
        &key.replace("ghk_", "ghk_Z"),
    ] {
        let (status, body) = app.as_tenant(bad).get("/api/v1/tenant").await;
        assert_eq!(status, 401, "{bad}");
        assert_eq!(body["code"], "unauthorized");
    }
}

#[tokio::test]
async fn another_tenants_key_cannot_read_or_change_this_tenant() {
    let app = TestApp::spawn().await;
    let (contoso, fabrikam) = two_tenants(&app).await;
    let mine = app.as_tenant(&fabrikam).get_body("/api/v1/tenant").await;
    assert_eq!(
        mine["entra_tenant_id"], FABRIKAM,
        "a key reads its own tenant only"
    );

    let contoso_keys = app.as_tenant(&contoso).get_body("/api/v1/api-keys").await;
    let contoso_key_id = contoso_keys["data"][0]["id"].as_str().unwrap().to_owned();
    let fabrikam_keys = app.as_tenant(&fabrikam).get_body("/api/v1/api-keys").await;
    assert_eq!(fabrikam_keys["data"].as_array().unwrap().len(), 1);
    assert_ne!(fabrikam_keys["data"][0]["id"], contoso_key_id.as_str());

    let path = format!("/api/v1/api-keys/{contoso_key_id}");
    assert_eq!(
        app.as_tenant(&fabrikam)
            .status_of(Method::DELETE, &path)
            .await,
        404,
        "another tenant's key is not found"
    );
    assert_eq!(
        app.as_tenant(&contoso).get_status("/api/v1/tenant").await,
        200
    );
}
