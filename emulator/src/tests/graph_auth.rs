//! Bearer tokens, tenant isolation and throttling on Graph (§1.2, §1.3).

use reqwest::Method;
use serde_json::json;

use super::harness::*;
use crate::config::DEFAULT_TENANT_ID;

#[actix_web::test]
async fn bearer_tokens_are_checked() {
    let emu = Emu::spawn().await;
    expect_graph_error(
        emu.get("/v1.0/subscriptions").await,
        401,
        "InvalidAuthenticationToken",
        "Access token is empty.",
    )
    .await;

    let token = emu.token().await;
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        emu.graph_status(Method::GET, "/subscriptions", &tampered)
            .await,
        401
    );

    emu.clock.advance(chrono::Duration::seconds(3_600));
    let (status, _, message) =
        graph_error(emu.graph(Method::GET, "/subscriptions", &token, None).await).await;
    assert_eq!(
        (status, message.as_str()),
        (401, "Lifetime validation failed, the token is expired.")
    );
}

#[actix_web::test]
async fn tokens_for_another_audience_or_an_unknown_tenant_are_refused() {
    let emu = Emu::spawn().await;
    let key = crate::crypto::SigningKey::builtin().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    let now = emu.clock.now().timestamp();
    let token = |aud: &str, tid: &str| {
        let claims = json!({
            "aud": aud, "iss": format!("https://sts.windows.net/{tid}/"), "iat": now, "nbf": now, "exp": now + 3600,
            "aio": "x", "app_displayname": "Graphhook", "appid": crate::config::DEFAULT_CLIENT_ID, "appidacr": "1",
            "idp": "x", "idtyp": "app", "oid": USER, "rh": "x", "roles": ["Mail.Read"], "sub": USER,
            "tenant_region_scope": "WW", "tid": tid, "uti": "x", "ver": "1.0", "xms_tcdt": now,
        });
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    };
    let list = |token: String| {
        let emu = &emu;
        async move { emu.graph(Method::GET, "/subscriptions", &token, None).await }
    };
    expect_graph_error(
        list(token("https://outlook.office.com", DEFAULT_TENANT_ID)).await,
        401,
        "InvalidAuthenticationToken",
        "Access token validation failure. Invalid audience.",
    )
    .await;
    let unknown = "0f0f0f0f-0000-4000-8000-000000000000";
    let (status, _, _) =
        graph_error(list(token("https://graph.microsoft.com", unknown)).await).await;
    assert_eq!(status, 401);
    // The GUID audience of v1 tokens is accepted too.
    let guid_aud = token("00000003-0000-0000-c000-000000000000", DEFAULT_TENANT_ID);
    assert_eq!(
        emu.graph_status(Method::GET, "/subscriptions", &guid_aud)
            .await,
        200
    );
}

#[actix_web::test]
async fn an_app_only_caller_sees_only_its_own_tenants_subscriptions() {
    let emu = Emu::spawn().await;
    emu.consent(NEW_TENANT, None).await;
    let contoso = emu.token().await;
    let fabrikam = emu.token_for(NEW_TENANT).await;
    let receiver = receiver(Answer::Echo);
    let created = emu
        .create_json(&contoso, message_subscription(&emu, &receiver.url))
        .await;
    let path = format!("/subscriptions/{}", created["id"].as_str().unwrap());
    assert_eq!(emu.graph_status(Method::GET, &path, &fabrikam).await, 404);
    assert_eq!(
        emu.graph_status(Method::DELETE, &path, &fabrikam).await,
        404
    );
    let list = emu
        .graph_json(Method::GET, "/subscriptions", &fabrikam, None)
        .await;
    assert!(list["value"].as_array().unwrap().is_empty());
    assert_eq!(emu.graph_status(Method::GET, &path, &contoso).await, 200);
}

#[actix_web::test]
async fn above_the_configured_rate_graph_answers_429_with_retry_after() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"rate_limit_per_app": 3, "rate_window_secs": 20}))
        .await;
    let token = emu.token().await;
    for _ in 0..3 {
        assert_eq!(
            emu.graph_status(Method::GET, "/subscriptions", &token)
                .await,
            200
        );
    }
    let response = emu.graph(Method::GET, "/subscriptions", &token, None).await;
    assert_eq!(response.headers()["retry-after"], "20");
    let (status, code, _) = graph_error(response).await;
    assert_eq!((status, code.as_str()), (429, "TooManyRequests"));

    emu.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        emu.graph_status(Method::GET, "/subscriptions", &token)
            .await,
        200
    );
}
