//! After PostgreSQL restarts, the connections the api pooled are dead: the server ended each
//! with SQLSTATE 57P01 ("terminating connection due to administrator command"). The next
//! requests must not answer 500: a read is tried once more on a fresh connection, a write that
//! cannot be repeated safely answers 503 with `Retry-After`, and Graph's POSTs answer 503 so
//! that Graph retries.

use graphhook_tests::TestApp;
use graphhook_tests::client::header;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Ends every backend serving the app's pooled connections (they all pass through this test's
/// proxy), as a restart of PostgreSQL does: each client gets 57P01, then EOF. Returns how many.
async fn restart_postgres_for_the_app(app: &TestApp) -> usize {
    let ports: Vec<String> = app
        .pg_proxy
        .upstream_addrs()
        .iter()
        .map(|a| a.port().to_string())
        .collect();
    if ports.is_empty() {
        return 0;
    }
    let sql = format!(
        "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid() AND client_port IN ({})",
        ports.join(",")
    );
    let rows = app
        .db
        .query_all_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            sql,
            [app.db_name.clone().into()],
        ))
        .await
        .unwrap();
    // The backends are gone once pg_stat_activity no longer lists them.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                format!(
                    "SELECT count(*)::int8 AS left FROM pg_stat_activity \
                     WHERE datname = $1 AND client_port IN ({})",
                    ports.join(",")
                ),
                [app.db_name.clone().into()],
            ))
            .await
            .unwrap()
            .and_then(|r| r.try_get::<i64>("", "left").ok())
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "backends still up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    rows.len()
}

/// The status, the `Retry-After` header and the body of a response.
async fn answer(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry_after = header(&response, "retry-after");
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A tenant api call as `key`, answered.
async fn tenant_call(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    answer(app.as_tenant(key).send(method, path, body).await).await
}

/// `POST /api/v1/api-keys` for a key named `name`, as `key`, answered.
async fn create_api_key(app: &TestApp, key: &str, name: &str) -> (u16, Option<String>, Value) {
    let body = json!({"name": name});
    tenant_call(app, key, Method::POST, "/api/v1/api-keys", Some(body)).await
}

/// A write may succeed (it was repeated safely) or answer 503 with `Retry-After`; never 500.
fn assert_write_answer(what: &str, (status, retry_after, body): &(u16, Option<String>, Value)) {
    match status {
        200..=299 => {}
        503 => {
            assert_eq!(body["code"], "service_unavailable", "{what}: {body}");
            assert!(
                retry_after
                    .as_deref()
                    .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)),
                "{what}: a 503 says when to try again: {retry_after:?}"
            );
        }
        other => panic!("{what}: {other} {body}"),
    }
}

#[tokio::test]
async fn after_postgres_ends_the_pooled_connections_a_read_succeeds_and_nothing_answers_500() {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    // Several requests at once, so the pool holds several connections.
    let warm: Vec<_> = (0..4)
        .map(|_| tenant_call(&app, &key, Method::GET, "/api/v1/api-keys", None))
        .collect();
    for (status, _, body) in futures::future::join_all(warm).await {
        assert_eq!(status, 200, "{body}");
    }

    assert!(restart_postgres_for_the_app(&app).await >= 1);
    let (status, _, body) = tenant_call(&app, &key, Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(
        status, 200,
        "a read is tried again on a fresh connection: {body}"
    );
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1), "{body}");

    // Writes right after a restart.
    restart_postgres_for_the_app(&app).await;
    let created = create_api_key(&app, &key, "after the restart").await;
    assert_write_answer("creating an API key", &created);

    // And every request after that is served.
    for _ in 0..3 {
        let (status, _, body) =
            tenant_call(&app, &key, Method::GET, "/api/v1/endpoints", None).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, body) = create_api_key(&app, &key, "later").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn graph_notifications_right_after_a_postgres_restart_answer_503_with_retry_after_or_202() {
    let app = TestApp::spawn().await;
    let item = json!({"value": [{"subscriptionId": "x", "changeType": "updated"}]}).to_string();
    let post = || {
        app.client
            .post(app.url("/graph/notifications"))
            .header("content-type", "application/json")
            .body(item.clone())
            .send()
    };
    // Stored once, so the inbox's writers hold pooled connections.
    let warm: Vec<_> = (0..4).map(|_| post()).collect();
    for response in futures::future::join_all(warm).await {
        assert_eq!(response.unwrap().status(), 202);
    }

    assert!(restart_postgres_for_the_app(&app).await >= 1);
    let first = answer(post().await.unwrap()).await;
    assert_write_answer("the first notification after the restart", &first);
    // Graph's retry is stored.
    let (status, _, body) = answer(post().await.unwrap()).await;
    assert_eq!(status, 202, "{body}");
}
