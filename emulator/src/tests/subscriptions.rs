//! `/subscriptions` (§1, §2, §6, §7).

use reqwest::Method;
use serde_json::{Value, json};

use super::harness::*;
use crate::config::DEFAULT_TENANT_ID;

#[actix_web::test]
async fn a_token_without_the_needed_role_gets_403_on_create() {
    let emu = Emu::spawn().await;
    emu.consent(NEW_TENANT, Some(&["User.Read.All"])).await;
    let token = emu.token_for(NEW_TENANT).await;
    let receiver = receiver(Answer::Echo);
    let (status, code, message) = emu
        .create_error(&token, message_subscription(&emu, &receiver.url))
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

    let users = emu.subscription("updated,deleted", &receiver.url, "users", 60);
    assert_eq!(emu.create_status(&token, users).await, 201);
}

#[actix_web::test]
async fn an_expiry_above_the_maximum_is_rejected_with_graphs_message_or_clamped() {
    let emu = Emu::spawn().await;
    let (token, receiver) = emu.subscriber().await;
    let mut body = message_subscription(&emu, &receiver.url);
    body["expirationDateTime"] = json!(emu.expires_in(4_231));
    let (status, code, message) = emu.create_error(&token, body.clone()).await;
    assert_eq!((status, code.as_str()), (400, "ExtensionError"));
    assert_eq!(
        message,
        "Subscription expiration can only be 4230 minutes in the future."
    );

    body["expirationDateTime"] = json!(emu.expires_in(-1));
    assert_eq!(emu.create_error(&token, body.clone()).await.0, 400);

    emu.behaviour(json!({"lifetime_policy": "clamp"})).await;
    body["expirationDateTime"] = json!(emu.expires_in(10_000));
    let created = emu.subscribe(&token, body).await;
    assert_eq!(created["expirationDateTime"], emu.expires_in(4_230));
}

#[actix_web::test]
async fn resource_and_change_type_rules_follow_graph() {
    let emu = Emu::spawn_with(accept_unknown_users).await;
    let (token, receiver) = emu.subscriber().await;
    let create = |resource: &str, change_type: &str| json!({"changeType": change_type, "notificationUrl": receiver.url, "resource": resource, "expirationDateTime": emu.expires_in(60)});
    for (resource, change_type) in [
        ("users", "created"),
        ("drives/b!abc/root", "updated,deleted"),
        ("users/abc/calendar", "updated"),
        ("me/messages", "created"),
        ("drives/b!abc/items/folder1", "updated"),
        ("https://graph.microsoft.com/v1.0/users", "updated"),
    ] {
        let (status, code, _) = emu
            .create_error(&token, create(resource, change_type))
            .await;
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidRequest"),
            "{resource} {change_type}"
        );
    }
    // §6.2: application access to group conversations is not supported.
    let (status, code, message) = emu
        .create_error(&token, create("groups/g1/conversations", "created"))
        .await;
    assert_eq!(
        (status, code.as_str()),
        (403, "ExtensionError"),
        "{message}"
    );
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
    let emu = Emu::spawn_with(accept_unknown_users).await;
    let (token, receiver) = emu.subscriber().await;
    let body = message_subscription(&emu, &receiver.url);
    let first = emu.create_json(&token, body.clone()).await;
    let (status, _, message) = emu.create_error(&token, body.clone()).await;
    assert_eq!(status, 409);
    assert!(message.contains(first["id"].as_str().unwrap()), "{message}");

    let mut long_state = body.clone();
    long_state["resource"] = json!("users/other/messages");
    long_state["clientState"] = json!("x".repeat(129));
    assert_eq!(emu.create_error(&token, long_state).await.0, 400);

    let mut plain_http = body.clone();
    plain_http["resource"] = json!("users/other/messages");
    plain_http["notificationUrl"] = json!("http://relay.example.com/graph");
    let (_, _, message) = emu.create_error(&token, plain_http).await;
    assert!(message.contains("https"), "{message}");

    let mut rich = body.clone();
    rich["resource"] = json!("users/other/messages");
    rich["includeResourceData"] = json!(true);
    assert_eq!(
        emu.create_error(&token, rich.clone()).await.0,
        400,
        "rich needs a certificate"
    );
    rich["encryptionCertificate"] = json!(APP_CERT);
    rich["encryptionCertificateId"] = json!("key-1");
    rich["expirationDateTime"] = json!(emu.expires_in(1_441));
    let (_, _, message) = emu.create_error(&token, rich.clone()).await;
    assert_eq!(
        message, "Subscription expiration can only be 1440 minutes in the future.",
        "rich Outlook: 1 day"
    );
    rich["expirationDateTime"] = json!(emu.expires_in(1_440));
    assert_eq!(emu.create_status(&token, rich).await, 201);

    let mut missing = body.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("expirationDateTime");
    let (_, _, message) = emu.create_error(&token, missing).await;
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
    let (token, receiver) = emu.subscriber().await;
    let body = json!({"changeType": "created", "notificationUrl": receiver.url, "resource": "teams/getAllMessages", "expirationDateTime": emu.expires_in(120)});
    let (_, _, message) = emu.create_error(&token, body).await;
    assert_eq!(
        message,
        "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour."
    );
}

#[actix_web::test]
async fn renew_update_reauthorize_delete_and_expiry() {
    let emu = Emu::spawn().await;
    let sub = emu.subscribed().await;

    let renewed = emu
        .graph(
            Method::PATCH,
            &sub.path,
            &sub.token,
            Some(json!({"expirationDateTime": emu.expires_in(4_000)})),
        )
        .await;
    assert_eq!(renewed.status().as_u16(), 200);
    let renewed: Value = renewed.json().await.unwrap();
    assert_eq!(
        renewed["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(4_000))
            .format("%Y-%m-%dT%H:%M:%S.0000000Z")
            .to_string()
    );
    assert_eq!(sub.rx.seen().len(), 1, "a renewal does not validate again");

    let (status, _, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &sub.path,
            &sub.token,
            Some(json!({"resource": "users"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "resource is not patchable");
    let (status, _, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &sub.path,
            &sub.token,
            Some(json!({"lifecycleNotificationUrl": sub.rx.url})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "lifecycleNotificationUrl is not patchable");

    let moved = receiver(Answer::Echo);
    let updated = emu
        .graph(
            Method::PATCH,
            &sub.path,
            &sub.token,
            Some(json!({"notificationUrl": moved.url})),
        )
        .await;
    assert_eq!(updated.status().as_u16(), 200);
    assert_eq!(moved.seen().len(), 1, "a new URL is validated");
    let refused = receiver(Answer::Accepted);
    let (_, code, _) = graph_error(
        emu.graph(
            Method::PATCH,
            &sub.path,
            &sub.token,
            Some(json!({"notificationUrl": refused.url})),
        )
        .await,
    )
    .await;
    assert_eq!(code, "ValidationError");

    assert_eq!(emu.reauthorize(&sub.id, &sub.token).await, 204);

    // Graph deletes a subscription once it expires.
    emu.clock.advance(chrono::Duration::minutes(4_001));
    let fresh = emu.token().await;
    expect_graph_error(
        emu.graph(Method::GET, &sub.path, &fresh, None).await,
        404,
        "ResourceNotFound",
        "The object was not found.",
    )
    .await;

    let again = emu
        .create_json(&fresh, message_subscription(&emu, &sub.rx.url))
        .await;
    let path = format!("/subscriptions/{}", again["id"].as_str().unwrap());
    assert_eq!(emu.graph_status(Method::DELETE, &path, &fresh).await, 204);
    assert_eq!(emu.graph_status(Method::DELETE, &path, &fresh).await, 404);
}

#[actix_web::test]
async fn directory_quotas_give_403_naming_the_limit() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"directory_quota_per_app": 1})).await;
    let (token, receiver) = emu.subscriber().await;
    let users = emu.subscription("updated", &receiver.url, "users", 60);
    assert_eq!(emu.create_status(&token, users).await, 201);
    let groups = emu.subscription("updated", &receiver.url, "groups", 60);
    let (status, _, message) = emu.create_error(&token, groups).await;
    assert_eq!(status, 403);
    assert!(
        message.contains("per application per tenant (1)"),
        "{message}"
    );
}

#[actix_web::test]
async fn the_control_api_shows_state_and_expires_or_deletes_subscriptions() {
    let emu = Emu::spawn().await;
    let sub = emu.subscribed().await;

    let all = emu.control_json(Method::GET, "/subscriptions", None).await;
    assert_eq!(all[0]["subscription"]["id"], sub.id);
    assert_eq!(all[0]["state"]["tenantId"], DEFAULT_TENANT_ID);
    assert_eq!(all[0]["state"]["kind"], "message");

    let expire = format!("{}/expire", sub.path);
    assert_eq!(emu.control_status(Method::POST, &expire, None).await, 204);
    assert_eq!(
        emu.graph_status(Method::GET, &sub.path, &sub.token).await,
        404
    );

    let state = emu.control_json(Method::GET, "/state", None).await;
    assert!(
        state["app"]["secrets"][0].get("value").is_none(),
        "secret values are never shown"
    );
    // Contoso, Fabrikam and the built-in consumers tenant of personal accounts.
    assert_eq!(state["tenants"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn the_mailbox_quota_counts_outlook_subscriptions_per_mailbox() {
    let emu = Emu::spawn_with(accept_unknown_users).await;
    emu.behaviour(json!({"mailbox_quota": 2})).await;
    let (token, receiver) = emu.subscriber().await;
    let sub = |resource: &str| emu.subscription("created", &receiver.url, resource, 60);
    for folder in ["messages", "events"] {
        let mailbox = format!("users/{USER}/{folder}");
        assert_eq!(emu.create_status(&token, sub(&mailbox)).await, 201);
    }
    let (status, _, message) = emu
        .create_error(&token, sub(&format!("users/{USER}/contacts")))
        .await;
    assert_eq!(status, 403);
    assert!(message.contains("per mailbox (2)"), "{message}");
    let another = sub("users/another-user/contacts");
    assert_eq!(emu.create_status(&token, another).await, 201);
}
