//! Creating subscriptions keeps its promises under pressure: the per-tenant quota holds when
//! many creates race, inputs past their bounds are refused before Graph is called, and Graph's
//! duplicate rule is answered as the tenant's conflict, naming the subscription it already has.

use graphhook_domain::platform::entities::subscription::SubscriptionStatus;
use graphhook_tests::client::each;
use graphhook_tests::errors::Refusal;
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{
    client::{create_endpoint, create_subscription},
    graph::{add_mailboxes, held_at_graph, mailbox, seed_at_graph, subscription_rows},
};
use serde_json::{Value, json};

#[tokio::test]
async fn twelve_creates_at_once_make_exactly_the_tenants_quota() {
    let app = TestApp::spawn_with(|s| s.subscriptions.max_per_tenant = 3).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    add_mailboxes(&app, 0..12).await;
    let creates = (0..12).map(|n| {
        create_subscription(
            &app,
            &key,
            json!({"resource": format!("users/{}/messages", mailbox(n)), "change_types": ["created"]}),
        )
    });
    let answers = futures::future::join_all(creates).await;

    let created = answers
        .iter()
        .filter(|(status, _, _)| *status == 201)
        .count();
    assert_eq!(created, 3, "{answers:?}");
    for (status, body, _) in answers.into_iter().filter(|(status, _, _)| *status != 201) {
        let body = Refusal::conflict("quota").of((status, body));
        assert_eq!(body["details"]["quota"], "tenant", "{body}");
        assert_eq!(body["details"]["limit"], "3", "{body}");
    }
    assert_eq!(held_at_graph(&app).await.len(), 3);
    let live: Vec<_> = subscription_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.status != SubscriptionStatus::Deleted)
        .collect();
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(live.iter().all(|r| r.status == SubscriptionStatus::Active));
}

#[tokio::test]
async fn inputs_past_their_bounds_are_refused_before_graph_is_called() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (status, endpoint) = create_endpoint(&app, &key, json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint = endpoint["id"].as_str().unwrap();

    let long = format!("users/{}/messages", "a".repeat(100_000));
    let cases = [
        (
            json!({"resource": long, "change_types": ["created"]}),
            "resource",
        ),
        (
            json!({"resource": format!("users/{}/messages", "a".repeat(990)), "change_types": ["created"]}),
            "resource",
        ),
        (
            json!({"resource": "users/u1\n/messages", "change_types": ["created"]}),
            "resource",
        ),
        (
            json!({"resource": "users", "change_types": vec!["updated"; 1_000]}),
            "change_types",
        ),
        (
            json!({"resource": "users", "change_types": ["x".repeat(100_000)]}),
            "change_types",
        ),
        (
            json!({"resource": "users", "change_types": ["updated"], "endpoint_ids": vec![endpoint; 101]}),
            "endpoint_ids",
        ),
    ];
    for (body, field) in cases {
        let (status, answer, _) = create_subscription(&app, &key, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some("validation_failed")),
            "{field}: {answer}"
        );
        assert_eq!(answer["details"]["field"], field, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.len() < 600, "the input is not echoed: {message}");
    }
    assert_eq!(held_at_graph(&app).await, Vec::<Value>::new());
    assert!(subscription_rows(&app).await.is_empty());

    // Within the bounds, repeated endpoint ids are one endpoint.
    let (status, created, _) = create_subscription(
        &app,
        &key,
        json!({"resource": "users", "change_types": ["updated"], "endpoint_ids": vec![endpoint; 100]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["endpoint_ids"], json!([endpoint]));
}

#[tokio::test]
async fn a_duplicate_at_graph_is_a_409_naming_the_subscription_the_tenant_has() {
    let (app, key) = onboarded_contoso().await;
    let (status, first) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated", "deleted"])
        .await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().unwrap();

    let answer = app
        .as_tenant(&key)
        .try_subscribe("users", &["deleted", "updated"])
        .await;
    let body = Refusal::conflict("duplicate").of(answer);
    assert_eq!(body["details"]["existing_subscription_id"], first_id);

    // The refused create left nothing behind: one subscription, the quota slot given back.
    let list = app.as_tenant(&key).get_body("/api/v1/subscriptions").await;
    assert_eq!(each(&list, "id"), vec![first_id]);
    assert_eq!(subscription_rows(&app).await.len(), 1);
}

#[tokio::test]
async fn a_duplicate_graph_holds_for_another_deployment_is_a_409_without_an_id() {
    let (app, key) = onboarded_contoso().await;
    seed_at_graph(
        &app,
        "groups",
        "updated",
        "https://staging.example.com/graph/notifications",
        None,
    )
    .await;
    let answer = app
        .as_tenant(&key)
        .try_subscribe("groups", &["updated"])
        .await;
    let body = Refusal::conflict("duplicate").of(answer);
    assert_eq!(body["details"]["existing_subscription_id"], Value::Null);
    assert!(subscription_rows(&app).await.is_empty());
}
