//! Graph subscriptions through the tenant api, against the emulator.

use graphhook_tests::TestApp;
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::{
    client::{create_subscription, post_body},
    fixtures::USER,
    graph::{graph_subscription, graph_subscription_id, subscription_row},
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The operator api's list of encryption certificates.
async fn encryption_certificates(app: &TestApp) -> Value {
    app.admin_get("/admin/v1/encryption-certificates")
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_app_only_kind_is_created_active_with_our_urls_and_client_state() {
    let (app, key) = onboarded_contoso().await;
    let cases = [
        (
            format!("users/{USER}/messages"),
            vec!["created", "updated", "deleted"],
            "message",
            4_230,
        ),
        (
            format!("users/{USER}/mailFolders('inbox')/messages"),
            vec!["created"],
            "message",
            4_230,
        ),
        (
            format!("users/{USER}/events"),
            vec!["created", "updated"],
            "event",
            4_230,
        ),
        (
            format!("users/{USER}/contacts"),
            vec!["deleted"],
            "contact",
            4_230,
        ),
        (
            "users".to_owned(),
            vec!["updated", "deleted"],
            "user",
            41_760,
        ),
        ("groups".to_owned(), vec!["updated"], "group", 41_760),
        (
            "drives/b!drive1/root".to_owned(),
            vec!["updated"],
            "drive_item",
            42_300,
        ),
        (
            format!("users/{USER}/drive/root"),
            vec!["updated"],
            "drive_item",
            42_300,
        ),
    ];
    for (resource, change_types, kind, max_minutes) in cases {
        let (status, created, _) = create_subscription(
            &app,
            &key,
            json!({"resource": resource, "change_types": change_types}),
        )
        .await;
        assert_eq!(status, 201, "{resource}: {created}");
        assert_eq!(created["status"], "active");
        assert_eq!(created["kind"], kind);
        assert!(created["id"].as_str().unwrap().starts_with("sub_"));
        let expected = app.clock.now() + chrono::Duration::minutes(max_minutes - 15);
        assert_eq!(
            created["expires_at"].as_str().unwrap(),
            expected.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "{resource}"
        );

        let graph = graph_subscription(&app, &resource)
            .await
            .expect("the emulator holds it");
        assert_eq!(graph["notificationUrl"], app.url("/graph/notifications"));
        assert_eq!(
            graph["lifecycleNotificationUrl"],
            app.url("/graph/lifecycle")
        );
        assert_eq!(graph["changeType"], change_types.join(","));
        let client_state = graph["clientState"].as_str().unwrap();
        assert!(client_state.len() >= 32);
        let row = subscription_row(&app, created["id"].as_str().unwrap()).await;
        assert_eq!(
            row.client_state_hash,
            Sha256::digest(client_state.as_bytes()).to_vec(),
            "stored hashed"
        );
        assert_eq!(row.graph_id.as_deref(), graph["id"].as_str());
        assert!(graphhook_domain::graph::subscriptions::client_state_matches(&row, client_state));
    }
    let list = app
        .as_tenant(&key)
        .get_body("/api/v1/subscriptions?limit=5")
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 5);
    assert!(list["next_cursor"].is_string());
}

#[tokio::test]
async fn graph_style_field_names_are_accepted_too() {
    let (app, key) = onboarded_contoso().await;
    let (status, created, _) = create_subscription(
        &app,
        &key,
        json!({"resource": "users", "changeTypes": ["updated"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["change_types"], json!(["updated"]));
}

#[tokio::test]
async fn delete_removes_it_at_graph_and_a_404_from_graph_is_fine() {
    let (app, key) = onboarded_contoso().await;
    let (_, created) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    let path = format!("/api/v1/subscriptions/{}", created["id"].as_str().unwrap());
    assert_eq!(
        app.as_tenant(&key).status_of(Method::DELETE, &path).await,
        204
    );
    assert_eq!(graph_subscription(&app, "users").await, None);
    assert_eq!(app.as_tenant(&key).get_status(&path).await, 404);

    let (_, created) = app
        .as_tenant(&key)
        .try_subscribe("groups", &["updated"])
        .await;
    let graph_id = graph_subscription_id(&app, "groups").await;
    app.emulator_control(
        Method::POST,
        &format!("/subscriptions/{graph_id}/expire"),
        None,
    )
    .await;
    let path = format!("/api/v1/subscriptions/{}", created["id"].as_str().unwrap());
    assert_eq!(
        app.as_tenant(&key).status_of(Method::DELETE, &path).await,
        204
    );
}

#[tokio::test]
async fn every_subscription_route_refuses_another_tenants_key() {
    let app = TestApp::spawn().await;
    let contoso = app.onboard("Contoso").await.key.unwrap();
    let fabrikam = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let (_, created) = app
        .as_tenant(&contoso)
        .try_subscribe("users", &["updated"])
        .await;
    let path = format!("/api/v1/subscriptions/{}", created["id"].as_str().unwrap());
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .as_tenant(&fabrikam)
            .send(method.clone(), &path, None)
            .await;
        assert_eq!(response.status().as_u16(), 404, "{method}");
    }
    let list = app
        .as_tenant(&fabrikam)
        .get_body("/api/v1/subscriptions")
        .await;
    assert!(list["data"].as_array().unwrap().is_empty());
    assert!(
        graph_subscription(&app, "users").await.is_some(),
        "still there"
    );
}

#[tokio::test]
async fn the_graph_receivers_answer_the_validation_handshake() {
    let app = TestApp::spawn().await;
    for path in ["/graph/notifications", "/graph/lifecycle"] {
        let token = "Validation: Testing client application reachability for subscription Request-Id: 877cb92e";
        let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let handshake = format!("{path}?route=x&validationToken={encoded}");
        let response = app.anonymous(Method::POST, &handshake).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(
            response.text().await.unwrap(),
            token,
            "the form-decoded token"
        );

        let batch = json!({"value": [{"subscriptionId": "s", "changeType": "created"}]});
        let (status, body) = post_body(&app, path, batch.to_string()).await;
        assert_eq!(status, 202, "{body}");
        let (status, body) = post_body(&app, path, "{").await;
        assert_eq!(status, 400, "{body}");
    }
}

#[tokio::test]
async fn rich_subscriptions_carry_our_encryption_certificate_which_rotates() {
    let (app, key) = onboarded_contoso().await;
    let resource = format!("users/{USER}/messages");
    let (status, created, _) = create_subscription(
        &app,
        &key,
        json!({"resource": resource, "change_types": ["created"], "include_resource_data": true}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["include_resource_data"], true);
    let expected = app.clock.now() + chrono::Duration::minutes(1_440 - 15);
    assert_eq!(
        created["expires_at"].as_str().unwrap(),
        expected.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "rich Outlook: 1 day"
    );

    let graph = graph_subscription(&app, &resource).await.unwrap();
    assert_eq!(graph["includeResourceData"], true);
    let label = graph["encryptionCertificateId"]
        .as_str()
        .unwrap()
        .to_owned();
    let certificate = graph["encryptionCertificate"].as_str().unwrap().to_owned();
    let certificates = encryption_certificates(&app).await;
    assert_eq!(certificates["data"][0]["label"], label.as_str());
    assert!(certificates["data"][0]["retired_at"].is_null());
    let text = certificates.to_string();
    assert!(
        !text.contains("PRIVATE") && !text.contains(&certificate[..40]),
        "no key material is listed"
    );

    // Our private key, stored encrypted, decrypts for that certificate.
    let secret_box = graphhook_domain::delivery::webhooks::crypt::SecretBox::new(
        &app.settings.webhook_encryption_key(),
    )
    .unwrap();
    let (_, private) = graphhook_domain::graph::microsoft::certificates::with_private_key(
        &app.db,
        &secret_box,
        &label,
    )
    .await
    .unwrap()
    .unwrap();
    use rsa::pkcs8::DecodePrivateKey;
    assert!(rsa::RsaPrivateKey::from_pkcs8_der(&private).is_ok());

    let (status, body, _) = create_subscription(
        &app,
        &key,
        json!({"resource": "users", "change_types": ["updated"], "include_resource_data": true}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    let rotated: Value = app
        .admin_post_json("/admin/v1/encryption-certificates/rotate", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let new_label = rotated["label"].as_str().unwrap().to_owned();
    assert_ne!(new_label, label);
    let events = format!("users/{USER}/events");
    create_subscription(
        &app,
        &key,
        json!({"resource": events, "change_types": ["created"], "includeResourceData": true}),
    )
    .await;
    assert_eq!(
        graph_subscription(&app, &events).await.unwrap()["encryptionCertificateId"],
        new_label.as_str()
    );
    let certificates = encryption_certificates(&app).await;
    assert_eq!(certificates["data"].as_array().unwrap().len(), 2);
    assert!(
        certificates["data"][1]["retired_at"].is_string(),
        "the old one is retired, and kept"
    );
}

#[tokio::test]
async fn creating_and_deleting_are_audited_under_the_api_key_that_did_it() {
    use graphhook_domain::platform::entities::audit_log::{self, ActorKind};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let (app, key) = onboarded_contoso().await;
    let keys = app.as_tenant(&key).get_body("/api/v1/api-keys").await;
    let key_id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(key_id.starts_with("key_"), "{keys}");
    let (_, created) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    let path = format!("/api/v1/subscriptions/{}", created["id"].as_str().unwrap());
    let deleted = app.as_tenant(&key).send(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status().as_u16(), 204);
    for action in ["subscription.created", "subscription.deleted"] {
        let entry = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{action} audited"));
        assert_eq!(
            (entry.actor_kind, entry.actor_id.as_deref()),
            (ActorKind::Tenant, Some(key_id.as_str())),
            "{action}"
        );
    }
}
