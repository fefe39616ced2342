//! OpenID Connect sign-in: the authorize endpoint, its page, the authorization-code grant and
//! the ID token.

use reqwest::Method;
use serde_json::json;

use super::{harness::*, oidc_client::*};
use crate::{
    config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID},
    directory_roles::{CLOUD_APPLICATION_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, MEMBER_USER},
};

#[actix_web::test]
async fn an_auto_signed_in_global_admin_gets_a_code_that_redeems_for_a_verified_id_token() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"auto_sign_in_user": "ADMIN@contoso.onmicrosoft.com"}))
        .await;
    let response = get(&emu, &authorize_url(&emu, "organizations", &[])).await;
    let back = location(&response);
    assert!(back.as_str().starts_with(SIGNED_IN));
    assert_eq!(param(&back, "state").as_deref(), Some(STATE));
    assert!(param(&back, "session_state").is_some());
    let code = param(&back, "code").unwrap();
    assert_eq!(code.len(), 43, "32 random bytes, base64url");

    let body = tokens(redeem(&emu, "organizations", &code, &[]).await).await;
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "ext_expires_in",
            "id_token",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["scope"], "User.Read openid profile email");

    let claims =
        verified_id_token(&emu, body["id_token"].as_str().unwrap(), DEFAULT_TENANT_ID).await;
    let oid = user_id(&emu, CONTOSO_ADMIN).await;
    assert_eq!(claims["aud"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(claims["oid"], oid);
    assert_eq!(claims["preferred_username"], CONTOSO_ADMIN);
    assert_eq!(claims["email"], CONTOSO_ADMIN);
    assert_eq!(claims["name"], "Contoso Admin");
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["ver"], "2.0");
    assert_ne!(claims["sub"], claims["oid"], "pairwise sub");
    assert_eq!(
        claims["iat"].as_i64(),
        Some(emu.clock.now().timestamp()),
        "the shared clock"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let wids = wids(&claims);
    assert!(wids.contains(&GLOBAL_ADMINISTRATOR.to_string()), "{wids:?}");
    assert!(wids.contains(&MEMBER_USER.to_string()));

    let access = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], "https://graph.microsoft.com");
    assert_eq!(access["scp"], "User.Read openid profile email");
    assert_eq!(access["upn"], CONTOSO_ADMIN);
    assert_eq!(access["oid"], oid);
    assert_eq!(access["tid"], DEFAULT_TENANT_ID);
    assert!(access.get("roles").is_none());
}

#[actix_web::test]
async fn without_openid_there_is_no_id_token_and_without_email_or_nonce_no_such_claims() {
    let emu = Emu::spawn().await;
    let code = code_with(
        &emu,
        CONTOSO_ADMIN,
        DEFAULT_TENANT_ID,
        &[("scope", Some("https://graph.microsoft.com/User.Read"))],
    )
    .await;
    let body = tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[]).await).await;
    assert!(body.get("id_token").is_none(), "{body}");
    assert_eq!(body["scope"], "User.Read");

    let code = code_with(
        &emu,
        CONTOSO_ADMIN,
        "contoso.onmicrosoft.com",
        &[("scope", Some("openid profile")), ("nonce", None)],
    )
    .await;
    let body = tokens(redeem(&emu, "contoso.onmicrosoft.com", &code, &[]).await).await;
    let claims =
        verified_id_token(&emu, body["id_token"].as_str().unwrap(), DEFAULT_TENANT_ID).await;
    assert!(claims.get("email").is_none());
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["preferred_username"], CONTOSO_ADMIN);
}

#[actix_web::test]
async fn wids_follow_the_users_roles_and_the_apps_group_membership_claims() {
    let emu = Emu::spawn().await;
    let id_token = |upn: &'static str| {
        let emu = &emu;
        async move {
            let code = code_for(emu, upn, "organizations").await;
            let body = tokens(redeem(emu, "organizations", &code, &[]).await).await;
            claims_of(body["id_token"].as_str().unwrap())
        }
    };
    let plain = id_token("user@contoso.onmicrosoft.com").await;
    assert_eq!(
        wids(&plain),
        [MEMBER_USER.to_string()],
        "only the member role"
    );
    let app_admin = id_token("appadmin@contoso.onmicrosoft.com").await;
    assert!(wids(&app_admin).contains(&CLOUD_APPLICATION_ADMINISTRATOR.to_string()));
    assert!(!wids(&app_admin).contains(&GLOBAL_ADMINISTRATOR.to_string()));

    let claims = |value: &str| emu.patch_app(json!({ "group_membership_claims": value }));
    let (status, app) = claims("None").await;
    assert_eq!(status, 200);
    assert_eq!(app["group_membership_claims"], "None");
    assert!(id_token(CONTOSO_ADMIN).await.get("wids").is_none());

    assert_eq!(claims("SecurityGroup, directoryrole").await.0, 200);
    assert!(!wids(&id_token(CONTOSO_ADMIN).await).is_empty());

    assert_eq!(claims("Everything").await.0, 400);
}

#[actix_web::test]
async fn the_sign_in_page_lists_the_named_tenants_users_escaped_and_its_form_signs_in() {
    let emu = Emu::spawn().await;
    let mallory = json!({
        "user_principal_name": "mallory@contoso.onmicrosoft.com",
        "display_name": "<script>alert(1)</script> & \"Co\"",
    });
    assert_eq!(emu.add_user(DEFAULT_TENANT_ID, mallory).await, 201);

    let url = authorize_url(
        &emu,
        DEFAULT_TENANT_ID,
        &[("login_hint", Some("USER@contoso.onmicrosoft.com"))],
    );
    let response = get(&emu, &url).await;
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>Sign in to your account</title>"));
    for upn in [
        CONTOSO_ADMIN,
        "user@contoso.onmicrosoft.com",
        "appadmin@contoso.onmicrosoft.com",
    ] {
        assert!(page.contains(upn), "{upn} is listed");
    }
    assert!(
        page.contains("Global Administrator") && page.contains("Cloud Application Administrator")
    );
    assert!(
        !page.contains("fabrikam.onmicrosoft.com"),
        "another tenant's users are not"
    );
    assert!(!page.contains("<script>alert"), "names are escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    let user = user_id(&emu, "user@contoso.onmicrosoft.com").await;
    assert!(
        page.contains(&format!("value=\"{user}\" checked")),
        "the login_hint user is checked"
    );
    assert!(page.contains("value=\"sign_in\"") && page.contains("value=\"cancel\""));

    let fields = hidden_fields(&page);
    let decide = |decision: &'static str| {
        let emu = &emu;
        let mut form = fields.clone();
        form.push(("user".into(), user.clone()));
        form.push(("decision".into(), decision.into()));
        async move {
            emu.client
                .post(emu.url("/_emulator/sign-in/decide"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let back = location(&decide("sign_in").await);
    assert_eq!(param(&back, "state").as_deref(), Some(STATE));
    let code = param(&back, "code").unwrap();
    let body = tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[]).await).await;
    let claims =
        verified_id_token(&emu, body["id_token"].as_str().unwrap(), DEFAULT_TENANT_ID).await;
    assert_eq!(claims["preferred_username"], "user@contoso.onmicrosoft.com");
    assert_eq!(claims["nonce"], NONCE, "the nonce went through the page");

    let cancelled = location(&decide("cancel").await);
    assert_eq!(param(&cancelled, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&cancelled, "error_subcode").as_deref(),
        Some("cancel")
    );
    assert_eq!(param(&cancelled, "state").as_deref(), Some(STATE));
    assert!(param(&cancelled, "code").is_none());
    assert!(
        param(&cancelled, "error_description")
            .unwrap()
            .starts_with("AADSTS")
    );

    // `organizations` lists every tenant's users.
    let page = get(&emu, &authorize_url(&emu, "organizations", &[]))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(CONTOSO_ADMIN) && page.contains("admin@fabrikam.onmicrosoft.com"));
}

#[actix_web::test]
async fn codes_redeem_at_organizations_but_client_credentials_still_do_not() {
    let emu = Emu::spawn().await;
    let code = code_for(&emu, CONTOSO_ADMIN, "common").await;
    let body = tokens(redeem(&emu, "organizations", &code, &[]).await).await;
    assert!(body["id_token"].is_string());

    let refused = refusal(emu.secret_token_response("organizations").await).await;
    assert_eq!(refused, (400, "invalid_request".to_owned(), 90002));

    let state = emu.control_json(Method::GET, "/state", None).await;
    assert_eq!(
        state["tokenRequests"]["organizations"], 2,
        "both are counted"
    );

    // The client authenticates as for client credentials: HTTP Basic works too…
    let code = code_for(&emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    let response = emu
        .client
        .post(emu.url(&format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")))
        .basic_auth(
            DEFAULT_CLIENT_ID,
            Some(crate::config::DEFAULT_CLIENT_SECRET),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", SIGNED_IN),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // …and a wrong secret is refused before the code is looked at.
    let (code, refused) = fresh_code_refused(&emu, &[("client_secret", Some("wrong"))]).await;
    assert_eq!(refused, (401, "invalid_client".to_owned(), 7000215));
    tokens(redeem(&emu, DEFAULT_TENANT_ID, &code, &[]).await).await;
}
