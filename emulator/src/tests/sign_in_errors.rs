//! How sign-in fails: error pages where a redirect cannot be trusted, error redirects after,
//! and the authorization-code grant's refusals (PKCE, reuse, expiry, redirect URI).

use serde_json::json;

use super::{harness::*, oidc_client::*};
use crate::config::DEFAULT_TENANT_ID;

async fn error_page(emu: &Emu, url: &str) -> String {
    let response = get(emu, url).await;
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none(), "no redirect");
    response.text().await.unwrap()
}

#[actix_web::test]
async fn requests_that_cannot_be_trusted_to_redirect_get_error_pages() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"auto_sign_in_user": CONTOSO_ADMIN}))
        .await;
    let cases = [
        (
            DEFAULT_TENANT_ID,
            &[("client_id", Some("11111111-2222-3333-4444-555555555555"))][..],
            "AADSTS700016",
        ),
        (
            DEFAULT_TENANT_ID,
            &[("redirect_uri", Some("https://attacker.example/steal"))],
            "AADSTS50011",
        ),
        ("0f0f0f0f-0000-4000-8000-000000000000", &[], "AADSTS90002"),
    ];
    for (tenant, overrides, code) in cases {
        let page = error_page(&emu, &authorize_url(&emu, tenant, overrides)).await;
        assert!(page.contains(code), "{code}: {page}");
    }
}

#[actix_web::test]
async fn later_errors_redirect_with_an_aadsts_description_and_the_state() {
    let emu = Emu::spawn().await;
    let emu = &emu;
    let refused = |overrides: &'static [(&'static str, Option<&'static str>)]| async move {
        let back = location(&get(emu, &authorize_url(emu, DEFAULT_TENANT_ID, overrides)).await);
        assert!(back.as_str().starts_with(SIGNED_IN));
        assert_eq!(param(&back, "state").as_deref(), Some(STATE));
        assert!(param(&back, "code").is_none());
        let description = param(&back, "error_description").unwrap();
        assert!(description.contains("\r\nTrace ID: ") && description.contains("\r\nTimestamp: "));
        let code = description
            .strip_prefix("AADSTS")
            .and_then(|d| d.split(':').next())
            .unwrap()
            .to_owned();
        assert_eq!(
            param(&back, "error_uri"),
            Some(format!(
                "https://login.microsoftonline.com/error?code={code}"
            ))
        );
        (param(&back, "error").unwrap(), code)
    };
    let cases = [
        (&[("prompt", Some("none"))][..], "login_required", "50058"),
        (
            &[("response_type", Some("id_token"))],
            "unsupported_response_type",
            "700054",
        ),
        (
            &[("response_mode", Some("form_post"))],
            "invalid_request",
            "90023",
        ),
        (
            &[("code_challenge_method", Some("S512"))],
            "invalid_request",
            "50149",
        ),
        (&[("scope", None)], "invalid_request", "900144"),
    ];
    for (overrides, error, code) in cases {
        let expected = (error.to_owned(), code.to_owned());
        assert_eq!(refused(overrides).await, expected, "{overrides:?}");
    }

    // With an unattended user, prompt=none signs in.
    emu.behaviour(json!({"auto_sign_in_user": CONTOSO_ADMIN}))
        .await;
    let back = location(
        &get(
            emu,
            &authorize_url(emu, DEFAULT_TENANT_ID, &[("prompt", Some("none"))]),
        )
        .await,
    );
    assert!(param(&back, "code").is_some());
}

#[actix_web::test]
async fn an_auto_sign_in_user_of_another_tenant_gets_an_error_page_and_null_clears_the_switch() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"auto_sign_in_user": "admin@fabrikam.onmicrosoft.com"}))
        .await;
    let page = error_page(&emu, &authorize_url(&emu, DEFAULT_TENANT_ID, &[])).await;
    assert!(page.contains("AADSTS50020"), "{page}");
    assert!(page.contains("admin@fabrikam.onmicrosoft.com"));

    emu.behaviour(json!({"auto_sign_in_user": "nobody@contoso.onmicrosoft.com"}))
        .await;
    let page = error_page(&emu, &authorize_url(&emu, "organizations", &[])).await;
    assert!(page.contains("AADSTS50034"), "{page}");

    emu.behaviour(json!({"auto_sign_in_user": null})).await;
    let behaviour: serde_json::Value = emu
        .control(reqwest::Method::GET, "/behaviour", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(behaviour["auto_sign_in_user"].is_null());
    let response = get(&emu, &authorize_url(&emu, DEFAULT_TENANT_ID, &[])).await;
    assert_eq!(response.status().as_u16(), 200, "the page again");
}

#[actix_web::test]
async fn a_wrong_verifier_is_refused_and_burns_the_code() {
    let emu = Emu::spawn().await;
    let wrong = "x".repeat(43);
    let (code, refused) = fresh_code_refused(&emu, &[("code_verifier", Some(&wrong))]).await;
    assert_eq!(refused, invalid_grant(501481));
    let again = redeem_refused(&emu, DEFAULT_TENANT_ID, &code, &[]).await;
    assert_eq!(again, invalid_grant(54005));
}

#[actix_web::test]
async fn a_missing_verifier_is_refused_when_a_challenge_was_sent() {
    let emu = Emu::spawn().await;
    let (_, refused) = fresh_code_refused(&emu, &[("code_verifier", None)]).await;
    assert_eq!(refused, invalid_grant(50148));

    // Without a challenge no verifier is needed; `plain` compares the verifier as is.
    let code = code_with(
        &emu,
        CONTOSO_ADMIN,
        DEFAULT_TENANT_ID,
        &[("code_challenge", None), ("code_challenge_method", None)],
    )
    .await;
    tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[("code_verifier", None)]).await).await;
    let code = code_with(
        &emu,
        CONTOSO_ADMIN,
        DEFAULT_TENANT_ID,
        &[
            ("code_challenge", Some(VERIFIER)),
            ("code_challenge_method", Some("plain")),
        ],
    )
    .await;
    tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[]).await).await;
}

#[actix_web::test]
async fn a_code_redeems_once() {
    let emu = Emu::spawn().await;
    let code = code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[]).await).await;
    let again = redeem_refused(&emu, DEFAULT_TENANT_ID, &code, &[]).await;
    assert_eq!(again, invalid_grant(54005));
    let unknown = redeem_refused(&emu, DEFAULT_TENANT_ID, "not-a-code", &[]).await;
    assert_eq!(unknown, invalid_grant(70000));
}

#[actix_web::test]
async fn a_code_expires_after_its_lifetime_on_the_shared_clock() {
    let emu = Emu::spawn().await;
    let late = code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    let in_time = code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    emu.clock.advance(chrono::Duration::seconds(599));
    tokens(redeem(&emu, DEFAULT_TENANT_ID, &in_time, &[]).await).await;
    emu.clock.advance(chrono::Duration::seconds(2));
    // A code issued now drops only codes long expired, so the late one still says why.
    code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    let refused = redeem_refused(&emu, DEFAULT_TENANT_ID, &late, &[]).await;
    assert_eq!(refused, invalid_grant(70008));
}

#[actix_web::test]
async fn a_code_is_refused_with_another_redirect_uri_or_at_another_tenant() {
    let emu = Emu::spawn().await;
    let elsewhere = Some("http://localhost:8080/onboarding/signed-in");
    let (_, refused) = fresh_code_refused(&emu, &[("redirect_uri", elsewhere)]).await;
    assert_eq!(refused, invalid_grant(50011));

    let code = code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    let refused = redeem_refused(&emu, NEW_TENANT, &code, &[]).await;
    assert_eq!((refused.0, refused.1.as_str()), (400, "invalid_grant"));
}
