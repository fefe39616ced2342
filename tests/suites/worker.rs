use std::time::Duration;

use graphhook_tests::{TestApp, poll::poll};
use graphhook_worker::WorkerProcess;
use graphhook_worker::jobs::queue_depths;
use serde_json::Value;

/// The probe queue's finished jobs: (done, dead).
async fn finished_probes(app: &TestApp) -> (u64, u64) {
    use graphhook_domain::platform::jobs::{Job, Probe};
    graphhook_worker::jobs::finished::count(&app.services, Probe::QUEUE)
        .await
        .expect("count")
}

/// A fresh app with one worker process, which has taken a probe holding `hold_ms` to `state`
/// (within 15 s): the app, the worker, the probe's id and the probe as then shown.
async fn a_worker_with_a_probe(
    hold_ms: u64,
    state: &str,
) -> (TestApp, WorkerProcess, String, Value) {
    let mut app = TestApp::spawn().await;
    let worker = app.start_worker().await;
    let (id, probe) = app
        .probe_until(hold_ms, state, Duration::from_secs(15))
        .await;
    (app, worker, id, probe)
}

#[tokio::test]
async fn a_probe_queued_through_the_api_is_run_by_draining_the_queues() {
    let app = TestApp::spawn().await;
    let id = app.queue_probe(0).await;
    assert_eq!(app.probe(&id).await["state"], "queued");

    assert_eq!(app.drain_jobs().await, 1);
    let probe = app.probe(&id).await;
    assert_eq!(probe["state"], "completed", "{probe}");
    assert_eq!(probe["runs"], 1);
    assert_eq!(app.drain_jobs().await, 0, "nothing is left");

    // The operator action is in the audit log.
    let log: Value = app
        .admin_get("/admin/v1/audit-log")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(log["data"][0]["action"], "probe.queued");
    assert_eq!(log["data"][0]["target_id"], id.as_str());
}

#[tokio::test]
async fn a_real_worker_runs_probes_and_serves_its_own_health_and_metrics() {
    let (app, worker, _, probe) = a_worker_with_a_probe(0, "completed").await;
    assert!(
        probe["worker"]
            .as_str()
            .is_some_and(|w| w.starts_with("probe.")),
        "{probe}"
    );

    let health = app.worker_get(&worker, "/healthz").await;
    assert_eq!(health.status().as_u16(), 200);
    let metrics = app.worker_get(&worker, "/metrics").await;
    assert_eq!(metrics.status().as_u16(), 200);
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn stopping_a_worker_lets_the_job_in_flight_finish() {
    let (app, worker, id, _) = a_worker_with_a_probe(1_500, "started").await;

    worker.stop().await.expect("clean stop");

    let probe = app.probe(&id).await;
    assert_eq!(
        probe["state"], "completed",
        "the in-flight job finished before the worker stopped: {probe}"
    );
    assert_eq!(probe["runs"], 1);
    // Whatever else is queued (a maintenance tick), the probe was acknowledged, not left to run again.
    app.drain_jobs().await;
    assert_eq!(app.probe(&id).await["runs"], 1);
}

#[tokio::test]
async fn after_its_redis_connections_are_killed_the_worker_still_runs_new_jobs() {
    let (app, worker, _, _) = a_worker_with_a_probe(0, "completed").await;

    let killed = app.kill_redis_clients().await;
    assert!(killed >= 1, "CLIENT KILL found the app's connections");

    let (_, probe) = app
        .probe_until(0, "completed", Duration::from_secs(30))
        .await;
    assert_eq!(probe["runs"], 1, "{probe}");
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn two_worker_processes_run_the_periodic_job_once_per_tick() {
    let mut app = TestApp::spawn().await;
    let first = app.start_worker().await;
    let second = app.start_worker().await;
    // Wait for three ticks to have run (one per second), however loaded the machine is.
    poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let ran = app.redis_hash(&queue_depths::runs_key(&app.prefix)).await;
            if ran.len() >= 3 {
                Ok(())
            } else {
                Err(format!("three ticks did not run within 30 s: {ran:?}"))
            }
        },
    )
    .await;
    first.stop().await.expect("first stops");
    second.stop().await.expect("second stops");

    let runs = app.redis_hash(&queue_depths::runs_key(&app.prefix)).await;
    for (tick, count) in &runs {
        assert_eq!(count, "1", "tick {tick} ran {count} times: {runs:?}");
    }
    let mut ticks: Vec<i64> = runs.iter().filter_map(|(t, _)| t.parse().ok()).collect();
    ticks.sort_unstable();
    assert!(ticks.windows(2).all(|w| w[1] - w[0] >= 1), "{ticks:?}");
}

#[tokio::test]
async fn the_queue_depths_job_records_what_waits() {
    let app = TestApp::spawn().await;
    app.queue_probe(0).await;
    app.queue_probe(0).await;
    let snapshot = queue_depths::run(
        graphhook_domain::platform::jobs::QueueDepthsTick { tick: 42 },
        &app.services,
    )
    .await
    .expect("queue depths");
    assert_eq!(
        snapshot.queues["probe"].scheduled + snapshot.queues["probe"].pending,
        2,
        "{snapshot:?}"
    );
    let latest = queue_depths::latest(&app.services)
        .await
        .expect("latest")
        .expect("a snapshot");
    assert_eq!(latest.tick, 42);
}

#[tokio::test]
async fn flushing_redis_deletes_this_tests_keys_only() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    app.queue_probe(0).await;
    other.queue_probe(0).await;
    assert!(!app.redis_keys().await.is_empty());

    app.flush_redis().await;
    assert!(app.redis_keys().await.is_empty());
    assert!(
        !other.redis_keys().await.is_empty(),
        "another test's keys survive"
    );
    assert_eq!(other.drain_jobs().await, 1);
}

#[tokio::test]
async fn finished_jobs_are_trimmed_from_redis_once_old_enough() {
    use graphhook_domain::platform::jobs::{Job, Probe};
    use graphhook_worker::jobs::finished;

    let (app, worker, _, _) = a_worker_with_a_probe(0, "completed").await;
    worker.stop().await.expect("clean stop");
    assert_eq!(finished_probes(&app).await, (1, 0));

    // Younger than the cut-off: kept.
    let kept = finished::trim(&app.services, finished::KEEP_DONE, finished::KEEP_DEAD)
        .await
        .expect("trim");
    assert_eq!(kept, 0);
    assert_eq!(finished_probes(&app).await, (1, 0));

    // Older than a zero cut-off: its id, payload and metadata are gone.
    let removed = finished::trim(&app.services, Duration::ZERO, Duration::ZERO)
        .await
        .expect("trim");
    // The probe, and any maintenance tick the worker finished meanwhile.
    assert!(removed >= 1, "{removed}");
    assert_eq!(finished_probes(&app).await, (0, 0));
    let data_key = app.services.queues.config(Probe::QUEUE).job_data_hash();
    assert!(
        app.redis_hash(&data_key).await.is_empty(),
        "no payload is left"
    );
}

#[tokio::test]
async fn a_real_worker_delivers_and_counts_its_attempts() {
    let mut app = TestApp::spawn().await;
    let receiver = graphhook_tests::Receiver::start(graphhook_tests::Mode::Echo);
    let key = app.create_contoso().await;
    app.as_tenant(&key)
        .send(
            reqwest::Method::POST,
            "/api/v1/endpoints",
            Some(serde_json::json!({"url": receiver.url})),
        )
        .await;
    let worker = app.start_worker().await;
    let tenant = app.tenants().await[0].id.into();
    let new = graphhook_domain::delivery::engine::NewMessage {
        verbatim: Vec::new(),
        tenant,
        event_type: "graph.user.updated".into(),
        data: serde_json::json!({}),
        endpoint_ids: None,
    };
    graphhook_domain::delivery::engine::create_message(&app.services, new)
        .await
        .unwrap();
    receiver
        .wait_for("graph.user.updated", 1, Duration::from_secs(15))
        .await;
    // The attempt is counted once its outcome is recorded, just after the receiver answered.
    let metrics = poll(
        Duration::from_secs(15),
        Duration::from_millis(50),
        || async {
            let metrics = app.worker_metrics(&worker).await;
            let counted = metrics
                .lines()
                .any(|l| l.starts_with("graphhook_delivery_attempts_total{outcome=\"delivered\"}"));
            if counted {
                Ok(metrics)
            } else {
                Err(format!("the attempt was not counted: {metrics}"))
            }
        },
    )
    .await;
    assert!(
        metrics.contains("graphhook_delivery_attempt_duration_seconds"),
        "{metrics}"
    );
    // The attempt went out on the live lane, and nothing is in flight any more.
    assert!(
        metrics
            .lines()
            .any(|l| l == "graphhook_deliveries_in_flight{lane=\"live\"} 0"),
        "{metrics}"
    );
    worker.stop().await.expect("clean stop");
}

#[tokio::test]
async fn an_idle_worker_takes_a_new_job_at_once_rather_than_at_its_next_poll() {
    // Polls ten minutes apart, heartbeats (which also make an idle apalis worker look for
    // jobs) a minute apart: only the wake-up published with the push starts the job sooner.
    let mut app = TestApp::spawn_with(|s| {
        s.worker.poll_interval_ms = 600_000;
        s.worker.delivery_poll_interval_ms = 600_000;
        s.worker.heartbeat_interval_secs = 60;
        s.worker.watchdog_stall_secs = 600;
    })
    .await;
    let worker = app.start_worker().await;
    app.probe_until(0, "completed", Duration::from_secs(20))
        .await;
    // The worker is idle now; the next job arrives between two polls.
    let (_, probe) = app
        .probe_until(0, "completed", Duration::from_secs(10))
        .await;
    assert_eq!(probe["state"], "completed", "{probe}");
    worker.stop().await.expect("clean stop");
}
