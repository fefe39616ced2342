//! Delivery history through the tenant api: lists, resend, recover, isolation.

use std::time::Duration;

use graphhook_domain::delivery::engine::{self};
use graphhook_tests::client::each;
use graphhook_tests::errors::Refusal;
use graphhook_tests::poll::poll;
use graphhook_tests::{Mode, TestApp};
use graphhook_tests::{
    fixtures::{one_message_delivered, send_event, setup},
    waits::tick_at,
};

#[tokio::test]
async fn messages_deliveries_and_attempts_are_listed_with_filters() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let contoso = app.as_tenant(&s.key);
    let first = send_event(&app, s.tenant, "graph.user.updated").await;
    send_event(&app, s.tenant, "graph.group.deleted").await;
    app.drain_jobs().await;

    let (_, messages) = contoso.get("/api/v1/messages").await;
    assert_eq!(messages["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        messages["data"][0]["id"],
        first.as_str(),
        "a message's id is its webhook-id"
    );
    assert_eq!(messages["data"][0]["payload"]["type"], "graph.user.updated");
    let (_, only) = contoso
        .get("/api/v1/messages?event_type=graph.group.deleted")
        .await;
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let (_, page) = contoso.get("/api/v1/messages?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = contoso
        .get(&format!("/api/v1/messages?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next["data"][0]["event_type"], "graph.group.deleted");

    let (_, deliveries) = contoso
        .get(&format!(
            "/api/v1/deliveries?endpoint_id={}&status=delivered",
            s.endpoint
        ))
        .await;
    assert_eq!(deliveries["data"].as_array().unwrap().len(), 2);
    let (_, by_type) = contoso
        .get("/api/v1/deliveries?event_type=graph.user.updated")
        .await;
    assert_eq!(by_type["data"].as_array().unwrap().len(), 1);
    let delivery = by_type["data"][0]["id"].as_str().unwrap();
    let (_, attempts) = contoso
        .get(&format!("/api/v1/deliveries/{delivery}/attempts"))
        .await;
    assert_eq!(attempts["data"][0]["trigger"], "scheduled");
    assert_eq!(attempts["data"][0]["status_code"], 204);
    let (status, _) = contoso.get("/api/v1/deliveries?status=lost").await;
    assert_eq!(status, 400);
}

/// The triggers of a delivery's attempts, in order.
async fn triggers(app: &TestApp, key: &str, delivery: &str) -> Vec<String> {
    let path = format!("/api/v1/deliveries/{delivery}/attempts");
    let (_, attempts) = app.as_tenant(key).get(&path).await;
    each(&attempts, "trigger")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_resend_while_an_attempt_is_in_flight_is_refused_so_every_request_sent_is_recorded() {
    let (app, s, webhook_id) = one_message_delivered().await;
    let contoso = app.as_tenant(&s.key);
    let sent = || {
        s.receiver
            .received()
            .iter()
            .filter(|r| r.header("webhook-id") == Some(webhook_id.as_str()))
            .count()
    };
    let (status, delivery) = contoso.resend(&webhook_id, &s.endpoint).await;
    assert_eq!(status, 202, "{delivery}");
    let delivery = delivery["id"].as_str().unwrap().to_owned();

    // The resend's attempt is in flight (the endpoint holds its answer): another is refused.
    s.receiver.hold();
    let meanwhile = async {
        poll(
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                match sent() {
                    2 => Ok(()),
                    n => Err(format!("{n} requests arrived, not 2")),
                }
            },
        )
        .await;
        let answer = contoso.resend(&webhook_id, &s.endpoint).await;
        s.receiver.release();
        answer
    };
    let (_, answer) = tokio::join!(app.drain_jobs(), meanwhile);
    Refusal::conflict("attempt_in_flight").of(answer);

    // Once that attempt is recorded, a resend goes.
    let (status, again) = contoso.resend(&webhook_id, &s.endpoint).await;
    assert_eq!(status, 202, "{again}");
    app.drain_jobs().await;
    let recorded = triggers(&app, &s.key, &delivery).await;
    assert_eq!(recorded, ["scheduled", "manual", "manual"]);
    assert_eq!(
        sent(),
        recorded.len(),
        "every request sent is an attempt recorded"
    );
}

#[tokio::test]
async fn resend_and_recover_deliver_again_with_the_same_webhook_id() {
    let (app, s, webhook_id) = one_message_delivered().await;
    let contoso = app.as_tenant(&s.key);

    let (status, delivery) = contoso.resend(&webhook_id, &s.endpoint).await;
    assert_eq!(status, 202, "{delivery}");
    app.drain_jobs().await;
    let delivery = delivery["id"].as_str().unwrap();
    assert_eq!(
        triggers(&app, &s.key, delivery).await,
        ["scheduled", "manual"]
    );

    // Failures, then recovery.
    s.receiver.set_mode(Mode::Status(500));
    let failing = send_event(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    s.receiver.set_mode(Mode::Echo);
    let since = (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, recovered) = contoso.recover_since(&s.endpoint, &since).await;
    assert_eq!(status, 202, "{recovered}");
    assert_eq!(recovered["recovered"], 1);
    app.drain_jobs().await;
    let (_, deliveries) = contoso
        .get(&format!("/api/v1/deliveries?message_id={failing}"))
        .await;
    assert_eq!(deliveries["data"][0]["status"], "delivered");
    let delivery = deliveries["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        triggers(&app, &s.key, delivery).await,
        ["scheduled", "recovery"]
    );

    let sent: Vec<_> = s.receiver.all_of("graph.user.updated");
    let ids: Vec<&str> = sent.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        ids.iter().filter(|i| **i == webhook_id).count(),
        2,
        "the resend kept the webhook-id"
    );
    assert_eq!(
        ids.iter().filter(|i| **i == failing).count(),
        2,
        "the recovery kept the webhook-id"
    );
}

#[tokio::test]
async fn another_tenant_cannot_list_resend_or_recover_this_tenants_messages() {
    let (app, s, webhook_id) = one_message_delivered().await;
    let contoso = app.as_tenant(&s.key);
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;

    for path in ["/api/v1/messages", "/api/v1/deliveries"] {
        let (status, body) = app.as_tenant(&other).get(path).await;
        assert_eq!(status, 200);
        assert!(body["data"].as_array().unwrap().is_empty(), "{path}");
    }
    let (status, _) = app
        .as_tenant(&other)
        .get(&format!("/api/v1/messages/{webhook_id}"))
        .await;
    assert_eq!(status, 404);
    let (_, mine) = contoso.get("/api/v1/deliveries").await;
    let delivery = mine["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.as_tenant(&other)
            .get(&format!("/api/v1/deliveries/{delivery}/attempts"))
            .await
            .0,
        404
    );
    let (status, resend) = app.as_tenant(&other).resend(&webhook_id, &s.endpoint).await;
    assert_eq!(status, 404, "{resend}");
    let (status, recover) = app
        .as_tenant(&other)
        .recover_since(&s.endpoint, "2020-01-01T00:00:00Z")
        .await;
    assert_eq!(status, 404, "{recover}");
    let sent = s
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == "graph.user.updated")
        .count();
    assert_eq!(sent, 1, "nothing was sent again");
}

#[tokio::test]
async fn a_test_send_is_a_message_in_the_history_and_a_failed_one_is_retried() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let contoso = app.as_tenant(&s.key);
    s.receiver.set_mode(Mode::Status(503));
    let (status, test) = contoso.test_endpoint(&s.endpoint).await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["delivered"], false);
    assert_eq!(test["status"], 503);
    let webhook_id = test["message_id"].as_str().unwrap().to_owned();

    let (status, message) = contoso.get(&format!("/api/v1/messages/{webhook_id}")).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["event_type"], "endpoint.test");
    let (_, failed) = contoso
        .get(&format!("/api/v1/deliveries?message_id={webhook_id}"))
        .await;
    let delivery = &failed["data"][0];
    assert_eq!(delivery["status"], "failed", "{failed}");
    assert_eq!(delivery["attempt_count"], 1);
    assert!(delivery["next_attempt_at"].is_string());

    // The retry comes when it is due, with the same webhook-id.
    s.receiver.set_mode(Mode::Echo);
    let due = delivery["next_attempt_at"].as_str().unwrap();
    app.clock
        .set(chrono::DateTime::parse_from_rfc3339(due).unwrap().into());
    engine::sweep_due(&app.db, &app.clock, &app.services.queues, 100)
        .await
        .unwrap();
    app.drain_jobs().await;
    let (_, retried) = contoso
        .get(&format!("/api/v1/deliveries?message_id={webhook_id}"))
        .await;
    assert_eq!(retried["data"][0]["status"], "delivered", "{retried}");
    let tests: Vec<_> = s.receiver.all_of("endpoint.test");
    assert_eq!(tests.len(), 2);
    assert!(
        tests
            .iter()
            .all(|r| r.header("webhook-id") == Some(webhook_id.as_str()))
    );
}

#[tokio::test]
async fn retention_removes_old_payloads_attempts_and_events_in_batches() {
    use graphhook_domain::delivery::engine::retention::{self, Retention};
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let contoso = app.as_tenant(&s.key);
    let start = app.clock.now();
    tick_at(&app, 0).await;
    let old = send_event(&app, s.tenant, "graph.user.updated").await;
    let older = send_event(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    app.clock.set(start + chrono::Duration::days(31));
    let recent = send_event(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;

    // Payloads past 30 days go (the endpoint.created event's and two more), in batches of one;
    // attempts stay for 90 days.
    let keep = Retention {
        payloads: chrono::Duration::days(30),
        attempts: chrono::Duration::days(90),
    };
    let removed = retention::apply(&app.db, &app.clock, keep, 1, 10)
        .await
        .unwrap();
    assert_eq!((removed.payloads, removed.attempts), (3, 0));
    for (id, kept) in [(&old, false), (&older, false), (&recent, true)] {
        let (_, message) = contoso.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(message["payload"].is_object(), kept, "{message}");
    }
    let (status, _) = contoso.resend(&old, &s.endpoint).await;
    assert_eq!(status, 409, "nothing left to resend");
    // At most `max_batches` batches of each kind a run.
    app.clock.set(start + chrono::Duration::days(91));
    let removed = retention::apply(&app.db, &app.clock, keep, 1, 1)
        .await
        .unwrap();
    assert_eq!((removed.payloads, removed.attempts), (1, 1));

    // The maintenance tick applies the configured retention (30 and 90 days).
    tick_at(&app, 60).await;
    let (_, deliveries) = contoso.get("/api/v1/deliveries").await;
    let mut attempts = Vec::new();
    for delivery in deliveries["data"].as_array().unwrap() {
        let id = delivery["id"].as_str().unwrap();
        let (_, list) = contoso
            .get(&format!("/api/v1/deliveries/{id}/attempts"))
            .await;
        attempts.push(list["data"].as_array().unwrap().len());
    }
    assert_eq!(
        attempts,
        [0, 0, 0, 1],
        "only the recent message's attempt is left"
    );
    let (_, events) = contoso.get("/api/v1/events").await;
    assert!(
        events["data"].as_array().unwrap().is_empty(),
        "the published endpoint.created is gone: {events}"
    );
    let (_, messages) = contoso.get("/api/v1/messages").await;
    assert_eq!(
        messages["data"].as_array().unwrap().len(),
        4,
        "messages themselves stay"
    );
}
