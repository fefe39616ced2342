//! Subscription errors: refused requests, missing permissions, and Graph's answers mapped.

use graphhook_tests::TestApp;
use graphhook_tests::errors::{Refusal, assert_code, assert_rule};
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::graph::behave;
use graphhook_tests::{
    client::{create_subscription, subscribe},
    fixtures::{TENANT, USER},
    graph::graph_subscription,
};
use serde_json::{Value, json};

/// With a subscription to users held, one to groups is refused for a quota: the refusal.
async fn a_second_subscription_refused(app: &TestApp, key: &str) -> Value {
    subscribe(app, key, "users", &["updated"]).await;
    let answer = app
        .as_tenant(key)
        .try_subscribe("groups", &["updated"])
        .await;
    Refusal::conflict("quota").of(answer)
}

#[tokio::test]
async fn bad_requests_get_their_documented_errors() {
    let (app, key) = onboarded_contoso().await;
    // Each refusal names the field to fix and the rule it broke.
    let cases = [
        (
            "users",
            "created",
            "change_types",
            "unsupported_change_type",
        ),
        (
            "sites/s1/lists/l1",
            "updated",
            "resource",
            "unsupported_resource",
        ),
        (
            "groups/g1/conversations",
            "created",
            "connection_id",
            "delegated_only",
        ),
        (
            "drives/d1/root/Documents",
            "updated",
            "connection_id",
            "personal_only",
        ),
    ];
    for (resource, change_type, field, rule) in cases {
        let (status, body) = app
            .as_tenant(&key)
            .try_subscribe(resource, &[change_type])
            .await;
        assert_eq!(status, 422, "{resource}: {body}");
        assert_rule(&body, "validation_failed", field, rule);
    }

    let (status, body, _) = create_subscription(&app, &key, json!({"resource": "users", "change_types": ["updated"], "endpoint_ids": ["ep_0194c1a27b3c7d4e8f90123456789abc"]})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["rule"], "unknown_endpoint", "{body}");
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
    let key = app
        .create_tenant_consenting(TENANT, "Contoso", &["User.Read.All"])
        .await;
    let answer = app
        .as_tenant(&key)
        .try_subscribe(&format!("users/{USER}/messages"), &["created"])
        .await;
    let body = Refusal::forbidden("missing_permission").of(answer);
    assert_eq!(
        body["details"]["permission"], "Mail.Read or Mail.ReadBasic",
        "{body}"
    );
}

#[tokio::test]
async fn graphs_quota_maps_to_409_and_its_throttling_to_503_with_retry_after() {
    let (app, key) = onboarded_contoso().await;
    behave(&app, json!({"directory_quota_per_app": 1})).await;
    let body = a_second_subscription_refused(&app, &key).await;
    assert_eq!(
        body["details"]["quota"], "graph",
        "Graph's quota is named: {body}"
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
    let answer = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    let body = Refusal::upstream("receiver_not_validated").of(answer);
    // Almost always the public URL is not reachable from Graph: the answer names what Graph
    // tried and the setting it comes from, so the operator knows what to fix.
    assert_eq!(
        body["details"]["url"],
        app.url("/graph/notifications"),
        "{body}"
    );
    assert_eq!(body["details"]["setting"], "api.public_base_url", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        !message.contains("on our side, try again later"),
        "{message}"
    );
    // Nothing is left behind: no subscription, the quota slot given back.
    let list = app.as_tenant(&key).get_body("/api/v1/subscriptions").await;
    assert_eq!(list["data"], json!([]), "{list}");
}

#[tokio::test]
async fn our_quota_per_tenant_is_a_409() {
    let app = TestApp::spawn_with(|s| s.subscriptions.max_per_tenant = 1).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    let body = a_second_subscription_refused(&app, &key).await;
    assert_eq!(body["details"]["quota"], "tenant", "{body}");
    assert_eq!(body["details"]["limit"], "1", "{body}");
}
