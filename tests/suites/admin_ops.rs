//! The operator api's operational views: queues, delivery statistics, the app credential.

use chrono::{DateTime, Duration, Utc};
use graphhook_domain::{
    platform::entities::{
        attempt,
        delivery::{self, DeliveryStatus},
        inbound_batch::{self, BatchKind},
        subscription,
    },
    platform::ids::TenantId,
    platform::jobs::ALL_QUEUES,
};
use graphhook_tests::fixtures::receiving;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{
    Tenant,
    client::create_subscription,
    fixtures::{FABRIKAM, USER, active_endpoint, message},
    tenant_with_endpoint,
    waits::tick_at,
};
use graphhook_worker::jobs::queue_depths;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn every_operations_route_requires_an_operator_token() {
    let app = TestApp::spawn().await;
    for path in [
        "/admin/v1/queues",
        "/admin/v1/deliveries/stats",
        "/admin/v1/credential",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{path}: {body}");
        let forged = app
            .client
            .get(app.url(path))
            .bearer_auth("not-an-operator-token")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 401, "{path} with a made-up token");
    }
}

#[tokio::test]
async fn queues_show_the_workers_snapshot_and_what_waits_in_postgres() {
    let app = TestApp::spawn().await;

    let before = app.as_operator().get_ok("/admin/v1/queues").await;
    assert_eq!(
        before,
        json!({
            "recorded_at": null,
            "queues": {},
            "sweeper": {"deliveries_due": 0, "oldest_due_at": null},
            "ingest": {"unprocessed_batches": 0, "oldest_unprocessed_at": null},
            "subscriptions": {"due": 0, "nearest_expiry": null},
        })
    );

    // Two probes wait when the maintenance tick counts.
    app.queue_probe(0).await;
    app.queue_probe(0).await;
    tick_at(&app, 7).await;
    let recorded = queue_depths::latest(&app.services).await.unwrap().unwrap();
    let body = app.as_operator().get_ok("/admin/v1/queues").await;
    assert_eq!(time(&body["recorded_at"]), app.clock.now());
    let queues = body["queues"].as_object().unwrap();
    assert_eq!(queues.len(), ALL_QUEUES.len(), "{body}");
    for (name, depth) in &recorded.queues {
        assert_eq!(
            queues[name],
            json!({"pending": depth.pending, "scheduled": depth.scheduled,
                   "running": depth.running, "dead": depth.dead}),
            "{name}"
        );
    }
    let probe = &queues["probe"];
    assert_eq!(
        probe["pending"].as_u64().unwrap() + probe["scheduled"].as_u64().unwrap(),
        2,
        "{probe}"
    );

    // Deliveries: one due now, one retry overdue, one retry later, one delivered.
    // A tenant onboarded through consent (subscriptions need Graph tokens), with an endpoint.
    let receiver = Receiver::start(Mode::Echo);
    let key = app.onboard("Contoso").await.key.unwrap();
    active_endpoint(&app, &key, json!({"url": receiver.url})).await;
    let tenant: TenantId = app.tenants().await[0].id.into();
    let now = app.clock.now();
    let mut rows = Vec::new();
    for n in 0..4 {
        let (_, deliveries) = message(&app, tenant, n).await;
        rows.push(deliveries[0].clone());
    }
    let change = |row: &delivery::Model, status, next: Option<DateTime<Utc>>| {
        let mut active = row.clone().into_active_model();
        active.status = Set(status);
        active.next_attempt_at = Set(next);
        active
    };
    change(
        &rows[1],
        DeliveryStatus::Failed,
        Some(now - Duration::minutes(5)),
    )
    .update(&app.db)
    .await
    .unwrap();
    change(
        &rows[2],
        DeliveryStatus::Failed,
        Some(now + Duration::hours(1)),
    )
    .update(&app.db)
    .await
    .unwrap();
    change(&rows[3], DeliveryStatus::Delivered, None)
        .update(&app.db)
        .await
        .unwrap();

    // Inbound batches: two waiting, one processed.
    for (received, processed) in [(2, false), (1, false), (10, true)] {
        let received_at = now - Duration::minutes(received);
        inbound_batch::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            kind: Set(BatchKind::Notifications),
            body: Set(b"{\"value\":[]}".to_vec()),
            received_at: Set(received_at),
            processed_at: Set(processed.then_some(received_at)),
            attempts: Set(0),
            last_error: Set(None),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }

    // A subscription: active, its renewal not yet due.
    let (status, created, _) = create_subscription(
        &app,
        &key,
        json!({"resource": format!("users/{}/messages", USER),
               "change_types": ["created"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let row = subscription::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(time(&created["expires_at"]), row.expires_at.unwrap());

    let body = app.as_operator().get_ok("/admin/v1/queues").await;
    assert_eq!(body["sweeper"]["deliveries_due"], 2, "{body}");
    assert_eq!(
        time(&body["sweeper"]["oldest_due_at"]),
        now - Duration::minutes(5)
    );
    assert_eq!(body["ingest"]["unprocessed_batches"], 2, "{body}");
    assert_eq!(
        time(&body["ingest"]["oldest_unprocessed_at"]),
        now - Duration::minutes(2)
    );
    assert_eq!(body["subscriptions"]["due"], 0, "{body}");
    assert_eq!(
        time(&body["subscriptions"]["nearest_expiry"]),
        row.expires_at.unwrap()
    );

    // Its renewal falls due.
    let mut active = row.into_active_model();
    active.due_at = Set(Some(now - Duration::seconds(1)));
    active.update(&app.db).await.unwrap();
    let body = app.as_operator().get_ok("/admin/v1/queues").await;
    assert_eq!(body["subscriptions"]["due"], 1, "{body}");
}

/// One recorded attempt of `delivery`, `ago` before now.
async fn attempt(
    app: &TestApp,
    delivery: &delivery::Model,
    ago: Duration,
    status: Option<i32>,
    duration_ms: i32,
) {
    attempt::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(delivery.tenant_id),
        delivery_id: Set(delivery.id),
        number: Set(1),
        trigger: Set("scheduled".into()),
        status_code: Set(status),
        duration_ms: Set(duration_ms),
        response_excerpt: Set(None),
        error_class: Set(status.is_none().then(|| "connect".to_owned())),
        error: Set(status.is_none().then(|| "connection refused".to_owned())),
        created_at: Set(app.clock.now() - ago),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

fn window<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["window"] == name)
        .unwrap_or_else(|| panic!("no {name} window: {body}"))
}

#[tokio::test]
async fn delivery_stats_count_successes_and_latencies_per_window_and_tenant() {
    let (app, receiver, contoso) = receiving(Tenant::CONTOSO).await;
    let contoso = contoso.tenant;
    let fabrikam = Tenant::Direct {
        entra: FABRIKAM,
        name: "Fabrikam",
    };
    let fabrikam = tenant_with_endpoint(&app, fabrikam, &receiver).await.tenant;

    let empty = app.as_operator().get_ok("/admin/v1/deliveries/stats").await;
    for name in ["1h", "24h"] {
        let w = window(&empty, name);
        assert_eq!(w["attempts"], 0, "{w}");
        assert_eq!(w["success_rate"], Value::Null, "{w}");
        assert_eq!(
            w["latency_ms"],
            json!({"p50": null, "p95": null, "p99": null})
        );
    }

    // Half past nine: the series' last hour has begun half an hour ago.
    app.clock.advance(Duration::minutes(30));
    let now = app.clock.now();

    // Fabrikam: one real delivery, answered 204 by the receiver.
    message(&app, fabrikam, 0).await;
    assert_eq!(app.drain_jobs().await, 1);

    // Contoso: attempts recorded directly, at known times, outcomes and durations.
    let (_, deliveries) = message(&app, contoso, 1).await;
    let d = &deliveries[0];
    let minutes = Duration::minutes;
    attempt(&app, d, minutes(10), Some(200), 100).await; // 09:20
    attempt(&app, d, minutes(20), Some(200), 200).await; // 09:10
    attempt(&app, d, minutes(40), Some(204), 300).await; // 08:50
    attempt(&app, d, minutes(50), Some(500), 400).await; // 08:40
    attempt(&app, d, minutes(55), None, 1_000).await; // 08:35, no answer
    attempt(&app, d, Duration::hours(5), Some(200), 50).await; // 04:30
    attempt(&app, d, Duration::hours(5), Some(503), 5_000).await; // 04:30
    attempt(&app, d, Duration::hours(25), Some(200), 10).await; // yesterday 08:30: too old

    let path = format!("/admin/v1/deliveries/stats?tenant_id={contoso}");
    let body = app.as_operator().get_ok(&path).await;
    assert_eq!(
        window(&body, "1h"),
        &json!({
            "window": "1h",
            "since": body["windows"][0]["since"],
            "attempts": 5, "succeeded": 3, "failed": 2, "success_rate": 0.6,
            "latency_ms": {"p50": 300, "p95": 1000, "p99": 1000},
        })
    );
    assert_eq!(
        time(&window(&body, "1h")["since"]),
        now - Duration::hours(1)
    );
    let day = window(&body, "24h");
    assert_eq!(time(&day["since"]), now - Duration::hours(24));
    assert_eq!(day["attempts"], 7, "{day}");
    assert_eq!(day["succeeded"], 4, "{day}");
    assert_eq!(day["failed"], 3, "{day}");
    let rate = day["success_rate"].as_f64().unwrap();
    assert!((rate - 4.0 / 7.0).abs() < 1e-9, "{rate}");
    assert_eq!(
        day["latency_ms"],
        json!({"p50": 300, "p95": 5000, "p99": 5000})
    );

    // 24 hours, oldest first, ending with the current one; empty hours are there with zeros.
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 24);
    let first: DateTime<Utc> = "2026-01-04T10:00:00Z".parse().unwrap();
    for (i, bucket) in series.iter().enumerate() {
        assert_eq!(time(&bucket["at"]), first + Duration::hours(i as i64));
    }
    let expected = |hour: &str| -> Value {
        match hour {
            "09" => json!({"attempts": 2, "succeeded": 2, "p50_ms": 100}),
            "08" => json!({"attempts": 3, "succeeded": 1, "p50_ms": 400}),
            "04" => json!({"attempts": 2, "succeeded": 1, "p50_ms": 50}),
            _ => json!({"attempts": 0, "succeeded": 0, "p50_ms": null}),
        }
    };
    for bucket in series {
        let hour = time(&bucket["at"]).format("%H").to_string();
        let mut got = bucket.clone();
        got.as_object_mut().unwrap().remove("at");
        assert_eq!(got, expected(&hour), "hour {hour}");
    }

    // Fabrikam's own figures hold its real attempt only.
    let path = format!("/admin/v1/deliveries/stats?tenant_id={fabrikam}");
    let body = app.as_operator().get_ok(&path).await;
    let hour = window(&body, "1h");
    assert_eq!(hour["attempts"], 1, "{hour}");
    assert_eq!(hour["succeeded"], 1, "{hour}");
    assert_eq!(hour["success_rate"], 1.0, "{hour}");
    assert!(hour["latency_ms"]["p50"].is_u64(), "{hour}");
    assert_eq!(body["series"][23]["attempts"], 1, "{body}");

    // Every tenant: both.
    let all = app.as_operator().get_ok("/admin/v1/deliveries/stats").await;
    let hour = window(&all, "1h");
    assert_eq!(
        (&hour["attempts"], &hour["succeeded"]),
        (&json!(6), &json!(4))
    );
    let day = window(&all, "24h");
    assert_eq!(
        (&day["attempts"], &day["succeeded"]),
        (&json!(8), &json!(5))
    );

    let response = app
        .admin_get("/admin/v1/deliveries/stats?tenant_id=contoso")
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "invalid_query", "{error}");
}

#[tokio::test]
async fn the_test_apps_secret_has_no_expiry_to_report() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.as_operator().get_ok("/admin/v1/credential").await,
        json!({"kind": "secret", "expires_at": null, "days_left": null, "warning": null})
    );
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn a_certificate_credential_reports_its_expiry() {
    let (certificate, key) = graphhook_domain::graph::microsoft::certificates::generate().unwrap();
    let certificate = pem("CERTIFICATE", &certificate);
    let key = pem("PRIVATE KEY", &key);
    let app = TestApp::spawn_with(move |s| {
        s.microsoft.client_certificate = Some(certificate);
        s.microsoft.client_private_key = Some(key.into());
    })
    .await;
    let body = app.as_operator().get_ok("/admin/v1/credential").await;
    assert_eq!(body["kind"], "certificate", "{body}");
    let expires_at = time(&body["expires_at"]);
    assert!(expires_at > app.clock.now() + Duration::days(30), "{body}");
    assert_eq!(
        body["days_left"],
        (expires_at - app.clock.now()).num_days(),
        "{body}"
    );
    assert_eq!(body["warning"], Value::Null, "{body}");
}
