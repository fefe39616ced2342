//! Onboarding against the emulator, over HTTP, with a cookie jar: sign-in, then admin consent.

use graphhook_domain::platform::entities::tenant::TenantStatus;
use graphhook_emulator::config::DEFAULT_TENANT_ID;
use graphhook_tests::errors::Refusal;
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::graph::behave;
use graphhook_tests::onboarding::onboarded_then_consent_shrunk;
use graphhook_tests::{TestApp, graph::consent, onboarding::param};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_onboarding_page_lists_each_permission_in_plain_words() {
    let app = TestApp::spawn().await;
    let response = app.get("/onboarding").await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    for role in graphhook_domain::graph::microsoft::roles::PRODUCT_ROLES {
        let description = role.description.replace('\'', "&#39;");
        assert!(
            page.contains(role.name) && page.contains(&description),
            "{} is explained",
            role.name
        );
    }
    assert!(
        page.contains("read and write"),
        "the write permission is marked"
    );
    assert!(page.contains("<label for=\"company_name\">Company name</label>"));
    assert!(page.contains(">Connect Microsoft 365</button>"));
}

#[tokio::test]
async fn the_full_consent_flow_makes_an_active_tenant_whose_key_works() {
    let app = TestApp::spawn().await;
    let done = app.onboard("Contoso Ltd").await;
    assert_eq!(done.status, 200, "{}", done.page);
    assert!(
        done.page.contains("Microsoft 365 connected"),
        "{}",
        done.page
    );
    let key = done.key.expect("the first API key is shown");
    assert!(key.starts_with("ghk_"));
    // A button copies it (a script file: the page's policy refuses inline code); the page leads
    // on to the portal.
    assert!(done.page.contains("id=\"copy-key\""), "{}", done.page);
    assert!(
        done.page
            .contains("<script src=\"/static/onboarding-key.js\"></script>")
    );
    assert!(done.page.contains("href=\"/portal\""));
    let script = app.get("/static/onboarding-key.js").await;
    assert_eq!(script.status().as_u16(), 200);
    assert!(script.text().await.unwrap().contains("navigator.clipboard"));

    let tenants = app.tenants().await;
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].status, TenantStatus::Active);
    assert_eq!(tenants[0].entra_tenant_id.to_string(), DEFAULT_TENANT_ID);
    assert_eq!(tenants[0].name, "Contoso Ltd");

    let (status, tenant) = app.as_tenant(&key).get("/api/v1/tenant").await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["entra_tenant_id"], DEFAULT_TENANT_ID);
    assert!(
        tenant["consent"]["granted_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Mail.Read")
    );
    assert_eq!(tenant["missing_roles"], json!([]));
    assert!(app.audited("tenant.created").await);
    // The key is stored hashed: its text is nowhere in the database.
    let keys = graphhook_domain::tenancy::api_keys::list(&app.db, tenants[0].id.into())
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.secret_hash.len() == 32 && key.starts_with(&k.prefix))
    );
}

#[tokio::test]
async fn missing_permissions_are_warned_about() {
    let app = TestApp::spawn().await;
    // The administrator consented, but Entra shows only some roles (set in the emulator).
    consent(
        &app,
        DEFAULT_TENANT_ID,
        Some(json!({"roles": ["User.Read.All"]})),
    )
    .await;
    // Signed in; Microsoft's redirect back from consent, with the state Graphhook sent.
    let (browser, _, consent) = app.sign_in_for_consent().await;
    let state = param(&consent, "state").unwrap();
    let callback =
        format!("/onboarding/callback?admin_consent=True&tenant={DEFAULT_TENANT_ID}&state={state}");
    let page = browser
        .get(app.url(&callback))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Some permissions Graphhook needs were not granted"),
        "{page}"
    );
    assert!(page.contains("<code>Mail.Read</code>"));
    assert!(!page.contains("<code>User.Read.All</code>"));
}

#[tokio::test]
async fn the_emulators_interactive_consent_page_is_reached_through_the_redirect() {
    let app = TestApp::spawn().await;
    behave(&app, json!({"consent_mode": "interactive"})).await;
    let browser = app.browser();
    let response = app.submit_start(&browser, "Contoso").await;
    assert!(response.url().as_str().starts_with(&app.emulator.base_url));
    assert!(
        response
            .url()
            .path()
            .ends_with(&format!("/{DEFAULT_TENANT_ID}/v2.0/adminconsent")),
        "consent for the signed-in tenant: {}",
        response.url()
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Permissions requested") && page.contains("Contoso"),
        "{page}"
    );
}

#[tokio::test]
async fn the_emulators_sign_in_page_is_reached_through_the_redirect() {
    let app = TestApp::spawn().await;
    behave(&app, json!({"auto_sign_in_user": null})).await;
    let response = app.submit_start(&app.browser(), "Contoso").await;
    assert_eq!(
        response.url().path(),
        "/organizations/oauth2/v2.0/authorize"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("admin@contoso.onmicrosoft.com")
            && page.contains("user@contoso.onmicrosoft.com"),
        "{page}"
    );
}

#[tokio::test]
async fn start_sends_the_administrator_to_sign_in_with_pkce_and_a_nonce_then_to_consent_for_their_tenant()
 {
    let app = TestApp::spawn().await;
    let (_, jar, sign_in) = app.start_onboarding().await;
    let cookie = app.onboarding_cookie(&jar).expect("the binding cookie");
    assert!(cookie.starts_with("gh_onboarding="), "{cookie}");
    assert!(sign_in.as_str().starts_with(&app.emulator.base_url));
    assert_eq!(sign_in.path(), "/organizations/oauth2/v2.0/authorize");
    let params: std::collections::HashMap<String, String> =
        sign_in.query_pairs().into_owned().collect();
    assert_eq!(
        params["client_id"],
        graphhook_emulator::config::DEFAULT_CLIENT_ID
    );
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["redirect_uri"], app.url("/onboarding/signed-in"));
    assert_eq!(params["scope"], "openid profile email");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(params["nonce"].len() >= 32);
    assert_eq!(params["state"].split('.').count(), 3, "a JWT");

    let (_, _, consent) = app.sign_in_for_consent().await;
    assert_eq!(
        consent.path(),
        format!("/{DEFAULT_TENANT_ID}/v2.0/adminconsent"),
        "consent is asked of the signed-in tenant, never `organizations`"
    );
    assert_eq!(
        param(&consent, "redirect_uri").unwrap(),
        app.url("/onboarding/callback")
    );
    assert_eq!(
        param(&consent, "scope").unwrap(),
        "https://graph.microsoft.com/.default"
    );
    assert_eq!(param(&consent, "state").unwrap().split('.').count(), 3);
    assert_eq!(
        app.tenant_count().await,
        0,
        "nothing is created before consent"
    );
}

#[tokio::test]
async fn start_writes_nothing_to_redis_or_postgres_before_the_sign_in_returns() {
    let app = TestApp::spawn().await;
    let audit_before = app.audit_actions().await.len();
    for _ in 0..5 {
        app.start_onboarding().await;
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:onboarding:*", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(keys, Vec::<String>::new());
    assert_eq!(app.audit_actions().await.len(), audit_before);
    assert_eq!(app.tenant_count().await, 0);
}

#[tokio::test]
async fn with_propagation_delay_the_tenant_is_pending_until_onboarding_completes() {
    let app = TestApp::spawn().await;
    behave(&app, json!({"consent_propagation_secs": 120})).await;
    let done = app.onboard("Contoso").await;
    assert!(done.page.contains("Setup is finishing"), "{}", done.page);
    let key = done.key.expect("the key is shown at once");
    assert_eq!(app.tenants().await[0].status, TenantStatus::Pending);
    let (status, body) = app.as_tenant(&key).get("/api/v1/tenant").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    assert_eq!(body["details"]["tenant_status"], "pending");

    // Entra catches up; the background check finishes the onboarding.
    app.clock.advance(chrono::Duration::seconds(121));
    assert!(app.drain_jobs().await >= 1);
    assert_eq!(app.tenants().await[0].status, TenantStatus::Active);
    let tenant = app.as_tenant(&key).get_body("/api/v1/tenant").await;
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["missing_roles"], json!([]));
}

#[tokio::test]
async fn when_roles_never_arrive_the_background_check_gives_up_and_says_so() {
    let app = TestApp::spawn().await;
    behave(&app, json!({"consent_propagation_secs": 100000})).await;
    app.onboard("Contoso").await;
    app.drain_jobs().await;
    assert_eq!(app.tenants().await[0].status, TenantStatus::Pending);
    assert!(app.audited("onboarding.verification_gave_up").await);
}

#[tokio::test]
async fn a_declined_consent_shows_its_page_and_creates_no_tenant() {
    let app = TestApp::spawn().await;
    behave(&app, json!({"consent_mode": "auto_decline"})).await;
    let done = app.onboard("Contoso").await;
    assert_eq!(done.status, 200);
    assert!(done.page.contains("Consent was declined"), "{}", done.page);
    assert!(done.page.contains("AADSTS65004"));
    assert!(done.key.is_none());
    assert_eq!(app.tenant_count().await, 0);
    assert!(app.audited("onboarding.consent_failed").await);
}

#[tokio::test]
async fn consent_required_and_other_errors_show_their_pages_escaped() {
    let app = TestApp::spawn().await;
    let (browser, _, consent) = app.sign_in_for_consent().await;
    let state = param(&consent, "state").unwrap();
    let mut url = url::Url::parse(&app.url("/onboarding/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("error", "consent_required")
        .append_pair(
            "error_description",
            "AADSTS65001: The user or administrator has not consented.\r\nTrace ID: x",
        )
        .append_pair("state", &state);
    let page = browser.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("An administrator needs to consent"), "{page}");
    assert!(page.contains("AADSTS65001"));

    let (browser, _, consent) = app.sign_in_for_consent().await;
    let mut url = url::Url::parse(&app.url("/onboarding/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("error", "server_error")
        .append_pair(
            "error_description",
            "AADSTS50000: <script>alert(1)</script>",
        )
        .append_pair("state", &param(&consent, "state").unwrap());
    let page = browser.get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("AADSTS50000"), "{page}");
    assert!(
        page.contains("&lt;script&gt;") && !page.contains("<script>alert"),
        "escaped: {page}"
    );
    assert_eq!(app.tenant_count().await, 0);
}

#[tokio::test]
async fn re_consent_keeps_one_tenant_and_updates_its_roles() {
    // Permissions shrink in Entra; checking again records it.
    let (app, key, (_, verified)) = onboarded_then_consent_shrunk().await;
    assert_eq!(
        verified["consent"]["granted_roles"],
        json!(["User.Read.All"])
    );
    assert!(
        verified["missing_roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Mail.Read")
    );

    // The administrator signs in again, is told the tenant is connected, and consents again:
    // still one tenant, all roles, no second first key.
    let again = app.grant_consent_again().await;
    assert!(again.page.contains("are updated"), "{}", again.page);
    assert!(again.key.is_none());
    let tenants = app.tenants().await;
    assert_eq!(tenants.len(), 1);
    assert_eq!(
        tenants[0].name, "Contoso",
        "the name is the tenant's, not the form's second time"
    );
    let tenant = app.as_tenant(&key).get_body("/api/v1/tenant").await;
    assert_eq!(tenant["missing_roles"], json!([]));
}

#[tokio::test]
async fn revoking_consent_moves_the_tenant_to_consent_revoked_at_its_next_token_fetch() {
    let (app, key) = onboarded_contoso().await;
    app.emulator_control(
        Method::DELETE,
        &format!("/tenants/{DEFAULT_TENANT_ID}/consent"),
        None,
    )
    .await;
    assert_eq!(
        app.tenants().await[0].status,
        TenantStatus::Active,
        "nothing happens until a token is needed"
    );

    let answer = app.as_tenant(&key).post("/api/v1/tenant/verify").await;
    let body = Refusal::conflict("token_refused").of(answer);
    assert_eq!(body["details"]["aadsts"], "700016", "{body}");
    let tenant = &app.tenants().await[0];
    assert_eq!(tenant.status, TenantStatus::ConsentRevoked);
    assert!(app.audited("tenant.consent_revoked").await);
    // The tenant can still read its state; it cannot change anything.
    let (status, body) = app.as_tenant(&key).get("/api/v1/tenant").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "consent_revoked", "{body}");
    let (status, body) = app
        .as_tenant(&key)
        .call(Method::POST, "/api/v1/tenant/verify", None)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["details"]["tenant_status"], "consent_revoked",
        "{body}"
    );

    // Consenting again restores it.
    app.grant_consent_again().await;
    assert_eq!(app.tenants().await[0].status, TenantStatus::Active);
    assert!(app.audited("tenant.consent_restored").await);
}
