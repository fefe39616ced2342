//! Delegated connections as a tenant makes them: start one, follow its authorization URL
//! signed in as a Microsoft user, read it, reconnect it, subscribe through it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{CONTOSO_ADMIN, TestApp, client::Answer};

/// A member of Contoso's directory.
pub const CONTOSO_USER: &str = "user@contoso.onmicrosoft.com";
/// A personal Microsoft account.
pub const ALICE: &str = "alice@outlook.com";
/// The tenant personal accounts sign in through.
pub const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// A Microsoft 365 group of Contoso's.
pub const GROUP: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";

/// `POST /api/v1/connections`: the status and body.
pub async fn start(app: &TestApp, key: &str, body: Value) -> Answer {
    app.as_tenant(key)
        .post_json("/api/v1/connections", body)
        .await
}

/// A browser opens `url` signed in to the emulator as `user`: the final page's status and text.
pub async fn follow(app: &TestApp, url: &str, user: &str) -> (u16, String) {
    app.sign_in_as(user).await;
    let response = app
        .browser()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let page = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    app.sign_in_as(CONTOSO_ADMIN).await;
    (status, page)
}

/// Connects `user` for `kinds` (`account`: work or personal): the connection's id.
pub async fn connect(
    app: &TestApp,
    key: &str,
    account: &str,
    kinds: &[&str],
    user: &str,
) -> String {
    let (status, started) = start(app, key, json!({"account": account, "kinds": kinds})).await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["status"], "pending");
    let url = started["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization_url: {started}"));
    let (status, page) = follow(app, url, user).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected"), "{page}");
    started["id"]
        .as_str()
        .unwrap_or_else(|| panic!("connection without id: {started}"))
        .to_owned()
}

/// `GET /api/v1/connections/{id}`.
pub async fn connection(app: &TestApp, key: &str, id: &str) -> Answer {
    app.as_tenant(key)
        .get(&format!("/api/v1/connections/{id}"))
        .await
}

/// `POST /api/v1/connections/{id}/reconnect`.
pub async fn reconnect(app: &TestApp, key: &str, id: &str) -> Answer {
    app.as_tenant(key)
        .call(
            Method::POST,
            &format!("/api/v1/connections/{id}/reconnect"),
            None,
        )
        .await
}

/// `POST /api/v1/subscriptions` through a connection: the status and body.
pub async fn subscribe_through(
    app: &TestApp,
    key: &str,
    connection: &str,
    resource: &str,
    change_types: &[&str],
) -> Answer {
    let (status, body, _) = app
        .as_tenant(key)
        .create_subscription(
            json!({"resource": resource, "change_types": change_types, "connection_id": connection}),
        )
        .await;
    (status, body)
}
