//! Admin consent (§8.1).

use super::{
    harness::*,
    oidc_client::{get, location, param},
};
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

fn params(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

const CALLBACK: &str = "http://127.0.0.1:8080/onboarding/callback";

fn consent_url(emu: &Emu, tenant: &str, v2: bool, redirect: &str) -> String {
    let path = if v2 {
        format!("/{tenant}/v2.0/adminconsent")
    } else {
        format!("/{tenant}/adminconsent")
    };
    let mut url = url::Url::parse(&emu.url(&path)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", DEFAULT_CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "opaque-state-123");
    if v2 {
        url.query_pairs_mut()
            .append_pair("scope", "https://graph.microsoft.com/.default");
    }
    url.to_string()
}

/// The interactive page's decision for Fabrikam, posted as its form does (`state` is `st`).
async fn decide(emu: &Emu, decision: &str) -> reqwest::Response {
    emu.client
        .post(emu.url("/_emulator/consent/decide"))
        .form(&[
            ("tenant", NEW_TENANT),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("state", "st"),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

/// The answer to a consent request with the emulator's `consent_mode` set first.
async fn consent_in_mode(
    emu: &Emu,
    mode: &str,
    tenant: &str,
    v2: bool,
    redirect: &str,
) -> reqwest::Response {
    emu.behaviour(serde_json::json!({"consent_mode": mode}))
        .await;
    get(emu, &consent_url(emu, tenant, v2, redirect)).await
}

/// Where consent redirects under `auto_decline`, once its parameters are checked to be Entra's,
/// in Entra's order.
async fn auto_declined(emu: &Emu, v2: bool) -> url::Url {
    let response = consent_in_mode(emu, "auto_decline", DEFAULT_TENANT_ID, v2, CALLBACK).await;
    let url = location(&response);
    let names: Vec<String> = params(&url).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        [
            "error",
            "error_description",
            "error_uri",
            "admin_consent",
            "state"
        ]
    );
    url
}

#[actix_web::test]
async fn auto_accept_redirects_with_capital_t_true_the_tenant_and_state() {
    let emu = Emu::spawn().await;
    let response = consent_in_mode(&emu, "auto_accept", NEW_TENANT, false, CALLBACK).await;
    let url = location(&response);
    assert!(url.as_str().starts_with(CALLBACK));
    assert_eq!(param(&url, "admin_consent").as_deref(), Some("True"));
    assert_eq!(param(&url, "tenant").as_deref(), Some(NEW_TENANT));
    assert_eq!(param(&url, "state").as_deref(), Some("opaque-state-123"));
    assert_eq!(param(&url, "scope"), None, "v1 has no scope");

    // The tenant can now get a token with the app's roles.
    let token = emu.token_for(NEW_TENANT).await;
    let claims = claims_of(&token);
    assert!(has_role(&claims, "User.Read.All"));

    // `organizations` names no tenant: auto-accept uses the configured one.
    emu.behaviour(serde_json::json!({"auto_accept_tenant": DEFAULT_TENANT_ID}))
        .await;
    let response = get(&emu, &consent_url(&emu, "organizations", true, CALLBACK)).await;
    let url = location(&response);
    assert_eq!(param(&url, "tenant").as_deref(), Some(DEFAULT_TENANT_ID));
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("https://graph.microsoft.com/.default")
    );
}

#[actix_web::test]
async fn a_declined_consent_redirects_with_an_aadsts_error_and_no_tenant() {
    let emu = Emu::spawn().await;
    let url = auto_declined(&emu, true).await;
    assert_eq!(param(&url, "error").as_deref(), Some("access_denied"));
    let description = param(&url, "error_description").unwrap();
    assert!(
        description
            .starts_with("AADSTS65004: User declined to consent to access the app.\r\nTrace ID: "),
        "{description}"
    );
    assert!(
        url.query()
            .unwrap()
            .contains("AADSTS65004%3A+User+declined"),
        "form-encoded: {}",
        url.query().unwrap()
    );
    assert_eq!(param(&url, "admin_consent").as_deref(), Some("True"));
}

#[actix_web::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect() {
    let emu = Emu::spawn().await;
    let response = consent_in_mode(
        &emu,
        "auto_accept",
        DEFAULT_TENANT_ID,
        false,
        "https://attacker.example/steal",
    )
    .await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("AADSTS50011"), "{page}");

    // Extra path segments under a registered URI are allowed (§8.1).
    let response = get(
        &emu,
        &consent_url(&emu, DEFAULT_TENANT_ID, false, &format!("{CALLBACK}/extra")),
    )
    .await;
    assert_eq!(response.status().as_u16(), 302);
}

#[actix_web::test]
async fn v2_consent_without_scope_is_an_error_redirect() {
    let emu = Emu::spawn().await;
    let url = emu.url(&format!(
        "/organizations/v2.0/adminconsent?client_id={DEFAULT_CLIENT_ID}&redirect_uri={}&state=s1",
        url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    ));
    let response = get(&emu, &url).await;
    let location = location(&response);
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(param(&location, "tenant"), None);
}

#[actix_web::test]
async fn the_interactive_page_offers_tenants_and_its_accept_and_cancel_redirect() {
    let emu = Emu::spawn().await;
    let response = get(&emu, &consent_url(&emu, "organizations", false, CALLBACK)).await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Contoso") && page.contains("Fabrikam"));
    assert!(page.contains("value=\"accept\"") && page.contains("value=\"cancel\""));
    assert!(page.contains("<label for="), "radio buttons have labels");

    let accepted = location(&decide(&emu, "accept").await);
    assert_eq!(param(&accepted, "tenant").as_deref(), Some(NEW_TENANT));
    let cancelled = location(&decide(&emu, "cancel").await);
    assert_eq!(param(&cancelled, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&cancelled, "tenant"), None);
}

#[actix_web::test]
async fn an_unknown_client_id_gets_an_error_page() {
    let emu = Emu::spawn().await;
    let url = emu.url(&format!("/{DEFAULT_TENANT_ID}/adminconsent?client_id=11111111-2222-3333-4444-555555555555&redirect_uri={CALLBACK}"));
    let response = get(&emu, &url).await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("AADSTS700016"));
}

/// §8.1's documented `error` values, chosen by `consent_decline_error`: the page's Cancel and
/// `auto_decline` both redirect with it, the rest of the error redirect unchanged.
#[actix_web::test]
async fn declines_redirect_with_permission_denied_or_consent_required_when_switched() {
    let emu = Emu::spawn().await;
    for error in ["permission_denied", "consent_required", "access_denied"] {
        emu.behaviour(
            serde_json::json!({"consent_decline_error": error, "consent_mode": "interactive"}),
        )
        .await;
        let cancelled = location(&decide(&emu, "cancel").await);
        assert_eq!(param(&cancelled, "error").as_deref(), Some(error));
        assert_eq!(param(&cancelled, "tenant"), None);
        assert_eq!(param(&cancelled, "state").as_deref(), Some("st"));

        let url = auto_declined(&emu, false).await;
        assert_eq!(param(&url, "error").as_deref(), Some(error));
        assert!(
            param(&url, "error_description").unwrap().starts_with(
                "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: "
            )
        );
        assert_eq!(
            param(&url, "error_uri").as_deref(),
            Some("https://login.microsoftonline.com/error?code=65004")
        );
    }
    assert_eq!(
        emu.behaviour_status(serde_json::json!({"consent_decline_error": "nope"}))
            .await,
        400
    );
}
