//! The lane watchdog against a real worker: a lane that stops making progress while work waits
//! is reported by the worker's `/healthz`, counted, logged, restarted, and its work gets done
//! without restarting the process; a lane that is merely busy is left alone.

use std::time::Duration;

use graphhook_tests::waits::poll;
use graphhook_tests::{Mode, Receiver, TestApp, TestAppBuilder};
use graphhook_tests::{Tenant, fixtures::message, tenant_with_endpoint};
use graphhook_worker::{WorkerProcess, watchdog::Fault};
use serde_json::Value;

/// A short stall window (with a heartbeat short enough for it), so a stall is seen in seconds.
fn watched() -> TestAppBuilder {
    TestApp::builder().settings(|s| {
        s.worker.heartbeat_interval_secs = 1;
        s.worker.watchdog_stall_secs = 3;
    })
}

async fn healthz(app: &TestApp, worker: &WorkerProcess) -> (u16, Value) {
    let response = app
        .client
        .get(format!("http://127.0.0.1:{}/healthz", worker.http_port()))
        .send()
        .await
        .expect("healthz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Polls the worker's `/healthz` until it answers `status`, for at most `within`.
async fn wait_for_health(
    app: &TestApp,
    worker: &WorkerProcess,
    status: u16,
    within: Duration,
) -> Value {
    poll(within, Duration::from_millis(100), || async {
        let (got, body) = healthz(app, worker).await;
        if got == status {
            Ok(body)
        } else {
            Err(format!(
                "/healthz did not answer {status} within {within:?}; last {got}: {body}"
            ))
        }
    })
    .await
}

/// The watchdog's restarts of `lane`, as the worker's `/metrics` counts them.
async fn lane_restarts(app: &TestApp, worker: &WorkerProcess, lane: &str) -> u64 {
    let text = app.worker_metrics(worker).await;
    let series = format!("graphhook_worker_lane_restarts_total{{lane=\"{lane}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_delivery_lane_stalled_on_redis_is_reported_restarted_and_delivers_once_redis_answers() {
    // Commands wait for Redis as long as it takes, as the fetch did that hung in production:
    // only the watchdog notices.
    let mut app = watched()
        .settings(|s| s.redis.response_timeout_ms = 60_000)
        .spawn()
        .await;
    let receiver = Receiver::start(Mode::Echo);
    let tenant = tenant_with_endpoint(&app, Tenant::CONTOSO, &receiver)
        .await
        .tenant;
    let worker = app.start_worker().await;
    app.probe_until(0, "completed", Duration::from_secs(30))
        .await;
    wait_for_health(&app, &worker, 200, Duration::from_secs(30)).await;

    // Redis hangs for this app's connections (the test's own go straight to Redis).
    app.redis_proxy.stall();
    message(&app, tenant, 1).await;

    let body = wait_for_health(&app, &worker, 503, Duration::from_secs(60)).await;
    assert_eq!(body["code"], "lane_stalled", "{body}");
    assert_eq!(
        body["stalled_lanes"],
        serde_json::json!(["deliveries"]),
        "{body}"
    );
    assert!(lane_restarts(&app, &worker, "deliveries").await >= 1);
    assert_eq!(receiver.count("graph.user.updated"), 0);

    app.redis_proxy.restore();
    receiver
        .wait_for("graph.user.updated", 1, Duration::from_secs(60))
        .await;
    wait_for_health(&app, &worker, 200, Duration::from_secs(60)).await;
    assert_eq!(receiver.count("graph.user.updated"), 1, "delivered once");
    assert!(worker.lanes().restarts("deliveries") >= 1);
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_delivery_lane_that_stops_taking_jobs_is_restarted_and_the_waiting_delivery_goes_out() {
    let mut app = watched().spawn().await;
    let receiver = Receiver::start(Mode::Echo);
    let tenant = tenant_with_endpoint(&app, Tenant::CONTOSO, &receiver)
        .await
        .tenant;
    let worker = app.start_worker().await;
    wait_for_health(&app, &worker, 200, Duration::from_secs(30)).await;

    // The lane keeps its heartbeat but takes nothing, as when its slots never free.
    assert!(worker.lanes().inject("deliveries", Fault::StopFetching));
    message(&app, tenant, 1).await;

    receiver
        .wait_for("graph.user.updated", 1, Duration::from_secs(60))
        .await;
    assert_eq!(lane_restarts(&app, &worker, "deliveries").await, 1);
    wait_for_health(&app, &worker, 200, Duration::from_secs(30)).await;
    // Every other lane was left alone.
    assert_eq!(worker.lanes().restarts_total(), 1);
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_hung_lane_is_restarted_logged_and_the_job_it_held_runs_again() {
    let logs = graphhook_tests::capture_logs();
    let mut app = watched().spawn().await;
    let worker = app.start_worker().await;
    let (held, _) = app
        .probe_until(3_000, "started", Duration::from_secs(30))
        .await;

    // The probe lane's fetch loop stops where it is: it acknowledges nothing, fetches nothing,
    // and its heartbeat stops, while the probe it holds finishes.
    assert!(worker.lanes().inject("probe", Fault::Hang));
    app.probe_until(0, "completed", Duration::from_secs(60))
        .await;
    // The held probe's acknowledgement was lost with the hung worker: it went back on the queue
    // and ran again.
    poll(
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let probe = app.probe(&held).await;
            if probe["state"] == "completed" && probe["runs"] == 2 {
                Ok(())
            } else {
                Err(format!("the held probe did not run again: {probe}"))
            }
        },
    )
    .await;
    assert_eq!(lane_restarts(&app, &worker, "probe").await, 1);
    wait_for_health(&app, &worker, 200, Duration::from_secs(30)).await;
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("ERROR") && l.contains("lane stalled") && l.contains("probe")),
        "an error names the lane"
    );
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_lane_busy_with_a_job_within_its_timeout_is_not_restarted() {
    // One slot per lane: while the long probe runs, the next one waits.
    let mut app = watched()
        .settings(|s| {
            s.worker.concurrency = 1;
            s.worker.job_timeout_secs = 60;
        })
        .spawn()
        .await;
    let worker = app.start_worker().await;
    let (long, _) = app
        .probe_until(8_000, "started", Duration::from_secs(30))
        .await;
    let next = app.queue_probe(0).await;

    // Well past the stall window, the lane is busy, not stalled.
    loop {
        // Read first: the next probe cannot start before the long one has finished.
        let next_state = app.probe(&next).await["state"].clone();
        if app.probe(&long).await["state"] == "completed" {
            break;
        }
        assert_eq!(next_state, "queued", "the next probe waits for the slot");
        let (status, body) = healthz(&app, &worker).await;
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.wait_for_probe(&next, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(app.probe(&long).await["runs"], 1);
    assert_eq!(lane_restarts(&app, &worker, "probe").await, 0);
    assert_eq!(worker.lanes().restarts_total(), 0);
    assert_eq!(healthz(&app, &worker).await.0, 200);
    worker.stop().await.expect("clean stop");
}
