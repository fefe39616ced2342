use graphhook_tests::client::{header, sent};
use std::time::Duration;

use graphhook_tests::waits::poll;
use graphhook_tests::{TcpProxy, TestApp};
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_200_with_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status().as_u16(), 200);
    let id = header(&response, "x-request-id");
    assert!(
        id.as_deref().is_some_and(|id| id.starts_with("req_")),
        "request id: {id:?}"
    );
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept() {
    let app = TestApp::spawn().await;
    let request = app.client.get(app.url("/healthz"));
    let response = sent(request.header("x-request-id", "lb-0123456789abcdef")).await;
    assert_eq!(
        header(&response, "x-request-id").as_deref(),
        Some("lb-0123456789abcdef")
    );
}

#[tokio::test]
async fn readyz_answers_200_when_postgres_and_redis_answer() {
    let app = TestApp::spawn().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["checks"]["postgres"], "ok");
    assert_eq!(body["checks"]["redis"], "ok");
}

async fn wait_for_status(app: &TestApp, path: &str, status: u16) -> Value {
    poll(
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let response = app.get(path).await;
            let got = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            if got == status {
                Ok(body)
            } else {
                Err(format!("{path} stayed {got}, wanted {status}: {body}"))
            }
        },
    )
    .await
}

/// Cuts `proxy`, the way to `down`: `/readyz` answers 503 naming `down` and not `up`; once
/// the proxy is restored, 200 with `down` ok again.
async fn readyz_through_an_outage(app: &TestApp, proxy: &TcpProxy, down: &str, up: &str) {
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);

    proxy.cut();
    let body = wait_for_status(app, "/readyz", 503).await;
    assert_eq!(body["code"], "not_ready");
    assert_ne!(body["details"]["checks"][down], "ok", "{body}");
    assert_eq!(body["details"]["checks"][up], "ok", "{body}");
    assert!(body["request_id"].as_str().is_some_and(|s| !s.is_empty()));

    proxy.restore();
    let body = wait_for_status(app, "/readyz", 200).await;
    assert_eq!(body["checks"][down], "ok", "{body}");
}

#[tokio::test]
async fn readyz_names_redis_while_redis_is_unreachable_and_recovers() {
    let app = TestApp::spawn().await;
    readyz_through_an_outage(&app, &app.redis_proxy, "redis", "postgres").await;
}

#[tokio::test]
async fn readyz_names_postgres_while_postgres_is_unreachable() {
    let app = TestApp::spawn().await;
    readyz_through_an_outage(&app, &app.pg_proxy, "postgres", "redis").await;
}

#[tokio::test]
async fn when_the_database_hangs_waiting_requests_fail_fast_with_503() {
    let app = TestApp::spawn_with(|s| s.database.max_connections = 1).await;
    assert_eq!(
        app.admin_get("/admin/v1/audit-log").await.status().as_u16(),
        200
    );
    app.pg_proxy.stall();

    // The first request takes the pool's only connection and hangs with the database.
    let client = app.client.clone();
    let url = app.url("/admin/v1/audit-log");
    let token = app.operator_token();
    let stuck = tokio::spawn(async move {
        client
            .get(url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(20))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The next one cannot get a connection. The client gives up after 5 s: still waiting by
    // then fails this test; the pool's acquire timeout (500 ms) must answer first.
    let response = app
        .client
        .get(app.url("/admin/v1/audit-log"))
        .bearer_auth(app.operator_token())
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the api answered before the client gave up");
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["details"]["service"], "database", "{body}");

    // When the database comes back, the stuck request ends with a 503 too, and service resumes.
    app.pg_proxy.restore();
    let stuck = stuck
        .await
        .expect("task")
        .expect("the stuck request got an answer");
    assert_eq!(stuck.status().as_u16(), 503);
    poll(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            match app.admin_get("/admin/v1/audit-log").await.status().as_u16() {
                200 => Ok(()),
                _ => Err("service did not resume".to_owned()),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text_format() {
    let app = TestApp::spawn().await;
    app.get("/healthz").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = header(&response, "content-type");
    assert!(
        content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain")),
        "{content_type:?}"
    );
    let text = response.text().await.unwrap_or_default();
    assert!(text.contains("graphhook_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
}
