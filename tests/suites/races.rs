//! Requests racing each other on one resource: of concurrent deletes of an endpoint, a
//! subscription or a connection exactly one succeeds and is told (one `endpoint.deleted` event,
//! one audit entry); the others find it gone (404).

use futures::future::join_all;
use graphhook_domain::platform::entities::operational_event;
use graphhook_tests::connections::start;
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::{Mode, Receiver};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

#[tokio::test]
async fn of_concurrent_deletes_of_one_resource_exactly_one_succeeds_and_is_told() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let client = app.as_tenant(&key);
    let (status, endpoint) = client.create_endpoint(json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{endpoint}");
    let subscription = client.subscribe("users", &["updated"]).await;
    let (status, connection) = start(
        &app,
        &key,
        json!({"account": "work", "kinds": ["conversation"]}),
    )
    .await;
    assert_eq!(status, 201, "{connection}");

    for path in [
        format!("/api/v1/endpoints/{}", endpoint["id"].as_str().unwrap()),
        format!("/api/v1/subscriptions/{subscription}"),
        format!("/api/v1/connections/{}", connection["id"].as_str().unwrap()),
    ] {
        let answers = join_all((0..10).map(|_| client.delete(&path))).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [[204].as_slice(), &[404; 9]].concat(), "{path}");
    }

    let told = operational_event::Entity::find()
        .filter(operational_event::Column::EventType.eq("endpoint.deleted"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(told, 1, "one endpoint.deleted event");
    let audit = app.audit_actions().await;
    for action in ["subscription.deleted", "connection.deleted"] {
        let entries = audit.iter().filter(|a| *a == action).count();
        assert_eq!(entries, 1, "{action}: {audit:?}");
    }
}
