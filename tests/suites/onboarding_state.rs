//! Onboarding security and the token broker: state checks, unproven tenants, single-flight
//! token fetches, configuration errors, certificate credentials.

use graphhook_emulator::config::DEFAULT_TENANT_ID;
use graphhook_tests::{
    TestApp,
    graph::{add_entra_tenant, consent},
};
use reqwest::Method;
use serde_json::{Value, json};

use graphhook_tests::{client::sent, onboarding::param};

const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";

/// `request` sent: a 400 whose page says `why`.
async fn refused_page(request: reqwest::RequestBuilder, why: &str) {
    let page = sent(request).await;
    assert_eq!(page.status().as_u16(), 400);
    let text = page.text().await.unwrap();
    assert!(text.contains(why), "{why}: {text}");
}

#[tokio::test]
async fn forged_expired_replayed_cookieless_and_wrong_leg_states_are_refused() {
    let app = TestApp::spawn().await;
    consent(&app, DEFAULT_TENANT_ID, None).await;
    let callback = |state: &str| {
        format!("/onboarding/callback?admin_consent=True&tenant={DEFAULT_TENANT_ID}&state={state}")
    };

    // Forged: the signature does not match.
    let (browser, _, consent) = app.sign_in_for_consent().await;
    let state = param(&consent, "state").unwrap();
    let (head, _) = state.rsplit_once('.').unwrap();
    let forged = format!("{head}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    refused_page(browser.get(app.url(&callback(&forged))), "not valid").await;

    // Without the browser's cookie.
    let stranger = reqwest::Client::new();
    refused_page(stranger.get(app.url(&callback(&state))), "another browser").await;

    // The sign-in leg's state where the consent leg's belongs.
    let (browser, _, sign_in) = app.start_onboarding().await;
    let sign_in_state = param(&sign_in, "state").unwrap();
    refused_page(browser.get(app.url(&callback(&sign_in_state))), "not valid").await;

    // Expired: the administrator took more than ten minutes.
    let (browser, _, consent) = app.sign_in_for_consent().await;
    app.clock.advance(chrono::Duration::minutes(11));
    let consent_state = param(&consent, "state").unwrap();
    refused_page(browser.get(app.url(&callback(&consent_state))), "expired").await;
    assert_eq!(app.tenant_count().await, 0);

    // Replayed: the same callback a second time, even with the cookie (which the first
    // callback told the browser to drop).
    let (plain, jar, consent) = app.sign_in_for_consent().await;
    let cookie = app.onboarding_cookie(&jar).unwrap();
    let state = param(&consent, "state").unwrap();
    let call_back = || {
        plain
            .get(app.url(&callback(&state)))
            .header("cookie", &cookie)
    };
    assert_eq!(sent(call_back()).await.status().as_u16(), 200);
    refused_page(call_back(), "already used").await;
    assert_eq!(app.tenant_count().await, 1);
}

#[tokio::test]
async fn a_signed_in_tenant_without_consent_is_not_onboarded() {
    let app = TestApp::spawn().await;
    // Fabrikam's administrator signs in, but Microsoft's consent never happened: Graphhook
    // asks the token endpoint and records nothing.
    add_entra_tenant(&app, FABRIKAM, "fabrikam.onmicrosoft.com", None).await;
    app.sign_in_as("admin@fabrikam.onmicrosoft.com").await;
    let (browser, _, consent) = app.sign_in_for_consent().await;
    let url = format!(
        "/onboarding/callback?admin_consent=True&tenant={FABRIKAM}&state={}",
        param(&consent, "state").unwrap()
    );
    let response = browser.get(app.url(&url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("could not confirm"), "{page}");
    assert_eq!(app.tenant_count().await, 0);
    assert!(app.audited("onboarding.unconfirmed").await);
}

#[tokio::test]
async fn a_hundred_concurrent_token_requests_make_one_call_to_the_token_endpoint() {
    let app = TestApp::spawn().await;
    consent(&app, DEFAULT_TENANT_ID, None).await;
    let broker = std::sync::Arc::new(
        graphhook_domain::graph::microsoft::TokenBroker::new(
            &app.settings.microsoft,
            app.clock.clone(),
        )
        .unwrap(),
    );
    let tenant: uuid::Uuid = DEFAULT_TENANT_ID.parse().unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move { broker.token(tenant).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().expect("a token"));
    }
    assert!(tokens.iter().all(|t| t.claims.tid == DEFAULT_TENANT_ID));
    let state = app.emulator_control(Method::GET, "/state", None).await;
    assert_eq!(
        state["tokenRequests"][DEFAULT_TENANT_ID], 1,
        "{}",
        state["tokenRequests"]
    );

    // Close to expiry, the next request fetches a new one.
    app.clock.advance(chrono::Duration::minutes(56));
    broker.token(tenant).await.unwrap();
    let state = app.emulator_control(Method::GET, "/state", None).await;
    assert_eq!(state["tokenRequests"][DEFAULT_TENANT_ID], 2);
}

#[tokio::test]
async fn a_configuration_error_is_shown_in_readiness_and_not_retried_in_a_loop() {
    let app = TestApp::spawn_with(|s| {
        s.microsoft.client_secret = Some(graphhook_domain::platform::secret::SecretString::from(
            "the-secret-id-not-its-value",
        ))
    })
    .await;
    consent(&app, DEFAULT_TENANT_ID, None).await;
    // The sign-in's code redemption is the first call with the app's credential.
    let done = app.onboard("Contoso").await;
    assert_eq!(done.status, 503, "{}", done.page);
    assert!(done.page.contains("misconfigured"), "{}", done.page);
    assert_eq!(app.tenant_count().await, 0);
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert!(
        ready["checks"]["microsoft"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000215"),
        "{ready}"
    );
    // A second attempt within the cool-down does not call the token endpoint again.
    app.onboard("Contoso").await;
    let requests = app.token_requests().await;
    assert_eq!(requests.get("organizations"), Some(&1), "{requests:?}");
    assert_eq!(requests.get(DEFAULT_TENANT_ID), None, "{requests:?}");
}

#[tokio::test]
async fn the_broker_can_authenticate_with_a_certificate_assertion() {
    const CERT: &str = include_str!("../../emulator/src/testdata/app_cert.pem");
    const KEY: &str = include_str!("../../emulator/src/testdata/app_key.pem");
    const OTHER_KEY: &str = include_str!("../../emulator/src/testdata/other_key.pem");
    let app = TestApp::spawn().await;
    consent(&app, DEFAULT_TENANT_ID, None).await;
    app.emulator_control(
        Method::POST,
        "/app/certificates",
        Some(json!({"certificate": CERT})),
    )
    .await;
    let tenant: uuid::Uuid = DEFAULT_TENANT_ID.parse().unwrap();

    let mut microsoft = app.settings.microsoft.clone();
    microsoft.client_secret = None;
    microsoft.client_certificate = Some(CERT.to_owned());
    microsoft.client_private_key =
        Some(graphhook_domain::platform::secret::SecretString::from(KEY));
    let broker =
        graphhook_domain::graph::microsoft::TokenBroker::new(&microsoft, app.clock.clone())
            .unwrap();
    let token = broker.token(tenant).await.expect("a token by certificate");
    assert!(token.claims.roles.iter().any(|r| r == "Mail.Read"));

    // The wrong private key for the registered certificate is a configuration error.
    microsoft.client_private_key = Some(graphhook_domain::platform::secret::SecretString::from(
        OTHER_KEY,
    ));
    let broker =
        graphhook_domain::graph::microsoft::TokenBroker::new(&microsoft, app.clock.clone())
            .unwrap();
    let error = broker.token(tenant).await.expect_err("refused");
    assert!(
        matches!(
            error,
            graphhook_domain::graph::microsoft::TokenError::Configuration { code: 700027, .. }
        ),
        "{error:?}"
    );
    assert!(
        broker
            .configuration_problem()
            .unwrap()
            .contains("AADSTS700027")
    );
}
