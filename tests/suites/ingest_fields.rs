//! What a change event carries beside Graph's own fields: the ids its `resource` names
//! (`resourceIds`, whichever form Graph wrote the path in) and the subscription's expiry
//! normalized to RFC 3339 UTC (`subscriptionExpiresAt`), with Graph's strings kept as they came;
//! and a dropped item leaves an `info` line naming Graph's subscription and why, never its
//! clientState.

use graphhook_tests::{
    client::{post_body, subscribe},
    fixtures::{TENANT, USER},
    graph::{change, graph_entry, graph_subscription, graph_subscription_id, subscription_row},
    waits::{deliver_until, drain_until},
};
use graphhook_tests::{
    fixtures::onboarded_receiving, fixtures::rich_message_delivered, graph::lifecycle_event,
    waits::drained_first,
};
use serde_json::json;

#[tokio::test]
async fn a_change_event_names_its_resources_ids_and_a_normalized_expiry_beside_graphs_fields() {
    let (app, receiver, key) = onboarded_receiving().await;
    let sub = subscribe(&app, &key, &format!("users/{USER}/messages"), &["created"]).await;
    change(
        &app,
        json!({"tenant": TENANT, "resource": format!("users/{USER}/messages"), "changeType": "created"}),
    )
    .await;
    drain_until(&app, &receiver, "graph.message.created", 1).await;
    let data = receiver.first_of("graph.message.created").json()["data"].clone();
    let resource = data["resource"].as_str().unwrap();
    let message_id = data["resourceData"]["id"].as_str().unwrap();
    assert!(resource.contains(message_id), "{data}");
    assert_eq!(
        data["resourceIds"],
        json!({"userId": USER, "messageId": message_id}),
        "{data}"
    );
    // Graph's own string is kept; the normalized one is the same instant in UTC.
    let graph = data["subscriptionExpirationDateTime"].as_str().unwrap();
    let normalized = data["subscriptionExpiresAt"].as_str().unwrap();
    assert!(normalized.ends_with('Z'), "{normalized}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(graph).unwrap(),
        chrono::DateTime::parse_from_rfc3339(normalized).unwrap()
    );

    // A lifecycle event carries the normalized expiry too.
    let graph_id = subscription_row(&app, &sub).await.graph_id.unwrap();
    assert!(graph_entry(&app, &graph_id).await.is_some());
    lifecycle_event(&app, &graph_id, "missed").await;
    drain_until(&app, &receiver, "graph.subscription.missed", 1).await;
    let missed = receiver.first_of("graph.subscription.missed").json();
    assert!(
        missed["data"]["subscriptionExpiresAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{missed}"
    );
}

#[tokio::test]
async fn a_dropped_item_is_logged_with_its_subscription_and_reason_but_not_its_client_state() {
    let logs = graphhook_tests::capture_logs();
    let (app, _receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    let graph_id = graph_subscription_id(&app, "users").await;
    let forged_state = "forged-client-state-7d1e5f0a";
    let body = json!({"value": [{
        "subscriptionId": graph_id, "clientState": forged_state, "changeType": "updated",
        "resource": format!("Users/{USER}"), "tenantId": TENANT,
        "subscriptionExpirationDateTime": "2026-12-01T00:00:00Z",
        "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": USER}}]});
    let (status, _) = post_body(&app, "/graph/notifications", body.to_string()).await;
    assert_eq!(status, 202);
    app.drain_jobs().await;
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("notification items were dropped"))
        .unwrap_or_else(|| panic!("no drop line in {text}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("client_state_mismatch"), "{line}");
    assert!(line.contains(&graph_id), "{line}");
    assert!(!text.contains(forged_state), "the clientState was logged");
}

#[tokio::test]
async fn a_removed_subscriptions_removed_event_is_written_before_its_recreated_event() {
    use graphhook_domain::platform::entities::message;
    use sea_orm::{EntityTrait, QueryOrder};

    let (app, receiver, key) = onboarded_receiving().await;
    let sub = subscribe(&app, &key, &format!("users/{USER}/events"), &["created"]).await;
    let graph_id = subscription_row(&app, &sub).await.graph_id.unwrap();
    lifecycle_event(&app, &graph_id, "subscriptionRemoved").await;
    deliver_until(&app, &receiver, "graph.subscription.recreated", 1).await;
    let messages = message::Entity::find()
        .order_by_asc(message::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let position = |event_type: &str| {
        messages
            .iter()
            .position(|m| m.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type}"))
    };
    let (removed, recreated) = (
        position("graph.subscription.removed"),
        position("graph.subscription.recreated"),
    );
    assert!(removed < recreated, "message ids: removed first");
    assert!(messages[removed].created_at <= messages[recreated].created_at);
}

#[tokio::test]
async fn resource_data_reaches_the_tenant_as_the_bytes_graph_sent() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    let graph = graph_subscription(&app, "users").await.unwrap();
    // Not in alphabetical order, as Graph writes it.
    let resource_data = format!(
        r##"{{"@odata.type":"#Microsoft.Graph.User","@odata.id":"Users/{USER}","id":"{USER}","organizationId":"{TENANT}","sequenceNumber":42}}"##
    );
    let body = format!(
        r#"{{"value":[{{"subscriptionId":"{}","clientState":"{}","changeType":"updated","resource":"Users/{USER}","tenantId":"{TENANT}","subscriptionExpirationDateTime":"2026-12-31T00:00:00.0000000Z","resourceData":{resource_data}}}]}}"#,
        graph["id"].as_str().unwrap(),
        graph["clientState"].as_str().unwrap()
    );
    let (status, _) = post_body(&app, "/graph/notifications", body).await;
    assert_eq!(status, 202);
    let webhook = drained_first(&app, &receiver, "graph.user.updated").await;
    let text = String::from_utf8(webhook.body.clone()).unwrap();
    assert!(text.contains(&resource_data), "{text}");
    assert!(
        text.contains(r#""subscriptionExpirationDateTime":"2026-12-31T00:00:00.0000000Z""#),
        "{text}"
    );
    assert!(
        text.contains(r#""subscriptionExpiresAt":"2026-12-31T00:00:00Z""#),
        "{text}"
    );
}

#[tokio::test]
async fn decrypted_content_reaches_the_tenant_as_the_bytes_graph_encrypted() {
    let (_app, receiver, _) = rich_message_delivered("Café’s minutes").await;
    let webhook = receiver.first_of("graph.message.created");
    let text = String::from_utf8(webhook.body.clone()).unwrap();
    // Exchange escapes non-ASCII characters; a re-serialization would write them as UTF-8.
    assert!(
        text.to_lowercase().contains(r"caf\u00e9\u2019s minutes"),
        "{text}"
    );
    assert_eq!(
        webhook.json()["data"]["content"]["subject"],
        "Café’s minutes"
    );
}
