//! Values at and past the edge of their range: each gets a 4xx in the one error shape (never a
//! 5xx, never a dropped connection), and nothing changes.

use std::time::Duration;

use graphhook_tests::errors::Refusal;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{
    client::create_endpoint,
    errors::{assert_field, refused, refused_case},
};
use reqwest::Method;
use serde_json::{Value, json};

/// A tenant with one active endpoint: (app, API key, endpoint id, receiver).
async fn with_endpoint() -> (TestApp, String, String, Receiver) {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (status, endpoint) = create_endpoint(&app, &key, json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{endpoint}");
    let id = endpoint["id"].as_str().unwrap().to_owned();
    (app, key, id, receiver)
}

async fn current_secret(app: &TestApp, key: &str, id: &str) -> Value {
    let (status, body) = app
        .as_tenant(key)
        .get(&format!("/api/v1/endpoints/{id}/secret"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["secret"].clone()
}

/// POSTs a raw body to the rotate route.
async fn rotate_raw(
    app: &TestApp,
    key: &str,
    id: &str,
    content_type: Option<&str>,
    body: &'static [u8],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/endpoints/{id}/secret/rotate")))
        .bearer_auth(key)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request
        .send()
        .await
        .expect("an answer, not a dropped connection")
}

#[tokio::test]
async fn a_grace_period_outside_zero_to_a_week_is_a_422_and_the_connection_stays_open() {
    let (app, key, id, _receiver) = with_endpoint().await;
    let before = current_secret(&app, &key, &id).await;
    let path = format!("/api/v1/endpoints/{id}/secret/rotate");
    for grace in [
        json!(9_223_372_036_854_776_i64),
        json!(1_i64 << 62),
        json!(-(1_i64 << 62)),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(604_801),
        json!(-1),
        json!(9_223_372_036_854_775_808_u64),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(&key)
            .json(&json!({"grace_period_secs": grace}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("grace {grace}: the connection was dropped: {e}"));
        let body = refused(response, 422, "validation_failed").await;
        assert_eq!(
            body["details"]["field"], "grace_period_secs",
            "{grace}: the field is named: {body}"
        );
    }
    assert_eq!(
        current_secret(&app, &key, &id).await,
        before,
        "nothing was rotated"
    );
    // A fraction, a string or a boolean is a value of the wrong type.
    for grace in [json!(1.5), json!("10"), json!(true)] {
        let (status, body) = app
            .as_tenant(&key)
            .post_json(&path, json!({"grace_period_secs": grace}))
            .await;
        assert_eq!(status, 422, "grace {grace}: {body}");
        assert_eq!(
            body["details"]["rule"], "json_type",
            "grace {grace}: {body}"
        );
    }
    // At the edges, it rotates; a whole number written with a fraction or an exponent is whole.
    for grace in [json!(0), json!(604_800), json!(1.0), json!(1e3)] {
        let (status, body) = app
            .as_tenant(&key)
            .post_json(&path, json!({"grace_period_secs": grace}))
            .await;
        assert_eq!(status, 200, "grace {grace}: {body}");
    }
}

#[tokio::test]
async fn a_rotate_body_that_is_present_must_be_a_json_object() {
    let (app, key, id, _receiver) = with_endpoint().await;
    let before = current_secret(&app, &key, &id).await;
    // The same refusal check for each malformed body: (content type, body, status, code).
    let cases: [(&str, &'static [u8], u16, &str); 5] = [
        ("application/json", b"\x00", 400, "invalid_json"),
        (
            "application/json",
            b"{\"grace_period_secs\": ",
            400,
            "invalid_json",
        ),
        ("application/json", b"[]", 422, "validation_failed"),
        (
            "application/json",
            b"{\"grace\": 5}",
            422,
            "validation_failed",
        ),
        (
            "text/plain",
            b"{\"grace_period_secs\": 0}",
            415,
            "unsupported_media_type",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let response = rotate_raw(&app, &key, &id, Some(content_type), body).await;
        let case = format!("{content_type} {}", String::from_utf8_lossy(body));
        refused_case(response, status, code, &case).await;
    }
    assert_eq!(
        current_secret(&app, &key, &id).await,
        before,
        "nothing was rotated"
    );

    // No body at all: the defaults (a day's grace).
    let response = rotate_raw(&app, &key, &id, None, b"").await;
    assert_eq!(response.status().as_u16(), 200);
    let rotated: Value = response.json().await.unwrap();
    assert_eq!(
        rotated["old_secrets_expire_at"],
        json!(app.clock.now() + chrono::Duration::days(1)),
        "{rotated}"
    );
    assert_ne!(current_secret(&app, &key, &id).await, before);
}

#[tokio::test]
async fn an_endpoint_url_longer_than_2048_characters_is_a_422_naming_the_limit() {
    let (app, key, id, receiver) = with_endpoint().await;
    let padded = |len: usize| {
        let base = format!("{}?pad=", receiver.url);
        format!("{base}{}", "a".repeat(len - base.len()))
    };
    let (status, body) = create_endpoint(&app, &key, json!({"url": padded(2049)})).await;
    assert_eq!(status, 422, "{body}");
    assert_field(&body, "validation_failed", "url");
    // Under test: the rule names the limit.
    assert_eq!(
        body["details"]["rule"], "URLs longer than 2048 characters are not allowed",
        "{body}"
    );
    let endpoint = format!("/api/v1/endpoints/{id}");
    let too_long = json!({"url": padded(100_000)});
    let response = app
        .as_tenant(&key)
        .send(Method::PATCH, &endpoint, Some(too_long))
        .await;
    let body = refused(response, 422, "validation_failed").await;
    assert_eq!(body["details"]["field"], "url");
    let (status, body) = create_endpoint(&app, &key, json!({"url": padded(2048)})).await;
    assert_eq!(status, 201, "exactly at the limit: {body}");
}

#[tokio::test]
async fn strings_the_database_cannot_hold_are_a_422_naming_the_field() {
    let (app, key, id, _receiver) = with_endpoint().await;
    let (status, body) = create_endpoint(
        &app,
        &key,
        json!({"url": "http://127.0.0.1:9/", "description": "a\u{0}b"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["field"], "description", "{body}");
    let contoso = app.as_tenant(&key);
    let endpoint = format!("/api/v1/endpoints/{id}");
    let nul = json!({"description": "\u{0}"});
    let response = contoso.send(Method::PATCH, &endpoint, Some(nul)).await;
    let body = refused(response, 422, "validation_failed").await;
    assert_eq!(body["details"]["field"], "description", "{body}");
    for name in ["ci\u{0}", &"k".repeat(101), " "] {
        let key_named = json!({"name": name});
        let response = contoso
            .send(Method::POST, "/api/v1/api-keys", Some(key_named))
            .await;
        refused(response, 422, "validation_failed").await;
    }

    let response = app
        .client
        .post(app.url("/portal/session"))
        .json(&json!({"api_key": "ghk_abc\u{0}defghijk_secret"}))
        .send()
        .await
        .unwrap();
    refused(response, 401, "unauthorized").await;
    let response = app.submit_start(&app.client, "Contoso\u{0}").await;
    assert_eq!(
        response.status().as_u16(),
        422,
        "the company name is asked for again"
    );

    let tenant = app.tenants().await.remove(0);
    let tenant_id = graphhook_domain::platform::ids::TenantId::from(tenant.id);
    let response = app
        .admin_post_json(
            &format!("/admin/v1/tenants/{tenant_id}/suspend"),
            &json!({"reason": "unpaid\u{0}"}),
        )
        .await;
    refused(response, 422, "validation_failed").await;
    let response = app
        .admin_post_json(
            "/admin/v1/operator-tokens/revoke",
            &json!({"token_id": "jti\u{0}"}),
        )
        .await;
    refused(response, 422, "validation_failed").await;
    assert_eq!(
        app.tenants().await[0].status,
        tenant.status,
        "the tenant was not suspended"
    );
}

#[tokio::test]
async fn list_filters_outside_what_the_database_compares_are_a_400() {
    let (app, key, id, _receiver) = with_endpoint().await;
    let ancient = "-4714-11-23T00:00:00Z";
    for query in [
        format!("/api/v1/messages?since={ancient}"),
        format!("/api/v1/messages?until={ancient}"),
        format!("/api/v1/deliveries?since={ancient}"),
        format!("/api/v1/events?since={ancient}"),
        "/api/v1/messages?since=1969-12-31T23:59:59Z".to_owned(),
        "/api/v1/events?since=0001-01-01T00:00:00Z".to_owned(),
        "/api/v1/messages?event_type=%00".to_owned(),
        "/api/v1/deliveries?event_type=a%00b".to_owned(),
        "/api/v1/events?event_type=%00".to_owned(),
    ] {
        let response = app.as_tenant(&key).send(Method::GET, &query, None).await;
        let body = refused(response, 400, "invalid_query").await;
        assert_eq!(body["details"]["rule"], "invalid_value", "{query}: {body}");
    }
    let recover = format!("/api/v1/endpoints/{id}/recover");
    let response = app
        .as_tenant(&key)
        .send(Method::POST, &recover, Some(json!({"since": ancient})))
        .await;
    refused(response, 422, "validation_failed").await;
    refused(
        app.admin_get("/admin/v1/tenants?search=%00").await,
        400,
        "invalid_query",
    )
    .await;
    // Inside the range, the lists answer.
    for query in [
        "/api/v1/messages?since=1970-01-01T00:00:00Z&until=9999-12-31T23:59:59Z",
        "/api/v1/deliveries?since=2026-01-01T00:00:00Z",
        "/api/v1/events?since=2026-01-01T00:00:00%2B02:00",
    ] {
        let response = app.as_tenant(&key).send(Method::GET, query, None).await;
        assert_eq!(response.status().as_u16(), 200, "{query}");
    }
}

#[tokio::test]
async fn the_admin_api_bounds_its_query_and_wants_an_object_body() {
    let app = TestApp::spawn().await;
    for hours in ["2147483648", "4294967295", "8761"] {
        let response = app
            .admin_get(&format!(
                "/admin/v1/subscriptions?expiring_within_hours={hours}"
            ))
            .await;
        let body = refused(response, 422, "validation_failed").await;
        assert_eq!(body["details"]["field"], "expiring_within_hours", "{body}");
    }
    let response = app
        .admin_get("/admin/v1/subscriptions?expiring_within_hours=8760")
        .await;
    assert_eq!(response.status().as_u16(), 200);

    for body in [json!([]), json!([5]), json!(7), json!("x")] {
        let response = app.admin_post_json("/admin/v1/probes", &body).await;
        let error = refused(response, 422, "validation_failed").await;
        assert_eq!(error["details"]["rule"], "json_type", "{body}: {error}");
        assert_eq!(
            error["details"]["expected"], "a JSON object",
            "{body}: {error}"
        );
    }
}

/// Sends a request head announcing a 100-byte body and one byte of it, then waits: what the
/// server answered (its status line), or `None` if it had not within `wait`.
async fn stalled_body(port: u16, path: &str, key: &str, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(wait, stream.read(&mut answer)).await;
    let n = read.ok()?.ok()?;
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_once_its_time_is_up() {
    let app = TestApp::spawn_with(|s| s.api.request_body_timeout_secs = 1).await;
    let key = app.create_contoso().await;
    for path in ["/api/v1/endpoints", "/graph/notifications"] {
        let status = stalled_body(app.port, path, &key, Duration::from_secs(10)).await;
        assert_eq!(
            status.as_deref(),
            Some("HTTP/1.1 400 Bad Request"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_operation_that_takes_no_body_refuses_one_rather_than_ignoring_it() {
    let (app, key, id, _receiver) = with_endpoint().await;
    let contoso = app.as_tenant(&key);
    let tenant_paths = [
        format!("/api/v1/endpoints/{id}/verify"),
        format!("/api/v1/endpoints/{id}/test"),
        "/api/v1/tenant/verify".to_owned(),
    ];
    for path in &tenant_paths {
        let answer = contoso.post_json(path, json!({"zzz": 1})).await;
        let refused = Refusal::invalid("unknown_field").of(answer);
        assert_eq!(refused["details"]["field"], "zzz", "{path}: {refused}");
        // An empty object is no body: the operation runs (and answers for itself; Contoso has
        // no consent at Microsoft, so its verification is a 409).
        let (status, body) = contoso.post_json(path, json!({})).await;
        assert!(
            status < 300 || body["details"]["rule"] == "token_refused",
            "{path}: {status} {body}"
        );
    }
    let rotate = "/admin/v1/encryption-certificates/rotate";
    let answer = app.as_operator().post_json(rotate, json!({"zzz": 1})).await;
    Refusal::invalid("unknown_field").of(answer);
}

#[tokio::test]
async fn a_refused_value_names_its_field() {
    let (app, key, _id, _receiver) = with_endpoint().await;
    let contoso = app.as_tenant(&key);
    let operator = app.as_operator();
    let tenant = graphhook_domain::platform::ids::TenantId::from(app.tenants().await[0].id);
    let answers = [
        ("limit", contoso.get("/api/v1/endpoints?limit=0").await),
        (
            "name",
            contoso
                .post_json("/api/v1/api-keys", json!({"name": " "}))
                .await,
        ),
        (
            "hold_ms",
            operator
                .post_json("/admin/v1/probes", json!({"hold_ms": 999_999}))
                .await,
        ),
        (
            "action",
            operator.get("/admin/v1/audit-log?action=%20").await,
        ),
        (
            "reason",
            operator
                .post_json(
                    &format!("/admin/v1/tenants/{tenant}/suspend"),
                    json!({"reason": ""}),
                )
                .await,
        ),
    ];
    for (field, (status, body)) in answers {
        assert_eq!(status, 422, "{field}: {body}");
        graphhook_tests::errors::assert_field(&body, "validation_failed", field);
    }
}

#[tokio::test]
async fn an_operation_that_takes_no_query_refuses_a_parameter_rather_than_ignoring_it() {
    let (app, key, _id, _receiver) = with_endpoint().await;
    let answers = [
        app.as_tenant(&key).get("/api/v1/api-keys?zzz=1").await,
        app.as_operator().get("/admin/v1/queues?zzz=1").await,
        app.as_operator().get("/admin/v1/me?x=1").await,
    ];
    for answer in answers {
        let (status, body) = &answer;
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body["code"], "invalid_query", "{body}");
    }
    assert_eq!(app.as_tenant(&key).get("/api/v1/api-keys").await.0, 200);
}
