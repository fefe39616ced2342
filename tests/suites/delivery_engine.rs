//! The batch delivery engine across worker processes: changes to an endpoint reach every
//! process before its next attempt, and one tenant's backlog does not hold up another's.

use graphhook_tests::fixtures::direct_contoso;
use std::time::{Duration, Instant};

use graphhook_domain::{
    delivery::engine::{self, NewMessage},
    platform::ids::EndpointId,
};
use graphhook_tests::{
    Mode, Receiver, TestApp,
    fixtures::message_to,
    fixtures::{FABRIKAM, direct_tenant, graph_endpoint},
    receiver::Received,
};
use graphhook_tests::{
    fixtures::verifies_with,
    replay::{pending, recover, seed_exhausted},
};
use serde_json::{Value, json};

const EVENT: &str = "graph.user.updated";

/// What arrived at `receiver` after `since`.
fn arrived_after(receiver: &Receiver, since: Instant) -> Vec<Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.at > since && r.event_type() == EVENT)
        .collect()
}

async fn patch(app: &TestApp, key: &str, endpoint: EndpointId, body: Value) {
    let (status, patched) = app.as_tenant(key).patch_endpoint(endpoint, body).await;
    assert_eq!(status, 200, "{patched}");
}

/// Attempts admitted before a change returned may still arrive just after it; this is longer
/// than any of them takes on a loaded machine.
const IN_FLIGHT_MARGIN: Duration = Duration::from_millis(400);

#[tokio::test]
async fn a_rotation_a_url_change_and_a_disable_reach_both_worker_processes_before_their_next_attempt()
 {
    let mut app = TestApp::spawn().await;
    let (tenant, key) = direct_contoso(&app).await;
    let first = Receiver::start(Mode::Echo);
    let second = Receiver::start(Mode::Echo);
    // Four a second: deliveries stay waiting while the endpoint changes under them.
    let (id, old_secret) =
        graph_endpoint(&app, &key, &first, json!({"rate_limit_per_sec": 4})).await;
    let workers = [app.start_worker().await, app.start_worker().await];
    for n in 0..60 {
        message_to(&app, tenant, id, EVENT, n).await;
    }
    first.wait_for(EVENT, 4, Duration::from_secs(10)).await;
    assert!(
        first
            .received()
            .iter()
            .filter(|r| r.event_type() == EVENT)
            .all(|r| verifies_with(r, &old_secret))
    );

    // A rotation without grace: from now on only the new secret signs.
    let new_secret = app.as_tenant(&key).rotate_secret(&id, 0).await;
    let rotated = Instant::now() + IN_FLIGHT_MARGIN;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after_rotation = arrived_after(&first, rotated);
    assert!(
        after_rotation.len() >= 2,
        "deliveries went on after the rotation"
    );
    for received in &after_rotation {
        assert!(
            verifies_with(received, &new_secret),
            "signed with the new secret"
        );
        assert!(
            !verifies_with(received, &old_secret),
            "not with the old one"
        );
    }

    // A new URL: nothing more goes to the old one.
    patch(&app, &key, id, json!({"url": second.url})).await;
    // A batch that met the endpoint while its new URL was being verified gave its deliveries
    // back for two seconds of the service's clock (a manual one here).
    app.clock.advance(chrono::Duration::seconds(3));
    let moved = Instant::now() + IN_FLIGHT_MARGIN;
    second.wait_for(EVENT, 2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(
        arrived_after(&first, moved).is_empty(),
        "the old URL got requests after the change"
    );
    assert!(
        arrived_after(&second, moved)
            .iter()
            .all(|r| verifies_with(r, &new_secret))
    );

    // Disabled: no attempt at all.
    patch(&app, &key, id, json!({"enabled": false})).await;
    let disabled = Instant::now() + IN_FLIGHT_MARGIN;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        arrived_after(&second, disabled).is_empty(),
        "a disabled endpoint got requests"
    );
    for worker in workers {
        worker.stop().await.unwrap();
    }
    let waiting = pending(&app, id).await;
    assert!(
        waiting > 0,
        "deliveries were still waiting when it was disabled"
    );
}

#[tokio::test]
async fn another_tenants_replay_of_ten_thousand_does_not_hold_up_a_live_delivery() {
    let mut app = TestApp::spawn().await;
    let (busy, busy_key) = direct_contoso(&app).await;
    let (quiet, quiet_key) = direct_tenant(&app, FABRIKAM, "Fabrikam").await;
    let busy_receiver = Receiver::start(Mode::Echo);
    let quiet_receiver = Receiver::start(Mode::Echo);
    let (busy_endpoint, _) = graph_endpoint(&app, &busy_key, &busy_receiver, json!({})).await;
    let (quiet_endpoint, _) = graph_endpoint(&app, &quiet_key, &quiet_receiver, json!({})).await;
    // Ten thousand exhausted deliveries of the busy tenant.
    seed_exhausted(&app, busy, busy_endpoint, 10_000).await;
    assert_eq!(recover(&app, &busy_key, busy_endpoint).await, 10_000);

    let worker = app.start_worker().await;
    busy_receiver
        .wait_for(EVENT, 1, Duration::from_secs(10))
        .await;
    let replayed_before = busy_receiver.count(EVENT);
    message_to(&app, quiet, quiet_endpoint, "graph.group.created", 0).await;
    quiet_receiver
        .wait_for("graph.group.created", 1, Duration::from_secs(10))
        .await;
    let replayed_meanwhile = busy_receiver.count(EVENT) - replayed_before;
    let waiting = pending(&app, busy_endpoint).await;
    worker.stop().await.unwrap();
    // By order of arrival: the live delivery overtook the replay's backlog rather than queueing
    // behind it.
    assert!(
        waiting > 0 && replayed_meanwhile < 1_000,
        "the live delivery came while {waiting} replays still waited, after {replayed_meanwhile} of them"
    );
}

#[tokio::test]
async fn an_endpoint_with_a_backlog_at_its_cap_does_not_starve_the_same_tenants_other_endpoints() {
    let mut app = TestApp::spawn().await;
    let (tenant, key) = direct_contoso(&app).await;
    let slow = Receiver::start(Mode::Echo);
    let fast = Receiver::start(Mode::Echo);
    let (slow_endpoint, _) = graph_endpoint(&app, &key, &slow, json!({"max_in_flight": 2})).await;
    let (fast_endpoint, _) = graph_endpoint(&app, &key, &fast, json!({})).await;
    slow.hold();
    // Far more waiting for the slow endpoint than a batch holds, all older than the fast one's.
    let backlog = (0..2_000)
        .map(|n| NewMessage {
            verbatim: Vec::new(),
            tenant,
            event_type: EVENT.into(),
            data: json!({"n": n}),
            endpoint_ids: Some(vec![slow_endpoint]),
        })
        .collect();
    engine::create_messages(&app.services, backlog)
        .await
        .unwrap();
    let worker = app.start_worker().await;
    slow.wait_for(EVENT, 2, Duration::from_secs(10)).await;
    // The fast endpoint's deliveries are younger than the whole backlog.
    app.clock.advance(chrono::Duration::seconds(1));
    for n in 0..5 {
        message_to(&app, tenant, fast_endpoint, "graph.group.created", n).await;
    }
    fast.wait_for("graph.group.created", 5, Duration::from_secs(10))
        .await;
    assert_eq!(
        slow.count(EVENT),
        2,
        "the slow endpoint's two requests are still held and its backlog waits"
    );
    slow.release();
    worker.stop().await.unwrap();
}
