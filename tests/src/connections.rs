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

/// A browser follows the `authorization_url` of a started or reconnected connection, signed in
/// as `user`: the final page's status and text.
pub async fn follow_link(app: &TestApp, started: &Value, user: &str) -> (u16, String) {
    let url = started["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization_url: {started}"));
    follow(app, url, user).await
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

/// A tenant whose user is connected and subscribed through the connection.
pub struct Connected {
    pub key: String,
    /// The connection's id.
    pub connection: String,
    /// The subscription's id.
    pub subscription: String,
}

/// Contoso (onboarded) with an endpoint on `receiver`, `CONTOSO_USER` connected for
/// conversations, and a subscription through it to `GROUP`'s conversations.
pub async fn connected_to_conversations(app: &TestApp, receiver: &crate::Receiver) -> Connected {
    let key = crate::tenant_with_endpoint(app, crate::Tenant::Onboarded, receiver)
        .await
        .key;
    let connection = connect(app, &key, "work", &["conversation"], CONTOSO_USER).await;
    let (status, created) = subscribe_through(
        app,
        &key,
        &connection,
        &group_conversations(GROUP),
        &["created"],
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let subscription = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("subscription without id: {created}"))
        .to_owned();
    Connected {
        key,
        connection,
        subscription,
    }
}

/// The resource of a group's conversations.
pub fn group_conversations(group: impl std::fmt::Display) -> String {
    format!("groups/{group}/conversations")
}

/// A new conversation in `GROUP`, as Graph announces it.
pub async fn new_conversation(app: &TestApp) {
    let resource = group_conversations(GROUP);
    crate::graph::change_of(app, crate::fixtures::TENANT, &resource, "created").await;
}
