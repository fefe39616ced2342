//! The delivery engine against real Postgres, Redis and local receivers.

use std::time::Duration;

use graphhook_domain::{
    delivery::engine::{self, Attempted, schedule::DELAYS_SECS},
    platform::entities::delivery::DeliveryStatus,
    platform::ids::EndpointId,
};
use graphhook_tests::{
    Mode, Tenant, TenantWithEndpoint,
    fixtures::{contoso_receiving, delivery_row, endpoint_row, message, receiving, verifies_with},
    retries::fails_through,
    waits::tick_at,
};

#[tokio::test]
async fn a_verifying_receiver_accepts_every_delivery_with_the_messages_webhook_id() {
    let (app, receiver, TenantWithEndpoint { tenant, secret, .. }) =
        receiving(Tenant::CONTOSO).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (message, deliveries) = message(&app, tenant, n).await;
        assert_eq!(deliveries.len(), 1);
        ids.push((message.webhook_id, deliveries[0].id));
    }
    // One job: the endpoint's batch takes all three.
    assert_eq!(app.drain_jobs().await, 1);
    let received = receiver.all_of("graph.user.updated");
    assert_eq!(received.len(), 3);
    for (webhook_id, delivery) in &ids {
        let request = received
            .iter()
            .find(|r| r.header("webhook-id") == Some(webhook_id.as_str()))
            .expect("delivered");
        assert!(
            verifies_with(request, &secret),
            "the signature verifies with the endpoint's secret"
        );
        assert_eq!(
            delivery_row(&app, *delivery).await.status,
            DeliveryStatus::Delivered
        );
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_until_exhausted() {
    let (app, receiver, tenant) = contoso_receiving(Mode::Status(500)).await;
    let (message, deliveries) = message(&app, tenant, 1).await;
    fails_through(&app, &[deliveries[0].id], &DELAYS_SECS).await;
    let sent = receiver.all_of("graph.user.updated");
    assert_eq!(sent.len(), 10);
    assert!(
        sent.iter()
            .all(|r| r.header("webhook-id") == Some(message.webhook_id.as_str())),
        "one webhook-id for every attempt"
    );
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let (app, _receiver, tenant) = contoso_receiving(Mode::RetryAfter(503, 3_600)).await;
    let (_, deliveries) = message(&app, tenant, 1).await;
    let before = app.clock.now();
    app.drain_jobs().await;
    let row = delivery_row(&app, deliveries[0].id).await;
    assert_eq!(row.status, DeliveryStatus::Failed);
    assert!(
        row.next_attempt_at.unwrap() >= before + chrono::Duration::seconds(3_600),
        "{:?}",
        row.next_attempt_at
    );
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_stops_the_delivery() {
    let (app, _receiver, tenant) = contoso_receiving(Mode::Status(410)).await;
    let (_, deliveries) = message(&app, tenant, 1).await;
    app.drain_jobs().await;
    let row = delivery_row(&app, deliveries[0].id).await;
    assert_eq!(row.status, DeliveryStatus::Exhausted);
    let endpoint_id = EndpointId::from(row.endpoint_id).to_string();
    let endpoint = endpoint_row(&app, &endpoint_id).await;
    assert_eq!(
        endpoint.status,
        graphhook_domain::platform::entities::endpoint::EndpointStatus::Disabled
    );
    assert_eq!(
        endpoint.disabled_reason,
        Some(graphhook_domain::platform::entities::endpoint::DisabledReason::Gone)
    );
    // Nothing more goes to it.
    let (_, more) = message(&app, tenant, 2).await;
    assert!(more.is_empty());
}

#[tokio::test]
async fn an_interrupted_attempt_and_lost_redis_keys_lose_nothing() {
    let (app, receiver, tenant) = contoso_receiving(Mode::Slow(Duration::from_secs(3))).await;
    let (message, deliveries) = message(&app, tenant, 1).await;
    let id = deliveries[0].id;

    // A worker dies mid-delivery: its attempt is cut off while the endpoint is answering.
    let jobs = app.services.clone();
    let attempt =
        tokio::spawn(async move { engine::attempt(&jobs, id, engine::Trigger::Scheduled).await });
    // The attempt has started once its request reached the receiver.
    receiver
        .wait_for("graph.user.updated", 1, Duration::from_secs(10))
        .await;
    attempt.abort();
    assert!(attempt.await.is_err(), "the attempt was killed");
    // …and Redis loses the test's keys, queued job included.
    app.flush_redis().await;
    assert!(app.redis_keys().await.is_empty());

    let row = delivery_row(&app, id).await;
    assert_eq!(
        (row.status, row.attempt_count),
        (DeliveryStatus::Pending, 0),
        "nothing was recorded"
    );
    // The attempt had claimed the delivery until its request would surely be over.
    let claimed_until = row.next_attempt_at.unwrap();
    assert!(claimed_until > app.clock.now() + chrono::Duration::seconds(15));
    receiver.set_mode(Mode::Echo);
    assert_eq!(
        engine::sweep_due(&app.db, &app.clock, &app.services.queues, 100)
            .await
            .unwrap(),
        0,
        "not while the claim lasts"
    );
    app.clock.set(claimed_until);
    assert_eq!(
        engine::sweep_due(&app.db, &app.clock, &app.services.queues, 100)
            .await
            .unwrap(),
        1,
        "the sweeper finds it once the claim ran out"
    );
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(
        delivery_row(&app, id).await.status,
        DeliveryStatus::Delivered
    );
    let sent = receiver.all_of("graph.user.updated");
    assert_eq!(sent.len(), 2, "the cut-off attempt and the redelivery");
    assert!(
        sent.iter()
            .all(|r| r.header("webhook-id") == Some(message.webhook_id.as_str())),
        "the same webhook-id"
    );
    assert_eq!(
        engine::attempt(&app.services, id, engine::Trigger::Scheduled)
            .await
            .unwrap(),
        Attempted::Skipped
    );
}

#[tokio::test]
async fn the_maintenance_tick_runs_the_sweeper() {
    let (app, _receiver, tenant) = contoso_receiving(Mode::Echo).await;
    let (_, deliveries) = message(&app, tenant, 1).await;
    app.flush_redis().await;
    tick_at(&app, 2).await;
    assert_eq!(
        delivery_row(&app, deliveries[0].id).await.status,
        DeliveryStatus::Delivered
    );
}
