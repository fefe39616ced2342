//! Refresh tokens: issued with `offline_access`, rotated by the refresh-token grant, and
//! refused as Entra refuses them (reuse under strict mode, expiry, revoked sessions, required
//! interaction, withdrawn consent).

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, oidc_client::*};
use crate::config::DEFAULT_TENANT_ID;

const CONTOSO_USER: &str = "user@contoso.onmicrosoft.com";

async fn calls(emu: &Emu) -> Value {
    emu.control(Method::GET, "/calls", None)
        .await
        .json()
        .await
        .unwrap()
}

/// A refresh token for Contoso's user, from a sign-in asking for `scope`.
async fn contoso_refresh_token(emu: &Emu, scope: &str) -> String {
    let grant = user_tokens(emu, CONTOSO_USER, "organizations", scope).await;
    grant["refresh_token"].as_str().unwrap().to_owned()
}

/// The successful answer to refreshing `token` at `organizations`.
async fn refreshed(emu: &Emu, token: &str) -> Value {
    tokens(refresh(emu, "organizations", token, &[]).await).await
}

fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap()
}

#[actix_web::test]
async fn offline_access_gives_a_refresh_token_that_rotates_and_may_narrow_the_scope() {
    let emu = Emu::spawn().await;
    let without = user_tokens(&emu, CONTOSO_USER, "organizations", "openid Mail.Read").await;
    assert!(without.get("refresh_token").is_none(), "{without}");

    let first = user_tokens(
        &emu,
        CONTOSO_USER,
        "organizations",
        "openid offline_access Mail.Read https://graph.microsoft.com/Calendars.Read",
    )
    .await;
    assert_eq!(first["scope"], "Mail.Read Calendars.Read openid");
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(old.len() >= 32, "{old}");
    assert!(old.split('.').count() < 3, "opaque, not a JWT: {old}");
    let oid = user_id(&emu, CONTOSO_USER).await;
    let first_access = claims_of(first["access_token"].as_str().unwrap());
    assert_eq!(first_access["scp"], "Mail.Read Calendars.Read openid");

    emu.clock.advance(Duration::minutes(50));
    let second = refreshed(&emu, &old).await;
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old, "rotated");
    assert!(second["id_token"].is_string(), "openid was in the grant");
    assert_eq!(second["scope"], "Mail.Read Calendars.Read openid");
    let access = claims_of(second["access_token"].as_str().unwrap());
    assert_eq!(access["oid"], oid);
    assert_eq!(access["tid"], DEFAULT_TENANT_ID);
    assert_eq!(access["scp"], first_access["scp"]);
    assert_eq!(
        access["exp"].as_i64().unwrap() - first_access["exp"].as_i64().unwrap(),
        50 * 60,
        "a new lifetime from the shared clock"
    );
    let id = claims_of(second["id_token"].as_str().unwrap());
    assert_eq!(id["oid"], oid);

    // `scope` may narrow the grant (at the user's tenant too), never widen it.
    let narrowed = tokens(
        refresh(
            &emu,
            DEFAULT_TENANT_ID,
            new,
            &[("scope", "https://graph.microsoft.com/Calendars.Read openid")],
        )
        .await,
    )
    .await;
    assert_eq!(narrowed["scope"], "Calendars.Read openid");
    let wider = token_error(
        refresh(&emu, "common", new, &[("scope", "Contacts.Read")]).await,
        400,
    )
    .await;
    assert_eq!(wider["error"], "invalid_grant");
    assert_eq!(wider["error_codes"][0], 65001);

    // A work account's token is not one for personal accounts.
    let consumers = token_error(refresh(&emu, "consumers", new, &[]).await, 400).await;
    assert_eq!(consumers["error"], "invalid_grant");
    // The client authenticates as for the other grants.
    let wrong_secret = refresh(&emu, "organizations", new, &[("client_secret", "wrong")]).await;
    assert_eq!(wrong_secret.status().as_u16(), 401);
    let unknown = token_error(refresh(&emu, "common", "not-a-token", &[]).await, 400).await;
    assert_eq!(unknown["error"], "invalid_grant");

    let counted = calls(&emu).await;
    assert_eq!(counted["refresh_token_grants"], 6, "{counted}");
    assert_eq!(counted["refresh_token_grants_succeeded"], 2);
    assert_eq!(counted["refresh_token_grants_by_user"][&oid], 4);
}

#[actix_web::test]
async fn a_reused_refresh_token_works_by_default_and_fails_in_strict_mode() {
    let emu = Emu::spawn().await;
    let old = contoso_refresh_token(&emu, "offline_access Mail.Read").await;
    refreshed(&emu, &old).await;
    // Entra keeps a rotated refresh token valid for a while.
    let again = refreshed(&emu, &old).await;
    let latest = again["refresh_token"].as_str().unwrap().to_owned();

    emu.behaviour(json!({"strict_refresh_tokens": true})).await;
    let refused = token_error(refresh(&emu, "organizations", &old, &[]).await, 400).await;
    assert_eq!(refused["error"], "invalid_grant");
    assert_eq!(refused["error_codes"], json!([70000]));
    assert!(description(&refused).starts_with(
        "AADSTS70000: The provided value for the input parameter 'refresh_token' or 'assertion' is not valid."
    ));
    let rotated = refreshed(&emu, &latest).await;
    assert_eq!(
        token_error(refresh(&emu, "organizations", &latest, &[]).await, 400).await["error_codes"],
        json!([70000]),
        "used once, then refused"
    );
    refresh_ok(&emu, "organizations", &rotated).await;
}

#[actix_web::test]
async fn refresh_tokens_expire_90_days_after_issue_on_the_shared_clock() {
    let emu = Emu::spawn().await;
    let token = contoso_refresh_token(&emu, "offline_access Mail.Read").await;
    emu.clock.advance(Duration::days(89));
    let renewed = refreshed(&emu, &token).await;
    emu.clock.advance(Duration::days(1));
    let expired = token_error(refresh(&emu, "organizations", &token, &[]).await, 400).await;
    assert_eq!(expired["error"], "invalid_grant");
    assert_eq!(expired["error_codes"], json!([700082]));
    assert!(
        description(&expired)
            .starts_with("AADSTS700082: The refresh token has expired due to inactivity."),
        "{expired}"
    );
    // The rotated one was issued a day later: still valid until its own 90 days.
    let newer = renewed["refresh_token"].as_str().unwrap();
    refreshed(&emu, newer).await;

    emu.behaviour(json!({"refresh_token_lifetime_secs": 60}))
        .await;
    emu.clock.advance(Duration::seconds(61));
    let short = token_error(refresh(&emu, "organizations", newer, &[]).await, 400).await;
    assert_eq!(short["error_codes"], json!([700082]));
}

#[actix_web::test]
async fn revoking_a_users_sessions_invalidates_their_refresh_tokens() {
    let emu = Emu::spawn().await;
    let scope = "offline_access Mail.Read";
    let mine = user_tokens(&emu, CONTOSO_USER, "organizations", scope).await;
    let others = user_tokens(&emu, CONTOSO_ADMIN, "organizations", scope).await;
    let oid = user_id(&emu, CONTOSO_USER).await;
    assert_eq!(revoke_sessions(&emu, DEFAULT_TENANT_ID, &oid).await, 204);
    let refused = refresh_refused(&emu, "organizations", &mine).await;
    assert_eq!(refused["error"], "invalid_grant");
    assert_eq!(refused["error_codes"], json!([50173]));
    assert!(description(&refused).starts_with(
        "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password."
    ));
    // Another user's tokens are untouched; a new sign-in gets a working token.
    refresh_ok(&emu, "organizations", &others).await;
    let fresh = user_tokens(&emu, CONTOSO_USER, "organizations", scope).await;
    refresh_ok(&emu, "organizations", &fresh).await;
    // The user may be named by UPN; an unknown one is 404.
    let by_upn = "USER@contoso.onmicrosoft.com";
    assert_eq!(
        revoke_sessions(&emu, "contoso.onmicrosoft.com", by_upn).await,
        204
    );
    let nobody = "nobody@contoso.onmicrosoft.com";
    assert_eq!(revoke_sessions(&emu, DEFAULT_TENANT_ID, nobody).await, 404);
}

/// The status of revoking `user`'s sessions in `tenant` through the control API.
async fn revoke_sessions(emu: &Emu, tenant: &str, user: &str) -> u16 {
    let what = format!("users/{user}/revoke-sessions");
    emu.tenant_call(Method::POST, tenant, &what).await
}

#[actix_web::test]
async fn required_interaction_fails_refreshes_until_cleared_or_signed_in_again() {
    let emu = Emu::spawn().await;
    let scope = "offline_access Mail.Read";
    let token = contoso_refresh_token(&emu, scope).await;
    let path = format!("/tenants/{DEFAULT_TENANT_ID}/users/{CONTOSO_USER}/require-interaction");
    for (code, suberror, text) in [
        (
            50076,
            "basic_action",
            "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        ),
        (
            53003,
            "message_only",
            "AADSTS53003: Access has been blocked by Conditional Access policies.",
        ),
    ] {
        assert_eq!(
            emu.control_status(Method::POST, &path, Some(json!({"code": code})))
                .await,
            204
        );
        let refused = token_error(refresh(&emu, "organizations", &token, &[]).await, 400).await;
        assert_eq!(refused["error"], "interaction_required");
        assert_eq!(refused["error_codes"], json!([code]));
        assert_eq!(refused["suberror"], suberror);
        assert!(description(&refused).starts_with(text), "{refused}");
        assert_eq!(emu.control_status(Method::DELETE, &path, None).await, 204);
        refreshed(&emu, &token).await;
    }
    assert_eq!(
        emu.control_status(Method::POST, &path, Some(json!({"code": 12345})))
            .await,
        400
    );

    // An interactive sign-in (its code redeemed) satisfies the interaction too.
    emu.control(Method::POST, &path, Some(json!({"code": 50076})))
        .await;
    assert_eq!(
        token_error(refresh(&emu, "organizations", &token, &[]).await, 400).await["error"],
        "interaction_required"
    );
    user_tokens(&emu, CONTOSO_USER, "organizations", scope).await;
    refreshed(&emu, &token).await;
}

#[actix_web::test]
async fn a_refresh_needing_admin_granted_permissions_fails_once_consent_is_revoked() {
    let emu = Emu::spawn().await;
    let token = contoso_refresh_token(&emu, "offline_access Group.Read.All").await;
    refreshed(&emu, &token).await;
    assert_eq!(
        emu.tenant_call(Method::DELETE, DEFAULT_TENANT_ID, "consent")
            .await,
        200
    );
    let refused = token_error(refresh(&emu, "organizations", &token, &[]).await, 400).await;
    assert_eq!(refused["error"], "invalid_grant");
    assert_eq!(refused["error_codes"], json!([65001]));
    assert!(description(&refused).starts_with(&format!(
        "AADSTS65001: The user or administrator has not consented to use the application with ID '{}' named 'Graphhook'.",
        crate::config::DEFAULT_CLIENT_ID
    )));
}
