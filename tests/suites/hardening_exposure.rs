//! What a caller can make the api keep or reveal: metric labels stay a bounded set whatever the
//! requests, operator tokens cannot outlive 90 days, and the handshake echo is never sniffed.

use std::collections::BTreeSet;

use graphhook_tests::{TestApp, app::ADMIN_SIGNING_KEY};
use reqwest::Method;

/// The distinct values of `label` on the lines of `metric` in a Prometheus text rendering.
fn label_values(text: &str, metric: &str, label: &str) -> BTreeSet<String> {
    let prefix = format!("{metric}{{");
    let needle = format!("{label}=\"");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| {
            let start = line.find(&needle)? + needle.len();
            let end = line[start..].find('"')? + start;
            Some(line[start..end].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn random_methods_and_paths_do_not_grow_the_metric_labels() {
    let app = TestApp::spawn().await;
    for i in 0..300 {
        let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        let method = Method::from_bytes(format!("X{random}").as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/healthz".to_owned()
        } else {
            format!("/nowhere/{random}")
        };
        let response = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .expect("an answer");
        assert!(response.status().is_client_error(), "{path}");
    }
    // A few ordinary requests, so the ordinary labels are there too.
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);

    let text = app.get("/metrics").await.text().await.unwrap();
    for metric in [
        "graphhook_http_requests_total",
        "graphhook_http_request_duration_seconds_count",
    ] {
        let methods = label_values(&text, metric, "method");
        assert!(
            methods.contains("GET") && methods.contains("DELETE"),
            "{methods:?}"
        );
        assert!(methods.contains("other"), "{metric}: {methods:?}");
        let standard = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "other",
        ];
        assert!(
            methods.iter().all(|m| standard.contains(&m.as_str())),
            "{metric}: {methods:?}"
        );
        let routes = label_values(&text, metric, "route");
        assert!(
            routes.iter().all(|r| !r.contains("nowhere")),
            "{metric}: {routes:?}"
        );
        assert!(routes.len() <= 5, "{metric}: {routes:?}");
    }
}

/// An HS256 token with the deployment's signing key and these claims.
fn signed(claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(ADMIN_SIGNING_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &key,
    )
    .unwrap()
}

#[tokio::test]
async fn an_operator_token_living_longer_than_90_days_or_without_iat_is_refused() {
    let app = TestApp::spawn().await;
    let now = app.clock.now().timestamp();
    let day = 24 * 3600;
    let claims = |iat: Option<i64>, exp: i64| {
        let mut claims = serde_json::json!({
            "sub": "mallory",
            "iss": "graphhook",
            "aud": "graphhook-admin",
            "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(iat) = iat {
            claims["iat"] = iat.into();
        }
        claims
    };
    let me = |token: String| {
        app.client
            .get(app.url("/admin/v1/me"))
            .bearer_auth(token)
            .send()
    };
    let ninety = signed(&claims(Some(now), now + 90 * day));
    assert_eq!(me(ninety).await.unwrap().status().as_u16(), 200);
    for (what, token) in [
        ("ten years", signed(&claims(Some(now), now + 3650 * day))),
        (
            "90 days and a second",
            signed(&claims(Some(now), now + 90 * day + 1)),
        ),
        ("no iat", signed(&claims(None, now + 3600))),
        (
            "issued in the future",
            signed(&claims(Some(now + 30 * day), now + 31 * day)),
        ),
    ] {
        let response = me(token).await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{what}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{what}: {body}");
    }
}

#[tokio::test]
async fn the_validation_token_echo_is_plain_text_that_browsers_do_not_sniff() {
    let app = TestApp::spawn().await;
    for route in ["/graph/notifications", "/graph/lifecycle"] {
        let response = app
            .client
            .post(app.url(&format!(
                "{route}?validationToken=%3Chtml%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{route}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{route}"
        );
        assert_eq!(
            header("content-type").as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            response.text().await.unwrap(),
            "<html><script>alert(1)</script>"
        );
    }
}
