//! Subscription errors: refused requests, missing permissions, and Graph's answers mapped.

use graphhook_tests::TestApp;
use graphhook_tests::errors::assert_code;
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::graph::behave;
use graphhook_tests::{
    client::{create_subscription, subscribe},
    fixtures::USER,
    graph::graph_subscription,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn bad_requests_get_their_documented_errors() {
    let (app, key) = onboarded_contoso().await;
    // Subscription errors carry no `details`: the message is what tells the tenant which
    // kinds and change types are supported, so it is under test along with the code.
    let cases = [
        ("users", "created", "supported: updated, deleted"),
        (
            "sites/s1/lists/l1",
            "updated",
            "supported: users/{id}/messages",
        ),
        ("groups/g1/conversations", "created", "delegated token"),
        ("drives/d1/root/Documents", "updated", "personal OneDrive"),
    ];
    for (resource, change_type, names) in cases {
        let (status, body) = app
            .as_tenant(&key)
            .try_subscribe(resource, &[change_type])
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("validation_failed")),
            "{resource}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(names),
            "{resource}: {body}"
        );
    }

    let (status, body, _) = create_subscription(&app, &key, json!({"resource": "users", "change_types": ["updated"], "endpoint_ids": ["ep_0194c1a27b3c7d4e8f90123456789abc"]})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        graph_subscription(&app, "users").await,
        None,
        "nothing was created at Graph"
    );
}

#[tokio::test]
async fn a_missing_permission_is_a_403_naming_it() {
    let app = TestApp::spawn().await;
    // The tenant consented to users only.
    let tenant: uuid::Uuid = graphhook_emulator::config::DEFAULT_TENANT_ID
        .parse()
        .unwrap();
    let proof = graphhook_domain::tenancy::tenants::ConsentProof {
        entra_tenant_id: tenant,
        roles: vec!["User.Read.All".into()],
    };
    let recorded = graphhook_domain::tenancy::tenants::record_consent(
        &app.db,
        &app.clock,
        &proof,
        "Contoso",
        graphhook_domain::operator::audit::Actor::system("onboarding"),
        None,
    )
    .await
    .unwrap();
    let key = graphhook_domain::tenancy::api_keys::create(
        &app.db,
        &app.clock,
        recorded.tenant.id.into(),
        "k",
    )
    .await
    .unwrap();
    let key = graphhook_domain::platform::secret::ExposeSecret::expose_secret(&key.key).to_owned();
    let (status, body) = app
        .as_tenant(&key)
        .try_subscribe(&format!("users/{USER}/messages"), &["created"])
        .await;
    assert_code(status, &body, 403, "forbidden");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("Mail.Read") && message.contains("consent again"),
        "{message}"
    );
}

#[tokio::test]
async fn graphs_quota_maps_to_409_and_its_throttling_to_503_with_retry_after() {
    let (app, key) = onboarded_contoso().await;
    behave(&app, json!({"directory_quota_per_app": 1})).await;
    subscribe(&app, &key, "users", &["updated"]).await;
    let (status, body) = app
        .as_tenant(&key)
        .try_subscribe("groups", &["updated"])
        .await;
    assert_code(status, &body, 409, "conflict");
    assert!(
        body["message"].as_str().unwrap().contains("(1)"),
        "the limit is named: {body}"
    );

    behave(
        &app,
        json!({"rate_limit_per_app": 1, "directory_quota_per_app": 100}),
    )
    .await;
    app.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        create_subscription(
            &app,
            &key,
            json!({"resource": "groups", "change_types": ["updated"]})
        )
        .await
        .0,
        201
    );
    let (status, body, retry_after) = create_subscription(
        &app,
        &key,
        json!({"resource": format!("users/{USER}/events"), "change_types": ["created"]}),
    )
    .await;
    assert_code(status, &body, 503, "service_unavailable");
    assert_eq!(retry_after.as_deref(), Some("20"));
}

#[tokio::test]
async fn a_failed_validation_of_our_receiver_is_a_502_naming_the_url_graph_tried() {
    let (app, key) = onboarded_contoso().await;
    behave(&app, json!({"validation_always_times_out": true})).await;
    let (status, body) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    assert_code(status, &body, 502, "upstream_error");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("notification receiver"), "{body}");
    // Almost always the public URL is not reachable from Graph: the message names what Graph
    // tried and the setting it comes from, so the operator knows what to fix.
    assert!(
        message.contains(&app.url("/graph/notifications")),
        "{message}"
    );
    assert!(message.contains("api.public_base_url"), "{message}");
    assert!(
        !message.contains("on our side, try again later"),
        "{message}"
    );
    // Nothing is left behind: no subscription, the quota slot given back.
    let list: serde_json::Value = app
        .tenant_request(Method::GET, "/api/v1/subscriptions", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]), "{list}");
}

#[tokio::test]
async fn our_quota_per_tenant_is_a_409() {
    let app = TestApp::spawn_with(|s| s.subscriptions.max_per_tenant = 1).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    subscribe(&app, &key, "users", &["updated"]).await;
    let (status, body) = app
        .as_tenant(&key)
        .try_subscribe("groups", &["updated"])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Graphhook's limit")
    );
}
