//! Endpoint security: SSRF at registration and at connect, redirects, tenant isolation, secrets.

use graphhook_tests::fixtures::{onboarded_contoso, unverified_because};
use std::{net::IpAddr, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use futures::future::BoxFuture;
use graphhook_domain::delivery::webhooks::sender::Lookup;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{client::create_endpoint, errors::assert_rule};
use reqwest::Method;
use serde_json::{Value, json};

/// URLs that must be refused at registration, in production mode.
const REFUSED: &[&str] = &[
    "https://10.0.0.1/hook",
    "https://10.255.255.255/",
    "https://172.16.0.1/",
    "https://172.31.0.9/",
    "https://192.168.0.10/",
    "https://127.0.0.1/",
    "https://127.8.9.10/",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.0.1/",
    "https://100.64.0.1/",
    "https://100.100.100.200/",
    "https://224.0.0.251/",
    "https://239.1.2.3/",
    "https://0.0.0.0/",
    "https://0.1.2.3/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.2.10/",
    "https://198.18.0.1/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f.0.0.1/",
    "https://017700000001/",
    "https://3232235777/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fc00::1]/",
    "https://[fd00:ec2::254]/",
    "https://[fe80::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:7f00:1::]/",
    "https://[ff02::1]/",
    "https://[2001:db8::1]/",
    "https://localhost/",
    "https://localhost:8443/hook",
    "http://93.184.216.34/",
];

fn production(s: &mut graphhook_domain::Settings) {
    use graphhook_domain::{Mode as RunMode, platform::secret::SecretString};
    s.mode = RunMode::Production;
    s.onboarding.state_key = Some(SecretString::from(
        "a-production-state-key-0123456789abcdef",
    ));
    s.webhooks.encryption_key = Some(SecretString::from(
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ));
}

#[tokio::test]
async fn registration_refuses_non_public_addresses_and_names_the_rule() {
    let app = TestApp::spawn_with(production).await;
    let key = app.create_contoso().await;
    assert!(REFUSED.len() >= 30);
    for url in REFUSED {
        let (status, body) = create_endpoint(&app, &key, json!({"url": url})).await;
        assert_eq!(status, 422, "{url} must be refused: {body}");
        assert_eq!(body["code"], "validation_failed", "{url}");
        assert_eq!(body["details"]["field"], "url");
        assert!(
            body["details"]["rule"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{url}: {body}"
        );
    }
    let (_, body) = create_endpoint(&app, &key, json!({"url": "https://169.254.169.254/"})).await;
    assert!(
        body["details"]["rule"]
            .as_str()
            .unwrap()
            .contains("cloud metadata"),
        "{body}"
    );
    let (_, body) = create_endpoint(&app, &key, json!({"url": "https://localhost/"})).await;
    assert_rule(&body, "validation_failed", "url", "a non-public address");
    // Under test: nothing in the body says which address the name resolves to.
    let text = body.to_string();
    for address in ["127.0.0.1", "::1", "loopback"] {
        assert!(
            !text.contains(address),
            "which address a name resolves to is not said: {body}"
        );
    }
    let (_, body) = create_endpoint(&app, &key, json!({"url": "http://93.184.216.34/"})).await;
    assert_rule(&body, "validation_failed", "url", "https is required");
    assert_eq!(app.tenant_count().await, 1);
    let (_, list) = app.as_tenant(&key).get("/api/v1/endpoints").await;
    assert!(
        list["data"].as_array().unwrap().is_empty(),
        "nothing was registered"
    );
}

/// Answers `rebind.test` with a public address first and a private one afterwards.
struct Rebinding(std::sync::Mutex<Vec<IpAddr>>);

impl Lookup for Rebinding {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let answer = if host == "rebind.test" {
            let mut answers = self.0.lock().unwrap();
            Ok(vec![if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0]
            }])
        } else {
            Err(std::io::Error::other("unknown host"))
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_at_send_time_is_refused_at_connect() {
    let lookup = Arc::new(Rebinding(std::sync::Mutex::new(vec![
        "93.184.216.34".parse().unwrap(),
        "169.254.169.254".parse().unwrap(),
    ])));
    let app = TestApp::builder().lookup(lookup).spawn().await;
    let key = app.onboard("Contoso").await.key.unwrap();
    let (status, endpoint) =
        create_endpoint(&app, &key, json!({"url": "http://rebind.test/hook"})).await;
    assert_eq!(status, 201, "public when registered: {endpoint}");
    // Refused at connect.
    let error = unverified_because(&endpoint, "rebind.test resolves to a non-public address");
    assert!(
        !error.contains("169.254") && !error.contains("link-local"),
        "which address is not said: {error}"
    );
}

/// Answers `internal.test` with an address inside the operator's network.
struct Internal;

impl Lookup for Internal {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let answer = if host == "internal.test" {
            Ok(vec![IpAddr::from([10, 0, 0, 5])])
        } else {
            Err(std::io::Error::other("unknown host"))
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn a_refused_name_is_not_told_which_address_it_resolves_to() {
    let app = TestApp::builder()
        .settings(production)
        .lookup(Arc::new(Internal))
        .spawn()
        .await;
    let key = app.create_contoso().await;
    let (status, body) =
        create_endpoint(&app, &key, json!({"url": "https://internal.test/hook"})).await;
    assert_eq!(status, 422, "{body}");
    assert_rule(&body, "validation_failed", "url", "a non-public address");
    // Under test: neither the message nor anything else in the body names the address.
    let text = body.to_string();
    for hint in ["10.0.0.5", "10.0.0.0", "private"] {
        assert!(!text.contains(hint), "{hint} in {text}");
    }
    // An address the tenant typed itself is named, with its rule.
    let (status, body) = create_endpoint(&app, &key, json!({"url": "https://10.0.0.5/hook"})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["details"]["rule"]
            .as_str()
            .unwrap()
            .contains("10.0.0.0/8"),
        "{body}"
    );
}

#[tokio::test]
async fn a_redirect_from_a_receiver_is_not_followed() {
    let (app, key) = onboarded_contoso().await;
    let target = Receiver::start(Mode::Echo);
    let redirecting = Receiver::start(Mode::Redirect(target.url.clone()));
    let (_, endpoint) = create_endpoint(&app, &key, json!({"url": redirecting.url})).await;
    unverified_because(&endpoint, "302");
    assert_eq!(redirecting.received().len(), 1);
    assert!(
        target.received().is_empty(),
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn another_tenants_key_gets_404_on_every_endpoint_route() {
    let app = TestApp::spawn().await;
    let contoso = app.onboard("Contoso").await.key.unwrap();
    let fabrikam_id = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";
    let fabrikam = app
        .onboard_tenant(fabrikam_id, "fabrikam.onmicrosoft.com", "Fabrikam")
        .await
        .key
        .unwrap();
    let receiver = Receiver::start(Mode::Echo);
    let (_, endpoint) = create_endpoint(
        &app,
        &contoso,
        json!({"url": receiver.url, "ed25519": true}),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap();
    let requests = receiver.received().len();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/endpoints/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/endpoints/{id}"),
            Some(json!({"description": "mine now"})),
        ),
        (Method::DELETE, format!("/api/v1/endpoints/{id}"), None),
        (Method::POST, format!("/api/v1/endpoints/{id}/verify"), None),
        (Method::POST, format!("/api/v1/endpoints/{id}/test"), None),
        (Method::GET, format!("/api/v1/endpoints/{id}/secret"), None),
        (
            Method::POST,
            format!("/api/v1/endpoints/{id}/secret/rotate"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/v1/endpoints/{id}/public-key"),
            None,
        ),
    ] {
        let response = app
            .as_tenant(&fabrikam)
            .send(method.clone(), &path, body)
            .await;
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "not_found");
    }
    let (_, list) = app.as_tenant(&fabrikam).get("/api/v1/endpoints").await;
    assert!(list["data"].as_array().unwrap().is_empty());
    assert_eq!(
        receiver.received().len(),
        requests,
        "nothing was sent on the other tenant's behalf"
    );
    let (status, mine) = app
        .as_tenant(&contoso)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!((status, mine["description"].as_str()), (200, Some("")));
}

#[tokio::test]
async fn secrets_never_appear_in_responses_after_creation_nor_in_logs() {
    let logs = graphhook_tests::capture_logs();
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (_, endpoint) =
        create_endpoint(&app, &key, json!({"url": receiver.url, "ed25519": true})).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let first = endpoint["secret"].as_str().unwrap().to_owned();
    let contoso = app.as_tenant(&key);
    let second = contoso.rotate_secret(&id, 0).await;
    contoso.test_endpoint(&id).await;

    for path in [
        format!("/api/v1/endpoints/{id}"),
        "/api/v1/endpoints".to_owned(),
    ] {
        let text = contoso.get(&path).await.1.to_string();
        assert!(
            !text.contains("whsec_") && !text.contains(&first[6..]) && !text.contains(&second[6..]),
            "{path}: {text}"
        );
    }
    let (_, patched) = contoso
        .patch_endpoint(&id, json!({"description": "x"}))
        .await;
    let patched = patched.to_string();
    assert!(!patched.contains("whsec_"));

    // The database holds them encrypted only.
    use sea_orm::EntityTrait;
    let rows = graphhook_domain::platform::entities::endpoint_secret::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let first_bytes = STANDARD.decode(&first[6..]).unwrap();
    assert!(rows.iter().all(|r| {
        !r.secret
            .windows(first_bytes.len())
            .any(|w| w == first_bytes.as_slice())
    }));

    let captured = logs.text();
    assert!(
        captured.contains("served"),
        "the capture works: {} bytes",
        captured.len()
    );
    for secret in [&first, &second, &key] {
        assert!(!captured.contains(secret.as_str()), "a secret was logged");
    }
}
