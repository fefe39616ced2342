//! Flow control across worker processes: in-flight caps, lanes, rate limits, the circuit
//! breaker, with local receivers that can be held back.

use std::time::Duration;

use graphhook_domain::{
    platform::entities::delivery::{self, DeliveryStatus},
    platform::ids::{EndpointId, TenantId},
};
use graphhook_tests::{
    Mode, Receiver, TestApp,
    fixtures::message_to,
    fixtures::{TENANT, direct_tenant, graph_endpoint},
};
use graphhook_tests::{
    fixtures::delivery_row,
    replay::{pending, recover, seed_exhausted},
    waits::tick_at,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const EVENT: &str = "graph.user.updated";

/// A fresh app with Contoso (written directly) and one Graph endpoint on a receiver of its own.
struct Contoso {
    app: TestApp,
    receiver: Receiver,
    tenant: TenantId,
    key: String,
    endpoint: EndpointId,
}

/// [`Contoso`], its endpoint created with `extra` fields.
async fn contoso_with_a_graph_endpoint(extra: Value) -> Contoso {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Mode::Echo);
    let (tenant, key) = direct_tenant(&app, TENANT, "Contoso").await;
    let endpoint = graph_endpoint(&app, &key, &receiver, extra).await.0;
    Contoso {
        app,
        receiver,
        tenant,
        key,
        endpoint,
    }
}

async fn health(app: &TestApp, key: &str, endpoint: EndpointId) -> Value {
    let (status, health) = app
        .as_tenant(key)
        .get(&format!("/api/v1/endpoints/{endpoint}/health"))
        .await;
    assert_eq!(status, 200, "{health}");
    health
}

#[tokio::test]
async fn a_slow_endpoint_at_its_in_flight_cap_does_not_delay_another_endpoint() {
    // Four attempts at once in this worker: without the cap, the slow endpoint's requests
    // would take every one of them.
    let mut app = TestApp::spawn_with(|s| s.worker.delivery_concurrency = 4).await;
    let slow = Receiver::start(Mode::Echo);
    let fast = Receiver::start(Mode::Echo);
    let (tenant, key) = direct_tenant(&app, TENANT, "Contoso").await;
    let slow_endpoint = graph_endpoint(&app, &key, &slow, json!({"max_in_flight": 2}))
        .await
        .0;
    let fast_endpoint = graph_endpoint(&app, &key, &fast, json!({})).await.0;
    slow.hold();
    for n in 0..8 {
        message_to(&app, tenant, slow_endpoint, EVENT, n).await;
    }
    let worker = app.start_worker().await;
    slow.wait_for(EVENT, 2, Duration::from_secs(10)).await;
    assert_eq!(health(&app, &key, slow_endpoint).await["in_flight"], 2);

    for n in 0..5 {
        message_to(&app, tenant, fast_endpoint, EVENT, n).await;
    }
    fast.wait_for(EVENT, 5, Duration::from_secs(10)).await;
    assert_eq!(
        slow.count(EVENT),
        2,
        "the slow endpoint's two requests are still held and the other six wait their turn"
    );

    slow.release();
    slow.wait_for(EVENT, 8, Duration::from_secs(20)).await;
    worker.stop().await.unwrap();
    assert_eq!(slow.count(EVENT), 8, "each once");
}

#[tokio::test]
async fn a_live_delivery_arrives_while_a_replay_of_ten_thousand_is_still_queued() {
    let Contoso {
        mut app,
        receiver,
        tenant,
        key,
        endpoint: endpoint_id,
        ..
    } = contoso_with_a_graph_endpoint(json!({})).await;
    seed_exhausted(&app, tenant, endpoint_id, 10_000).await;
    assert_eq!(recover(&app, &key, endpoint_id).await, 10_000);

    let worker = app.start_worker().await;
    receiver.wait_for(EVENT, 1, Duration::from_secs(10)).await;
    let live = message_to(&app, tenant, endpoint_id, "graph.group.created", 0).await;
    receiver
        .wait_for("graph.group.created", 1, Duration::from_secs(10))
        .await;
    let replayed = receiver.count(EVENT);
    let waiting = pending(&app, endpoint_id).await;
    worker.stop().await.unwrap();
    assert!(
        replayed < 10_000 && waiting > 0,
        "the live delivery came while the replay was still running ({replayed} replayed, {waiting} waiting)"
    );
    assert_eq!(
        delivery_row(&app, live.id).await.status,
        DeliveryStatus::Delivered
    );
}

#[tokio::test]
async fn the_rate_limit_holds_across_two_worker_processes() {
    let Contoso {
        mut app,
        receiver,
        tenant,
        endpoint: endpoint_id,
        ..
    } = contoso_with_a_graph_endpoint(json!({"rate_limit_per_sec": 5})).await;
    for n in 0..20 {
        message_to(&app, tenant, endpoint_id, EVENT, n).await;
    }
    let first = app.start_worker().await;
    let second = app.start_worker().await;
    receiver.wait_for(EVENT, 20, Duration::from_secs(30)).await;
    first.stop().await.unwrap();
    second.stop().await.unwrap();

    let mut arrivals: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == EVENT)
        .map(|r| r.at)
        .collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 20, "each once");
    // At most 5 in any second: any 6 consecutive admissions span a second; at the receiver
    // less a margin for the time between admission and arrival on a busy machine. (Unlimited,
    // the 20 arrive within a fraction of a second.)
    for six in arrivals.windows(6) {
        let span = six[5] - six[0];
        assert!(
            span >= Duration::from_millis(500),
            "6 requests within {span:?}"
        );
    }
    // Twenty at five a second take at least three seconds.
    assert!(arrivals[19] - arrivals[0] >= Duration::from_millis(2_500));
}

#[tokio::test]
async fn the_circuit_opens_holds_deliveries_probes_and_closes() {
    let Contoso {
        app,
        receiver,
        tenant,
        key,
        endpoint: endpoint_id,
        ..
    } = contoso_with_a_graph_endpoint(json!({})).await;
    receiver.set_mode(Mode::Status(500));
    // Ten failures out of ten attempts: the circuit opens.
    for n in 0..10 {
        message_to(&app, tenant, endpoint_id, EVENT, n).await;
    }
    app.drain_jobs().await;
    assert_eq!(receiver.count(EVENT), 10);
    let opened = health(&app, &key, endpoint_id).await;
    assert_eq!(opened["circuit"], "open", "{opened}");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(opened["circuit_until"].clone()).unwrap();
    assert_eq!(until, app.clock.now() + chrono::Duration::seconds(60));
    let (_, events) = app
        .as_tenant(&key)
        .get("/api/v1/events?event_type=endpoint.circuit_opened")
        .await;
    let data = &events["data"][0]["payload"]["data"];
    assert_eq!(
        (
            data["endpointId"].as_str(),
            data["attempts"].as_u64(),
            data["failed"].as_u64()
        ),
        (Some(endpoint_id.to_string().as_str()), Some(10), Some(10)),
        "{events}"
    );

    // While open, new deliveries wait without an attempt.
    let mut held = Vec::new();
    for n in 10..13 {
        held.push(message_to(&app, tenant, endpoint_id, EVENT, n).await);
    }
    app.drain_jobs().await;
    assert_eq!(receiver.count(EVENT), 10, "nothing was sent");
    for delivery in &held {
        let row = delivery_row(&app, delivery.id).await;
        assert_eq!(
            (row.attempt_count, row.next_attempt_at),
            (0, Some(until)),
            "no retry spent; due when the circuit's wait ends"
        );
    }

    // The wait ends: one probe; it fails, and the circuit opens for twice as long.
    app.clock.set(until);
    tick_at(&app, 1).await;
    assert_eq!(receiver.count(EVENT), 11, "exactly one probe");
    let reopened = health(&app, &key, endpoint_id).await;
    assert_eq!(reopened["circuit"], "open", "{reopened}");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(reopened["circuit_until"].clone()).unwrap();
    assert_eq!(until, app.clock.now() + chrono::Duration::seconds(120));

    // The next probe succeeds: the circuit closes and everything held is delivered.
    receiver.set_mode(Mode::Echo);
    app.clock.set(until);
    tick_at(&app, 2).await;
    assert_eq!(health(&app, &key, endpoint_id).await["circuit"], "closed");
    let delivered = delivery::Entity::find()
        .filter(delivery::Column::EndpointId.eq(endpoint_id.uuid()))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Delivered))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(delivered, 13);
    assert_eq!(
        receiver.count(EVENT),
        10 + 1 + 13,
        "the first failures, one failed probe, one success each"
    );
    let (_, events) = app
        .as_tenant(&key)
        .get("/api/v1/events?event_type=endpoint.circuit_closed")
        .await;
    assert_eq!(events["data"].as_array().map(Vec::len), Some(1), "{events}");
}

#[tokio::test]
async fn another_tenant_cannot_read_an_endpoints_health() {
    let Contoso {
        app,
        receiver: _receiver,

        endpoint: endpoint_id,
        ..
    } = contoso_with_a_graph_endpoint(json!({})).await;
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let (status, body) = app
        .as_tenant(&other)
        .get(&format!("/api/v1/endpoints/{endpoint_id}/health"))
        .await;
    assert_eq!(status, 404, "{body}");
}
