//! The portal's sign-in: an API key exchanged for a short-lived session token that works on
//! the tenant api like the key, ends with the key, and is no operator token.

use graphhook_tests::errors::Refusal;
use graphhook_tests::{TestApp, client::strict_page};
use reqwest::Method;
use serde_json::{Value, json};

async fn sign_in(app: &TestApp, key: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/portal/session"))
        .json(&json!({"api_key": key}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_api_key_signs_in_for_a_session_that_ends_with_the_key_or_after_half_an_hour() {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    for bad in ["", "ghk_nonsense", "not-a-key"] {
        let (status, body) = sign_in(&app, bad).await;
        assert_eq!(status, 401, "{bad}: {body}");
        assert_eq!(body["code"], "unauthorized");
    }
    let (status, session) = sign_in(&app, &key).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["tenant"]["name"], "Contoso");
    let token = session["token"].as_str().unwrap().to_owned();
    assert!(!token.contains(&key) && !token.starts_with("ghk_"));

    assert_eq!(
        app.as_tenant(&token).get_status("/api/v1/tenant").await,
        200
    );
    assert_eq!(
        app.as_tenant(&token).get_status("/api/v1/endpoints").await,
        200
    );
    // It is not an operator token.
    let response = app
        .client
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A tampered token is refused.
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        app.as_tenant(&tampered).get_status("/api/v1/tenant").await,
        401
    );

    // Half an hour later it has expired.
    app.clock.advance(chrono::Duration::minutes(31));
    let answer = app.as_tenant(&token).get("/api/v1/tenant").await;
    Refusal::unauthorized("expired").of(answer);

    // Revoking the key ends its sessions.
    let (_, session) = sign_in(&app, &key).await;
    let token = session["token"].as_str().unwrap().to_owned();
    let keys = app.as_tenant(&key).get_body("/api/v1/api-keys").await;
    let key_id = keys["data"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/api-keys/{key_id}");
    let status = app.as_tenant(&token).status_of(Method::DELETE, &path).await;
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(
        app.as_tenant(&token).get_status("/api/v1/tenant").await,
        401
    );
}

#[tokio::test]
async fn the_apps_are_served_with_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/portal", "text/html"),
        ("/static/portal-core.js", "text/javascript"),
        ("/static/portal-activity.js", "text/javascript"),
        ("/static/portal-endpoints.js", "text/javascript"),
        ("/static/portal-subscriptions.js", "text/javascript"),
        ("/static/portal-connections.js", "text/javascript"),
        ("/static/portal-tenant.js", "text/javascript"),
        ("/static/portal.css", "text/css"),
        ("/console", "text/html"),
        ("/static/console-core.js", "text/javascript"),
        ("/static/console-tables.js", "text/javascript"),
        ("/static/console-subscriptions.js", "text/javascript"),
        ("/static/console-tenants.js", "text/javascript"),
        ("/static/console-operations.js", "text/javascript"),
        ("/static/console.css", "text/css"),
    ] {
        let response = strict_page(&app, path).await;
        let headers = response.headers();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
}
