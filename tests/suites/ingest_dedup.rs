//! Graph's re-deliveries are dropped, real changes are not: an item without an identity (users,
//! groups and drives carry no etag and usually no notification id) is remembered only for
//! `ingest.dedup_anonymous_secs`, so a second real change that is byte for byte the same as the
//! first is delivered once that window has passed.

use std::time::Duration;

use graphhook_domain::platform::entities::inbound_batch;
use graphhook_tests::waits::poll;
use graphhook_tests::{TestApp, fixtures::onboarded_receiving};
use graphhook_tests::{
    client::{post_body, subscribe},
    fixtures::{TENANT, USER},
    graph::graph_subscription,
    waits::drain_until,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

/// Waits until `n` inbound batches are processed.
async fn processed(app: &TestApp, n: u64) {
    poll(
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async {
            app.drain_jobs().await;
            let done = inbound_batch::Entity::find()
                .filter(inbound_batch::Column::ProcessedAt.is_not_null())
                .count(&app.db)
                .await
                .unwrap();
            if done >= n {
                Ok(())
            } else {
                Err(format!("{done} of {n} batches processed"))
            }
        },
    )
    .await;
}

/// A user's change as Graph posts it, for the `users` subscription Graph holds.
async fn user_changed(app: &TestApp) -> Value {
    let graph = graph_subscription(app, "users").await.unwrap();
    json!({"value": [{
        "subscriptionId": graph["id"], "clientState": graph["clientState"],
        "subscriptionExpirationDateTime": graph["expirationDateTime"],
        "changeType": "updated", "resource": format!("Users/{USER}"), "tenantId": TENANT,
        "resourceData": {"@odata.type": "#Microsoft.Graph.User",
                         "@odata.id": format!("Users/{USER}"), "id": USER,
                         "organizationId": TENANT}}]})
}

#[tokio::test]
async fn an_identical_real_change_an_hour_later_is_delivered_and_a_quick_repeat_is_not() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    // Graph gives users no etag and (usually) no notification id: two changes of one user
    // are byte for byte the same item.
    let body = user_changed(&app).await.to_string();
    let (status, _) = post_body(&app, "/graph/notifications", body.clone()).await;
    assert_eq!(status, 202);
    drain_until(&app, &receiver, "graph.user.updated", 1).await;

    // The same POST again a moment later (a retry after a lost acknowledgement): dropped.
    app.clock.advance(chrono::Duration::seconds(30));
    let (status, _) = post_body(&app, "/graph/notifications", body.clone()).await;
    assert_eq!(status, 202);
    processed(&app, 2).await;
    app.drain_jobs().await;
    assert_eq!(receiver.count("graph.user.updated"), 1);

    // An hour later the user changes again: the same bytes, a real change, delivered.
    app.clock.advance(chrono::Duration::hours(1));
    let (status, _) = post_body(&app, "/graph/notifications", body).await;
    assert_eq!(status, 202);
    drain_until(&app, &receiver, "graph.user.updated", 2).await;
}

#[tokio::test]
async fn an_item_with_an_identity_is_remembered_for_hours() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    let mut body = user_changed(&app).await;
    body["value"][0]["id"] = json!("lsgTZMr9KwAAA");
    let body = body.to_string();
    let (status, _) = post_body(&app, "/graph/notifications", body.clone()).await;
    assert_eq!(status, 202);
    drain_until(&app, &receiver, "graph.user.updated", 1).await;
    // Graph re-delivering it within its retry horizon (4 hours) is dropped.
    app.clock.advance(chrono::Duration::hours(3));
    let (status, _) = post_body(&app, "/graph/notifications", body).await;
    assert_eq!(status, 202);
    processed(&app, 2).await;
    app.drain_jobs().await;
    assert_eq!(receiver.count("graph.user.updated"), 1);
}
