//! Who may onboard an organization: only a person who signed in (OpenID Connect with PKCE and a
//! nonce) as an active Global Administrator or Privileged Role Administrator, and only for the
//! tenant that sign-in proved. A redirect's `tenant`, a swapped code or a replayed id_token
//! prove nothing.

use graphhook_domain::platform::entities::audit_log::{self, ActorKind};
use graphhook_emulator::config::DEFAULT_TENANT_ID;
use graphhook_tests::graph::register_app;
use graphhook_tests::graph::{add_entra_tenant, add_user, behave};
use graphhook_tests::onboarding::onboarded_then_consent_shrunk;
use graphhook_tests::{
    CONTOSO_ADMIN, TestApp,
    onboarding::{location, param},
};
use reqwest::Method;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;

const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";
const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";

/// Fabrikam exists and has consented to the app, but has never onboarded: the victim.
async fn consented_victim(app: &TestApp) {
    add_entra_tenant(app, FABRIKAM, "fabrikam.onmicrosoft.com", Some("Fabrikam")).await;
    app.emulator_control(Method::POST, &format!("/tenants/{FABRIKAM}/consent"), None)
        .await;
}

#[tokio::test]
async fn a_browser_that_never_signed_in_gets_no_key_for_a_consented_tenant() {
    let app = TestApp::spawn().await;
    consented_victim(&app).await;
    // The attacker starts, keeps the cookie and the state, never visits Microsoft.
    let (attacker, _, sign_in) = app.start_onboarding().await;
    let state = param(&sign_in, "state").unwrap();
    let forged = format!("/onboarding/callback?admin_consent=True&tenant={FABRIKAM}&state={state}");
    let response = attacker.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(!page.contains("ghk_"), "{page}");
    // Nor does a made-up code at the sign-in's return.
    let forged = format!("/onboarding/signed-in?code=made-up&state={state}");
    let response = attacker.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(!response.text().await.unwrap().contains("ghk_"));

    assert_eq!(app.tenant_count().await, 0);
    assert!(
        !app.token_requests().await.contains_key(FABRIKAM),
        "Entra was never asked about the victim"
    );
}

#[tokio::test]
async fn an_administrator_of_one_tenant_cannot_swap_in_another_consented_tenant() {
    let app = TestApp::spawn().await;
    consented_victim(&app).await;
    // Contoso's administrator (the attacker) signs in for real and goes through consent at the
    // emulator, then swaps the tenant of Microsoft's redirect for the victim's.
    let (attacker, _, consent) = app.sign_in_for_consent().await;
    let response = attacker.get(consent).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 302, "the emulator consents");
    let mut back = location(&response);
    assert_eq!(param(&back, "tenant").unwrap(), DEFAULT_TENANT_ID);
    let pairs: Vec<(String, String)> = back
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "tenant" {
                FABRIKAM.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    back.query_pairs_mut().clear().extend_pairs(pairs);
    let requests_before = app.token_requests().await;
    let response = attacker.get(back).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let page = response.text().await.unwrap();
    assert!(page.contains("another organization"), "{page}");
    assert!(!page.contains("ghk_"));

    assert_eq!(app.tenant_count().await, 0);
    assert_eq!(
        app.token_requests().await,
        requests_before,
        "refused before any token request"
    );
    assert!(!app.token_requests().await.contains_key(FABRIKAM));
    assert!(app.audited("onboarding.tenant_mismatch").await);
}

#[tokio::test]
async fn a_non_administrator_cannot_onboard_and_an_administrator_can() {
    let app = TestApp::spawn().await;
    for user in [
        "user@contoso.onmicrosoft.com",
        "appadmin@contoso.onmicrosoft.com",
    ] {
        app.sign_in_as(user).await;
        let done = app.onboard("Contoso").await;
        assert_eq!(done.status, 403, "{user}: {}", done.page);
        assert!(
            done.page.contains("An administrator needs to connect")
                && done.page.contains("Privileged Identity Management")
                && done.page.contains(user),
            "{}",
            done.page
        );
        assert!(done.key.is_none());
    }
    assert_eq!(app.tenant_count().await, 0);
    assert!(
        !app.token_requests().await.contains_key(DEFAULT_TENANT_ID),
        "no consent was proven for a non-administrator"
    );

    app.sign_in_as(CONTOSO_ADMIN).await;
    let done = app.onboard("Contoso").await;
    assert_eq!(done.status, 200, "{}", done.page);
    assert!(done.key.is_some());
    assert_eq!(app.tenant_count().await, 1);
}

#[tokio::test]
async fn a_privileged_role_administrator_can_onboard() {
    let app = TestApp::spawn().await;
    let pra = json!({
        "user_principal_name": "pra@contoso.onmicrosoft.com",
        "display_name": "Pat Roles",
        "roles": [PRIVILEGED_ROLE_ADMINISTRATOR],
    });
    add_user(&app, DEFAULT_TENANT_ID, pra).await;
    app.sign_in_as("pra@contoso.onmicrosoft.com").await;
    let done = app.onboard("Contoso").await;
    assert_eq!(done.status, 200, "{}", done.page);
    assert!(done.key.is_some());
}

#[tokio::test]
async fn an_existing_tenant_is_regranted_by_an_administrator_without_a_key_and_never_by_others() {
    // Consent shrinks in Entra and the tenant's key records it.
    let (app, key, _) = onboarded_then_consent_shrunk().await;
    let audit_before = app.audit_actions().await;

    for user in [
        "user@contoso.onmicrosoft.com",
        "appadmin@contoso.onmicrosoft.com",
    ] {
        app.sign_in_as(user).await;
        let done = app.onboard("Contoso").await;
        assert_eq!(done.status, 403, "{user}");
        assert!(!done.page.contains("grant-again"));
    }
    assert_eq!(app.audit_actions().await, audit_before, "nothing changed");
    let tenant = app.as_tenant(&key).get_body("/api/v1/tenant").await;
    assert_eq!(tenant["consent"]["granted_roles"], json!(["User.Read.All"]));

    app.sign_in_as(CONTOSO_ADMIN).await;
    let again = app.grant_consent_again().await;
    assert!(again.page.contains("are updated"), "{}", again.page);
    assert!(again.key.is_none(), "no key is shown again");
    let tenant = app.as_tenant(&key).get_body("/api/v1/tenant").await;
    assert_eq!(tenant["missing_roles"], json!([]));
    assert_eq!(app.tenant_count().await, 1);
    let last = audit_entries(&app).await.pop().unwrap();
    assert_eq!(last.action, "tenant.consent_updated");
    assert_eq!(last.actor_kind, ActorKind::Administrator);
    assert_eq!(last.details["actor_name"], CONTOSO_ADMIN);
}

#[tokio::test]
async fn without_directory_roles_in_id_tokens_the_page_says_what_to_configure() {
    let app = TestApp::spawn().await;
    register_app(&app, json!({"group_membership_claims": "None"})).await;
    let done = app.onboard("Contoso").await;
    assert_eq!(done.status, 503, "{}", done.page);
    assert!(
        done.page.contains("groupMembershipClaims") && done.page.contains("DirectoryRole"),
        "{}",
        done.page
    );
    assert!(done.key.is_none());
    assert_eq!(app.tenant_count().await, 0);
}

/// The sign-in URL Graphhook made, with one parameter replaced, as an attacker who controls the
/// browser could send it to Entra.
fn with_param(url: &url::Url, name: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// Runs a changed sign-in at the emulator and brings its code back to Graphhook.
async fn sign_in_changed(app: &TestApp, name: &str, value: &str) -> (u16, String) {
    let (browser, _, sign_in) = app.start_onboarding().await;
    let response = browser
        .get(with_param(&sign_in, name, value))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302, "the emulator signs in");
    let response = browser.get(location(&response)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn an_id_token_issued_for_another_nonce_is_refused() {
    let app = TestApp::spawn().await;
    let (status, page) = sign_in_changed(&app, "nonce", "the-attackers-nonce").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("could not be verified"), "{page}");
    assert_eq!(app.tenant_count().await, 0);
}

#[tokio::test]
async fn a_code_bound_to_another_pkce_challenge_is_refused() {
    let app = TestApp::spawn().await;
    // The attacker's own challenge: the code Entra issues answers only to their verifier.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let (status, page) = sign_in_changed(&app, "code_challenge", challenge).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("AADSTS501481"), "{page}");
    assert_eq!(app.tenant_count().await, 0);
}

#[tokio::test]
async fn onboarding_starts_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(|s| s.onboarding.max_starts_per_minute_per_address = 3).await;
    for _ in 0..3 {
        app.start_onboarding().await;
    }
    let response = app.submit_start(&app.client, "Contoso").await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Too many onboardings")
    );
    assert_eq!(app.tenant_count().await, 0);
}

async fn audit_entries(app: &TestApp) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_audit_entry_of_onboarding_names_the_signed_in_person() {
    let app = TestApp::spawn().await;
    // A declined consent, a swapped tenant, and a successful onboarding.
    behave(&app, json!({"consent_mode": "auto_decline"})).await;
    app.onboard("Contoso").await;
    behave(&app, json!({"consent_mode": "auto_accept"})).await;
    let (browser, _, consent) = app.sign_in_for_consent().await;
    let swapped = format!(
        "/onboarding/callback?admin_consent=True&tenant={FABRIKAM}&state={}",
        param(&consent, "state").unwrap()
    );
    browser.get(app.url(&swapped)).send().await.unwrap();
    app.onboard("Contoso").await;

    let state = app.emulator_control(Method::GET, "/tenants", None).await;
    let admin_oid = state
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["users"].as_array().unwrap().iter())
        .find(|u| u["userPrincipalName"] == CONTOSO_ADMIN)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .unwrap();
    let entries = audit_entries(&app).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "onboarding.consent_failed",
        "onboarding.tenant_mismatch",
        "tenant.created",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    for entry in &entries {
        assert_eq!(
            entry.actor_kind,
            ActorKind::Administrator,
            "{}",
            entry.action
        );
        assert_eq!(entry.actor_id.as_deref(), Some(admin_oid.as_str()));
        assert_eq!(
            entry.details["actor_name"], CONTOSO_ADMIN,
            "{}",
            entry.action
        );
    }
}
