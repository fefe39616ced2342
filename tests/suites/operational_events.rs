//! Operational events (`endpoint.*`, `message.attempt.*`) delivered as messages.

use graphhook_domain::{
    delivery::engine,
    platform::entities::{delivery, delivery::DeliveryStatus},
    platform::ids::TenantId,
};
use graphhook_tests::client::each;
use graphhook_tests::{Mode, Receiver, TestApp, fixtures::contoso_receiving};
use graphhook_tests::{
    client::create_endpoint,
    fixtures::{delivery_row, endpoint_row, message},
    waits::tick_at,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

async fn endpoint_with_filter(app: &TestApp, key: &str, url: &str, filter: &[&str]) -> String {
    let (status, endpoint) =
        create_endpoint(app, key, json!({"url": url, "filter_types": filter})).await;
    assert_eq!(status, 201, "{endpoint}");
    endpoint["id"].as_str().unwrap().to_owned()
}

/// Two endpoints of one tenant, each on a receiver of its own.
struct TwoEndpoints {
    app: TestApp,
    key: String,
    tenant: TenantId,
    /// Each endpoint's receiver and id.
    endpoints: [(Receiver, String); 2],
}

/// A fresh app with Contoso (written directly) and two endpoints, the first taking `first`,
/// the second `second`.
async fn contoso_with_two_endpoints(first: &[&str], second: &[&str]) -> TwoEndpoints {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    let mut endpoints = Vec::new();
    for filter in [first, second] {
        let receiver = Receiver::start(Mode::Echo);
        let id = endpoint_with_filter(&app, &key, &receiver.url, filter).await;
        endpoints.push((receiver, id));
    }
    let tenant: TenantId = app.tenants().await[0].id.into();
    let endpoints = endpoints.try_into().unwrap_or_else(|_| unreachable!());
    TwoEndpoints {
        app,
        key,
        tenant,
        endpoints,
    }
}

async fn tick(app: &TestApp) {
    tick_at(app, 2).await;
}

#[tokio::test]
async fn operational_events_reach_only_the_owning_tenants_endpoints_that_want_them_once() {
    let app = TestApp::spawn().await;
    let ops = Receiver::start(Mode::Echo);
    let mail = Receiver::start(Mode::Echo);
    let foreign = Receiver::start(Mode::Echo);
    let key = app.create_contoso().await;
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    endpoint_with_filter(&app, &other, &foreign.url, &["endpoint.*"]).await;
    tick(&app).await;
    let foreign_created = |r: &Receiver| {
        r.received()
            .iter()
            .filter(|m| m.event_type() == "endpoint.created")
            .count()
    };
    assert_eq!(foreign_created(&foreign), 1, "its own endpoint.created");

    let ops_id = endpoint_with_filter(&app, &key, &ops.url, &["endpoint.*"]).await;
    let mail_id = endpoint_with_filter(&app, &key, &mail.url, &["graph.message.*"]).await;
    tick(&app).await;

    let received = ops.received();
    // Arrival order is not promised (deliveries go out concurrently); the messages' ids are
    // time-ordered, so sorted by `webhook-id` the events stand in the order they happened.
    let mut created: Vec<(String, String)> = received
        .iter()
        .filter(|r| r.event_type() == "endpoint.created")
        .map(|r| {
            let message = r.header("webhook-id").unwrap().to_owned();
            let endpoint = r.json()["data"]["endpointId"].as_str().unwrap().to_owned();
            (message, endpoint)
        })
        .collect();
    created.sort();
    let created: Vec<String> = created.into_iter().map(|(_, endpoint)| endpoint).collect();
    assert_eq!(created, vec![ops_id.clone(), mail_id.clone()], "in order");
    let only_verification = |r: &Receiver| {
        r.received()
            .iter()
            .all(|m| m.event_type() == "endpoint.verification")
    };
    assert!(only_verification(&mail), "filtered out");
    assert_eq!(
        foreign_created(&foreign),
        1,
        "nothing from the other tenant"
    );

    // A second tick publishes nothing again.
    tick(&app).await;
    assert_eq!(ops.received().len(), received.len());

    // The published events are messages in the tenant's history.
    let body = app
        .as_tenant(&key)
        .get_body("/api/v1/messages?event_type=endpoint.created")
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
}

/// Runs the delivery's retries as they fall due until it has made `attempts` attempts or ended.
/// Retries delivery `id` as each attempt falls due until it has made `attempts` or no longer
/// fails, then runs one maintenance tick (which raises the operational events). Returns the
/// delivery's row as it stood before the tick.
async fn retry_then_tick(app: &TestApp, id: uuid::Uuid, attempts: i32) -> delivery::Model {
    loop {
        let row = delivery_row(app, id).await;
        if row.status != DeliveryStatus::Failed || row.attempt_count >= attempts {
            tick(app).await;
            return row;
        }
        app.clock.set(row.next_attempt_at.unwrap());
        engine::sweep_due(&app.db, &app.clock, &app.services.queues, 100)
            .await
            .unwrap();
        app.drain_jobs().await;
    }
}

#[tokio::test]
async fn failing_exhausted_and_recovered_reach_an_endpoint_subscribed_to_them() {
    let TwoEndpoints {
        app,
        tenant,
        endpoints: [(flaky, flaky_id), (ops, _)],
        ..
    } = contoso_with_two_endpoints(&["graph.*"], &["message.attempt.*"]).await;
    let trouble = |kind: &str| -> Vec<Value> {
        ops.received()
            .iter()
            .filter(|r| r.event_type() == kind)
            .map(|r| r.json()["data"].clone())
            .collect()
    };

    flaky.set_mode(Mode::Status(500));
    let (first, rows) = message(&app, tenant, 1).await;
    app.drain_jobs().await;
    retry_then_tick(&app, rows[0].id, 3).await;
    assert!(trouble("message.attempt.failing").is_empty(), "3 failures");

    retry_then_tick(&app, rows[0].id, 4).await;
    let failing = trouble("message.attempt.failing");
    assert_eq!(failing.len(), 1, "at the 4th failure");
    assert_eq!(failing[0]["messageId"], first.webhook_id.as_str());
    assert_eq!(failing[0]["endpointId"], flaky_id.as_str());
    assert_eq!(failing[0]["attempts"], 4);
    assert_eq!(failing[0]["lastAttempt"]["statusCode"], 500);

    flaky.set_mode(Mode::Echo);
    let row = retry_then_tick(&app, rows[0].id, 5).await;
    assert_eq!(row.status, DeliveryStatus::Delivered);
    let recovered = trouble("message.attempt.recovered");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["messageId"], first.webhook_id.as_str());
    assert_eq!(recovered[0]["attempts"], 5);

    flaky.set_mode(Mode::Status(503));
    let (second, rows) = message(&app, tenant, 2).await;
    app.drain_jobs().await;
    let row = retry_then_tick(&app, rows[0].id, i32::MAX).await;
    assert_eq!(row.status, DeliveryStatus::Exhausted);
    let exhausted = trouble("message.attempt.exhausted");
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0]["messageId"], second.webhook_id.as_str());
    assert_eq!(exhausted[0]["attempts"], 10);
    assert_eq!(
        trouble("message.attempt.failing").len(),
        2,
        "one per delivery"
    );
    assert_eq!(trouble("message.attempt.recovered").len(), 1);
    assert!(
        flaky
            .received()
            .iter()
            .all(|r| !r.event_type().starts_with("message.attempt.")),
        "the filter kept them from the failing endpoint"
    );
}

#[tokio::test]
async fn trouble_with_a_trouble_event_raises_no_further_event() {
    let (app, _receiver, tenant) = contoso_receiving(Mode::Status(500)).await;
    let (_, rows) = message(&app, tenant, 1).await;
    app.drain_jobs().await;
    retry_then_tick(&app, rows[0].id, 4).await;
    // The endpoint takes every event type, so the failing event goes to it, and fails too.
    let event = graphhook_domain::platform::entities::message::Entity::find()
        .filter(
            graphhook_domain::platform::entities::message::Column::EventType
                .eq("message.attempt.failing"),
        )
        .one(&app.db)
        .await
        .unwrap()
        .expect("the failing event is a message");
    let failing = delivery::Entity::find()
        .filter(delivery::Column::MessageId.eq(event.id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("for the endpoint");
    let row = retry_then_tick(&app, failing.id, 6).await;
    assert_eq!(row.attempt_count, 6);
    let about: Vec<String> =
        graphhook_domain::platform::entities::operational_event::Entity::find()
            .filter(
                graphhook_domain::platform::entities::operational_event::Column::EventType
                    .starts_with("message.attempt."),
            )
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.payload["data"]["eventType"].as_str().unwrap().to_owned())
            .collect();
    assert!(
        about.contains(&"graph.user.updated".to_owned()),
        "{about:?}"
    );
    assert!(
        about.iter().all(|t| !t.starts_with("message.attempt.")),
        "{about:?}"
    );
}

async fn events(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    app.as_tenant(key)
        .get(&format!("/api/v1/events{query}"))
        .await
}

#[tokio::test]
async fn the_tenant_lists_its_operational_events_even_with_no_endpoint_listening() {
    let TwoEndpoints {
        app,
        key,
        tenant,
        endpoints: [(receiver, gone), (_listening, _)],
    } = contoso_with_two_endpoints(&["graph.*"], &["graph.*"]).await;
    receiver.set_mode(Mode::Status(410));
    message(&app, tenant, 1).await;
    app.drain_jobs().await;

    let (status, disabled) = events(&app, &key, "?event_type=endpoint.disabled").await;
    assert_eq!(status, 200, "{disabled}");
    let data = disabled["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{disabled}");
    assert!(data[0]["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(data[0]["endpoint_id"], gone.as_str());
    assert_eq!(data[0]["payload"]["data"]["reason"], "gone");
    assert!(data[0]["published_at"].is_null(), "not published yet");
    tick(&app).await;
    let (_, after) = events(&app, &key, "?event_type=endpoint.disabled").await;
    assert!(after["data"][0]["published_at"].is_string(), "{after}");

    // Filters and pages.
    let (_, about_gone) = events(&app, &key, &format!("?endpoint_id={gone}")).await;
    let types = each(&about_gone, "event_type");
    assert_eq!(types, ["endpoint.created", "endpoint.disabled"]);
    let (_, page) = events(&app, &key, "?limit=1").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = events(&app, &key, &format!("?cursor={cursor}")).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2, "{rest}");
    assert_eq!(events(&app, &key, "?limit=0").await.0, 422);
    assert_eq!(events(&app, &key, "?colour=red").await.0, 400);

    // Another tenant sees none of them.
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let (status, theirs) = events(&app, &other, "").await;
    assert_eq!(status, 200);
    assert!(theirs["data"].as_array().unwrap().is_empty(), "{theirs}");
    let (_, filtered) = events(&app, &other, &format!("?endpoint_id={gone}")).await;
    assert!(filtered["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_without_a_success_is_disabled() {
    use graphhook_domain::platform::entities::endpoint::{DisabledReason, EndpointStatus};
    let TwoEndpoints {
        app,
        key,
        tenant,
        endpoints: [(dead, dead_id), (flaky, flaky_id)],
    } = contoso_with_two_endpoints(&["graph.*"], &["graph.*"]).await;
    let start = app.clock.now();
    let day = chrono::Duration::days(1);
    let send = |n| message(&app, tenant, n);

    dead.set_mode(Mode::Status(500));
    flaky.set_mode(Mode::Status(500));
    send(1).await;
    app.drain_jobs().await;
    assert_eq!(
        endpoint_row(&app, &dead_id).await.failing_since,
        Some(start)
    );

    // A success a day later ends the flaky endpoint's failing period; its next failure starts one.
    app.clock.set(start + day);
    flaky.set_mode(Mode::Echo);
    send(2).await;
    app.drain_jobs().await;
    assert_eq!(endpoint_row(&app, &flaky_id).await.failing_since, None);
    flaky.set_mode(Mode::Status(500));
    send(3).await;
    app.drain_jobs().await;

    // Just short of five days: still active.
    app.clock.set(start + chrono::Duration::hours(119));
    send(4).await;
    app.drain_jobs().await;
    assert_eq!(
        endpoint_row(&app, &dead_id).await.status,
        EndpointStatus::Active
    );

    app.clock.set(start + chrono::Duration::days(5));
    send(5).await;
    app.drain_jobs().await;
    let dead_row = endpoint_row(&app, &dead_id).await;
    assert_eq!(
        (dead_row.status, dead_row.disabled_reason),
        (EndpointStatus::Disabled, Some(DisabledReason::Failing))
    );
    assert_eq!(
        endpoint_row(&app, &flaky_id).await.status,
        EndpointStatus::Active,
        "four days since its last success"
    );
    let (_, disabled) = events(&app, &key, "?event_type=endpoint.disabled").await;
    let data = disabled["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{disabled}");
    assert_eq!(data[0]["endpoint_id"], dead_id.as_str());
    assert_eq!(data[0]["payload"]["data"]["reason"], "failing");

    // Nothing more goes to it…
    let (_, rows) = send(6).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        graphhook_domain::platform::ids::EndpointId::from(rows[0].endpoint_id).to_string(),
        flaky_id
    );
    // …until the tenant enables it again, with a fresh failing period.
    let (_, body) = app
        .as_tenant(&key)
        .patch_endpoint(&dead_id, json!({"enabled": true}))
        .await;
    assert_eq!(body["status"], "active", "{body}");
    assert_eq!(endpoint_row(&app, &dead_id).await.failing_since, None);
}
