//! `/subscriptions` (§1, §2, §6, §7).

use reqwest::Method;
use serde_json::{Value, json};

use super::{fixtures, harness::*};
use crate::config::DEFAULT_TENANT_ID;

async fn graph_error(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        fixtures::shape(&body),
        fixtures::shape_of(fixtures::GRAPH_ERROR),
        "§1.3 shape: {body}"
    );
    assert_eq!(
        body["error"]["innerError"]["request-id"]
            .as_str()
            .map(str::to_owned),
        request_id
    );
    let date = body["error"]["innerError"]["date"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok()
            && date.len() == 19,
        "UTC without offset or fraction: {date}"
    );
    (
        status,
        body["error"]["code"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn create_runs_the_handshake_and_answers_201_with_graphs_fields() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let response = emu
        .create(&token, message_subscription(&emu, &receiver))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        fixtures::shape(&body),
        fixtures::shape_of(fixtures::CREATE_RESPONSE),
        "{body}"
    );
    assert_eq!(body["changeType"], "created,updated");
    assert_eq!(body["clientState"], "secret-client-state");
    assert_eq!(
        body["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(60))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    assert_eq!(body["latestSupportedTlsVersion"], "v1_2");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "one validation request");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        seen[0].query.starts_with(
            "route=t42&validationToken=Validation%3A+Testing+client+application+reachability"
        ),
        "{}",
        seen[0].query
    );

    let list: Value = emu
        .graph(Method::GET, "/subscriptions", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["@odata.context"],
        serde_json::from_str::<Value>(fixtures::LIST_RESPONSE).unwrap()["@odata.context"]
    );
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let id = body["id"].as_str().unwrap();
    let got = emu
        .graph(Method::GET, &format!("/subscriptions/{id}"), &token, None)
        .await;
    assert_eq!(got.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_receiver_that_echoes_the_still_encoded_token_fails_validation() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::EchoEncoded);
    let (status, code, message) = graph_error(
        emu.create(&token, message_subscription(&emu, &receiver))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "ValidationError"));
    assert_eq!(
        message,
        "Subscription validation request failed. Response must exactly match validationToken query parameter."
    );
}

#[actix_web::test]
async fn a_202_to_the_handshake_fails_validation() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Accepted);
    let (status, code, message) = graph_error(
        emu.create(&token, message_subscription(&emu, &receiver))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "ValidationError"));
    assert_eq!(
        message,
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
    );
}

#[actix_web::test]
async fn a_slow_or_unreachable_receiver_times_out() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let slow = receiver(Answer::Slow(1_500));
    let (status, code, message) =
        graph_error(emu.create(&token, message_subscription(&emu, &slow)).await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            400,
            "InvalidRequest",
            "Subscription validation request timed out."
        )
    );

    let mut body = message_subscription(&emu, &slow);
    body["notificationUrl"] = json!("http://127.0.0.1:9/nothing-listens-here");
    let (_, code, message) = graph_error(emu.create(&token, body).await).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidRequest",
            "Subscription validation request timed out."
        )
    );
}

#[actix_web::test]
async fn the_lifecycle_url_is_validated_separately() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let good = receiver(Answer::Echo);
    let bad = receiver(Answer::Accepted);
    let mut body = message_subscription(&emu, &good);
    body["lifecycleNotificationUrl"] = json!(bad.url);
    let (_, code, _) = graph_error(emu.create(&token, body.clone()).await).await;
    assert_eq!(code, "ValidationError");
    assert_eq!(good.seen().len(), 1);
    assert_eq!(bad.seen().len(), 1);

    body["lifecycleNotificationUrl"] = json!(format!("{}&kind=lifecycle", good.url));
    assert_eq!(emu.create(&token, body).await.status().as_u16(), 201);
    assert_eq!(good.seen().len(), 3, "two more requests, one per URL");
}

#[actix_web::test]
async fn a_token_without_the_needed_role_gets_403_on_create() {
    let emu = Emu::spawn().await;
    emu.control(
        Method::POST,
        &format!("/tenants/{NEW_TENANT}/consent"),
        Some(json!({"roles": ["User.Read.All"]})),
    )
    .await;
    let token = emu.token_for(NEW_TENANT).await;
    let receiver = receiver(Answer::Echo);
    let (status, code, message) = graph_error(
        emu.create(&token, message_subscription(&emu, &receiver))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "ExtensionError"));
    assert_eq!(
        message,
        "Operation: Create; Exception: [Status Code: Forbidden; Reason: Forbidden]"
    );
    assert!(
        receiver.seen().is_empty(),
        "no handshake for a refused request"
    );

    let users = json!({"changeType": "updated,deleted", "notificationUrl": receiver.url, "resource": "users", "expirationDateTime": emu.expires_in(60)});
    assert_eq!(emu.create(&token, users).await.status().as_u16(), 201);
}

#[actix_web::test]
async fn an_expiry_above_the_maximum_is_rejected_with_graphs_message_or_clamped() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let mut body = message_subscription(&emu, &receiver);
    body["expirationDateTime"] = json!(emu.expires_in(4_231));
    let (status, code, message) = graph_error(emu.create(&token, body.clone()).await).await;
    assert_eq!((status, code.as_str()), (400, "ExtensionError"));
    assert_eq!(
        message,
        "Subscription expiration can only be 4230 minutes in the future."
    );

    body["expirationDateTime"] = json!(emu.expires_in(-1));
    assert_eq!(
        graph_error(emu.create(&token, body.clone()).await).await.0,
        400
    );

    emu.behaviour(json!({"lifetime_policy": "clamp"})).await;
    body["expirationDateTime"] = json!(emu.expires_in(10_000));
    let response = emu.create(&token, body).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let max = (emu.clock.now() + chrono::Duration::minutes(4_230))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(created["expirationDateTime"], max);
}

#[actix_web::test]
async fn above_the_configured_rate_graph_answers_429_with_retry_after() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"rate_limit_per_app": 3, "rate_window_secs": 20}))
        .await;
    let token = emu.token().await;
    for _ in 0..3 {
        assert_eq!(
            emu.graph(Method::GET, "/subscriptions", &token, None)
                .await
                .status()
                .as_u16(),
            200
        );
    }
    let response = emu.graph(Method::GET, "/subscriptions", &token, None).await;
    assert_eq!(response.headers()["retry-after"], "20");
    let (status, code, _) = graph_error(response).await;
    assert_eq!((status, code.as_str()), (429, "TooManyRequests"));

    emu.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        emu.graph(Method::GET, "/subscriptions", &token, None)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[actix_web::test]
async fn resource_and_change_type_rules_follow_graph() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let create = |resource: &str, change_type: &str| json!({"changeType": change_type, "notificationUrl": receiver.url, "resource": resource, "expirationDateTime": emu.expires_in(60)});
    for (resource, change_type) in [
        ("users", "created"),
        ("drives/b!abc/root", "updated,deleted"),
        ("users/abc/calendar", "updated"),
        ("me/messages", "created"),
        ("groups/g1/conversations", "created"),
        ("https://graph.microsoft.com/v1.0/users", "updated"),
    ] {
        let (status, code, _) =
            graph_error(emu.create(&token, create(resource, change_type)).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidRequest"),
            "{resource} {change_type}"
        );
    }
    for (resource, change_type) in [
        ("/users/abc/events", "created,updated,deleted"),
        ("drives/b!abc/root", "updated"),
        ("groups", "updated,deleted"),
        ("users/abc/contacts", "deleted"),
    ] {
        assert_eq!(
            emu.create(&token, create(resource, change_type))
                .await
                .status()
                .as_u16(),
            201,
            "{resource}"
        );
    }
}

#[actix_web::test]
async fn duplicates_get_409_and_bad_fields_get_400() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let body = message_subscription(&emu, &receiver);
    let first: Value = emu.create(&token, body.clone()).await.json().await.unwrap();
    let (status, _, message) = graph_error(emu.create(&token, body.clone()).await).await;
    assert_eq!(status, 409);
    assert!(message.contains(first["id"].as_str().unwrap()), "{message}");

    let mut long_state = body.clone();
    long_state["resource"] = json!("users/other/messages");
    long_state["clientState"] = json!("x".repeat(129));
    assert_eq!(
        graph_error(emu.create(&token, long_state).await).await.0,
        400
    );

    let mut plain_http = body.clone();
    plain_http["resource"] = json!("users/other/messages");
    plain_http["notificationUrl"] = json!("http://relay.example.com/graph");
    let (_, _, message) = graph_error(emu.create(&token, plain_http).await).await;
    assert!(message.contains("https"), "{message}");

    let mut rich = body.clone();
    rich["resource"] = json!("users/other/messages");
    rich["includeResourceData"] = json!(true);
    assert_eq!(
        graph_error(emu.create(&token, rich.clone()).await).await.0,
        400,
        "rich needs a certificate"
    );
    rich["encryptionCertificate"] = json!(APP_CERT);
    rich["encryptionCertificateId"] = json!("key-1");
    rich["expirationDateTime"] = json!(emu.expires_in(1_441));
    let (_, _, message) = graph_error(emu.create(&token, rich.clone()).await).await;
    assert_eq!(
        message, "Subscription expiration can only be 1440 minutes in the future.",
        "rich Outlook: 1 day"
    );
    rich["expirationDateTime"] = json!(emu.expires_in(1_440));
    assert_eq!(emu.create(&token, rich).await.status().as_u16(), 201);

    let mut missing = body.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("expirationDateTime");
    let (_, _, message) = graph_error(emu.create(&token, missing).await).await;
    assert_eq!(
        message,
        "expirationDateTime is a required property for subscription creation"
    );
}

#[actix_web::test]
async fn teams_subscriptions_over_an_hour_need_a_lifecycle_url() {
    let emu = Emu::spawn_with(|c| {
        c.app.roles.push("ChannelMessage.Read.All".into());
        c.tenants[0].consented_roles = Some(c.app.roles.clone());
    })
    .await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let body = json!({"changeType": "created", "notificationUrl": receiver.url, "resource": "teams/getAllMessages", "expirationDateTime": emu.expires_in(120)});
    let (_, _, message) = graph_error(emu.create(&token, body).await).await;
    assert_eq!(
        message,
        "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour."
    );
}

#[actix_web::test]
async fn renew_update_reauthorize_delete_and_expiry() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let rx = receiver(Answer::Echo);
    let created: Value = emu
        .create(&token, message_subscription(&emu, &rx))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/subscriptions/{id}");

    let renewed = emu
        .graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"expirationDateTime": emu.expires_in(4_000)})),
        )
        .await;
    assert_eq!(renewed.status().as_u16(), 200);
    let renewed: Value = renewed.json().await.unwrap();
    assert_eq!(
        renewed["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(4_000))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    assert_eq!(rx.seen().len(), 1, "a renewal does not validate again");

    let (status, _, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"resource": "users"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "resource is not patchable");
    let (status, _, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"lifecycleNotificationUrl": rx.url})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "lifecycleNotificationUrl is not patchable");

    let moved = receiver(Answer::Echo);
    let updated = emu
        .graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"notificationUrl": moved.url})),
        )
        .await;
    assert_eq!(updated.status().as_u16(), 200);
    assert_eq!(moved.seen().len(), 1, "a new URL is validated");
    let refused = receiver(Answer::Accepted);
    let (_, code, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"notificationUrl": refused.url})),
        )
        .await,
    )
    .await;
    assert_eq!(code, "ValidationError");

    let reauthorized = emu
        .graph(Method::POST, &format!("{path}/reauthorize"), &token, None)
        .await;
    assert_eq!(reauthorized.status().as_u16(), 204);

    // Graph deletes a subscription once it expires.
    emu.clock.advance(chrono::Duration::minutes(4_001));
    let fresh = emu.token().await;
    let (status, code, message) =
        graph_error(emu.graph(Method::GET, &path, &fresh, None).await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (404, "ResourceNotFound", "The object was not found.")
    );

    let again: Value = emu
        .create(&fresh, message_subscription(&emu, &rx))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/subscriptions/{}", again["id"].as_str().unwrap());
    assert_eq!(
        emu.graph(Method::DELETE, &path, &fresh, None)
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        emu.graph(Method::DELETE, &path, &fresh, None)
            .await
            .status()
            .as_u16(),
        404
    );
}

#[actix_web::test]
async fn bearer_tokens_are_checked() {
    let emu = Emu::spawn().await;
    let response = emu
        .client
        .get(emu.url("/v1.0/subscriptions"))
        .send()
        .await
        .unwrap();
    let (status, code, message) = graph_error(response).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (401, "InvalidAuthenticationToken", "Access token is empty.")
    );

    let token = emu.token().await;
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        emu.graph(Method::GET, "/subscriptions", &tampered, None)
            .await
            .status()
            .as_u16(),
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
async fn an_app_only_caller_sees_only_its_own_tenants_subscriptions() {
    let emu = Emu::spawn().await;
    emu.control(
        Method::POST,
        &format!("/tenants/{NEW_TENANT}/consent"),
        None,
    )
    .await;
    let contoso = emu.token().await;
    let fabrikam = emu.token_for(NEW_TENANT).await;
    let receiver = receiver(Answer::Echo);
    let created: Value = emu
        .create(&contoso, message_subscription(&emu, &receiver))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/subscriptions/{}", created["id"].as_str().unwrap());
    assert_eq!(
        emu.graph(Method::GET, &path, &fabrikam, None)
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        emu.graph(Method::DELETE, &path, &fabrikam, None)
            .await
            .status()
            .as_u16(),
        404
    );
    let list: Value = emu
        .graph(Method::GET, "/subscriptions", &fabrikam, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["value"].as_array().unwrap().is_empty());
    assert_eq!(
        emu.graph(Method::GET, &path, &contoso, None)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[actix_web::test]
async fn directory_quotas_give_403_naming_the_limit() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"directory_quota_per_app": 1})).await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let users = json!({"changeType": "updated", "notificationUrl": receiver.url, "resource": "users", "expirationDateTime": emu.expires_in(60)});
    assert_eq!(emu.create(&token, users).await.status().as_u16(), 201);
    let groups = json!({"changeType": "updated", "notificationUrl": receiver.url, "resource": "groups", "expirationDateTime": emu.expires_in(60)});
    let (status, _, message) = graph_error(emu.create(&token, groups).await).await;
    assert_eq!(status, 403);
    assert!(
        message.contains("per application per tenant (1)"),
        "{message}"
    );
}

#[actix_web::test]
async fn the_control_api_shows_state_and_expires_or_deletes_subscriptions() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let created: Value = emu
        .create(&token, message_subscription(&emu, &receiver))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();

    let all: Value = emu
        .control(Method::GET, "/subscriptions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all[0]["subscription"]["id"], id);
    assert_eq!(all[0]["state"]["tenantId"], DEFAULT_TENANT_ID);
    assert_eq!(all[0]["state"]["kind"], "message");

    assert_eq!(
        emu.control(Method::POST, &format!("/subscriptions/{id}/expire"), None)
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        emu.graph(Method::GET, &format!("/subscriptions/{id}"), &token, None)
            .await
            .status()
            .as_u16(),
        404
    );

    let state: Value = emu
        .control(Method::GET, "/state", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        state["app"]["secrets"][0].get("value").is_none(),
        "secret values are never shown"
    );
    assert_eq!(state["tenants"].as_array().unwrap().len(), 2);
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
    let (status, code, message) = graph_error(
        emu.graph(
            Method::GET,
            "/subscriptions",
            &token("https://outlook.office.com", DEFAULT_TENANT_ID),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience."
        )
    );
    let unknown = "0f0f0f0f-0000-4000-8000-000000000000";
    let (status, _, _) = graph_error(
        emu.graph(
            Method::GET,
            "/subscriptions",
            &token("https://graph.microsoft.com", unknown),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    // The GUID audience of v1 tokens is accepted too.
    let guid_aud = token("00000003-0000-0000-c000-000000000000", DEFAULT_TENANT_ID);
    assert_eq!(
        emu.graph(Method::GET, "/subscriptions", &guid_aud, None)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[actix_web::test]
async fn the_mailbox_quota_counts_outlook_subscriptions_per_mailbox() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"mailbox_quota": 2})).await;
    let token = emu.token().await;
    let receiver = receiver(Answer::Echo);
    let sub = |resource: String| json!({"changeType": "created", "notificationUrl": receiver.url, "resource": resource, "expirationDateTime": emu.expires_in(60)});
    assert_eq!(
        emu.create(&token, sub(format!("users/{USER}/messages")))
            .await
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        emu.create(&token, sub(format!("users/{USER}/events")))
            .await
            .status()
            .as_u16(),
        201
    );
    let (status, _, message) = graph_error(
        emu.create(&token, sub(format!("users/{USER}/contacts")))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    assert!(message.contains("per mailbox (2)"), "{message}");
    assert_eq!(
        emu.create(&token, sub("users/another-user/contacts".into()))
            .await
            .status()
            .as_u16(),
        201
    );
}
