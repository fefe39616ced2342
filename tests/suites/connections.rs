//! Delegated connections end to end, with the emulator as Entra and Graph: a Microsoft user
//! connects through the authorization URL the tenant api returns, and subscriptions Graph
//! allows only in a signed-in user's name (group conversations, personal OneDrive folders,
//! `me/…`) deliver verified webhooks; who may connect, and what a connection may hold.

use graphhook_domain::{
    delivery::webhooks::crypt::SecretBox,
    platform::entities::{
        audit_log,
        connection::{self, ConnectionStatus},
    },
    tenancy::connections::{self, deletion},
};
use graphhook_tests::{
    CONTOSO_ADMIN, TestApp,
    fixtures::onboarded_receiving,
    waits::{drained_first, tick_at},
};
use graphhook_tests::{
    Tenant, TenantWithEndpoint,
    connections::{
        ALICE, CONSUMERS, CONTOSO_USER, GROUP, connect, connection, follow, follow_link,
        group_conversations, reconnect, start, subscribe_through,
    },
    errors::{Refusal, assert_code, assert_rule},
    fixtures::{TENANT, onboarded_contoso, receiving, verifies_with},
    graph::{change_of, register_app, user_id},
};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

#[tokio::test]
async fn a_work_user_connects_and_a_group_conversation_subscription_delivers_verified_webhooks() {
    let (app, receiver, TenantWithEndpoint { key, secret, .. }) =
        receiving(Tenant::Onboarded).await;
    let id = connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
    let (status, shown) = connection(&app, &key, &id).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["account"], "work");
    assert_eq!(shown["username"], CONTOSO_USER);
    assert_eq!(shown["user_tenant_id"], TENANT);
    assert_eq!(shown["user_id"], user_id(&app, CONTOSO_USER).await);
    assert!(
        shown["granted_scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("Group.Read.All")),
        "{shown}"
    );

    let resource = group_conversations(GROUP);
    let (status, created) =
        subscribe_through(&app, &key, &id, &resource, &["created", "updated"]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "conversation");
    assert_eq!(created["connection_id"], id.as_str());

    change_of(&app, TENANT, &resource, "created").await;
    let webhook = drained_first(&app, &receiver, "graph.conversation.created").await;
    assert!(verifies_with(&webhook, &secret));
    let data = &webhook.json()["data"];
    assert_eq!(data["connectionId"], id.as_str(), "{data}");
    assert_eq!(data["subscriptionId"], created["id"]);
}

#[tokio::test]
async fn a_personal_account_connects_and_a_onedrive_folder_subscription_delivers() {
    let (app, receiver, TenantWithEndpoint { key, secret, .. }) =
        receiving(Tenant::Onboarded).await;
    let id = connect(&app, &key, "personal", &["drive_item"], ALICE).await;
    let (_, shown) = connection(&app, &key, &id).await;
    assert_eq!(shown["account"], "personal");
    assert_eq!(shown["user_tenant_id"], CONSUMERS, "{shown}");
    assert_eq!(shown["username"], ALICE);

    // A folder (not only the root) of a personal OneDrive.
    let (status, created) =
        subscribe_through(&app, &key, &id, "me/drive/items/FOLDER1", &["updated"]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "drive_item");
    let folder = format!("users/{ALICE}/drive/items/FOLDER1");
    change_of(&app, CONSUMERS, &folder, "updated").await;
    let webhook = drained_first(&app, &receiver, "graph.drive_item.updated").await;
    assert!(verifies_with(&webhook, &secret));
    assert_eq!(webhook.json()["data"]["tenantId"], CONSUMERS);
    assert_eq!(webhook.json()["data"]["connectionId"], id.as_str());
}

#[tokio::test]
async fn my_mail_through_a_connection_delivers_and_another_users_mailbox_is_refused() {
    let (app, receiver, TenantWithEndpoint { key, secret, .. }) =
        receiving(Tenant::Onboarded).await;
    let id = connect(&app, &key, "work", &["message", "event"], CONTOSO_USER).await;
    let (status, created) = subscribe_through(&app, &key, &id, "me/messages", &["created"]).await;
    assert_eq!(status, 201, "{created}");
    let me = user_id(&app, CONTOSO_USER).await;
    change_of(&app, TENANT, &format!("users/{me}/messages"), "created").await;
    let webhook = drained_first(&app, &receiver, "graph.message.created").await;
    assert!(verifies_with(&webhook, &secret));

    // A delegated token reaches only the signed-in user's own mailbox.
    let admin = user_id(&app, CONTOSO_ADMIN).await;
    let theirs = format!("users/{admin}/events");
    let answer = subscribe_through(&app, &key, &id, &theirs, &["created"]).await;
    let refused = Refusal::upstream("graph_refused").of(answer);
    assert_eq!(refused["details"]["graph_status"], "403", "{refused}");
    // The connection was not asked for contacts: Graphhook names the permission.
    let answer = subscribe_through(&app, &key, &id, "me/contacts", &["created"]).await;
    let refused = Refusal::forbidden("missing_scope").of(answer);
    assert_eq!(refused["details"]["scope"], "Contacts.Read", "{refused}");
}

#[tokio::test]
async fn only_the_tenants_own_organization_connects_and_a_link_works_once() {
    let (app, key) = onboarded_contoso().await;
    app.onboard_tenant(
        "a9e8e0b7-0d5e-4c2b-9e51-0f3f2f9b7a11",
        "fabrikam.onmicrosoft.com",
        "Fabrikam",
    )
    .await;
    let (status, started) = start(&app, &key, json!({"kinds": ["conversation"]})).await;
    assert_eq!(status, 201, "{started}");
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    let id = started["id"].as_str().unwrap().to_owned();
    let (status, page) = follow(&app, &url, "user@fabrikam.onmicrosoft.com").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("another organization"), "{page}");
    let (_, shown) = connection(&app, &key, &id).await;
    assert_eq!(shown["status"], "pending", "{shown}");
    assert_eq!(shown["user_id"], Value::Null);
    // The link was used up: not even the right user gets in with it now.
    let (status, page) = follow(&app, &url, CONTOSO_USER).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("already used"), "{page}");
    // A personal account cannot take a work connection either.
    let (_, again) = reconnect(&app, &key, &id).await;
    let (status, page) = follow_link(&app, &again, ALICE).await;
    assert!(status >= 400, "{page}");
}

#[tokio::test]
async fn refresh_tokens_are_sealed_in_the_row_and_never_answered_or_logged() {
    let logs = graphhook_tests::capture_logs();
    let (app, _receiver, key) = onboarded_receiving().await;
    let id = connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
    // A refresh (with rotation) goes through the logs too.
    let first = connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    graphhook_domain::tenancy::connections::tokens::access_token(&app.services, first.id, true)
        .await
        .unwrap();
    let row = connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.refresh_token, first.refresh_token, "rotated");
    assert_eq!(row.status, ConnectionStatus::Active);
    let sealed = row.refresh_token.clone().unwrap();
    let secret_box = SecretBox::new(&app.settings.webhook_encryption_key()).unwrap();
    let context = format!("connection:{}:refresh", row.id);
    let plain = String::from_utf8(secret_box.open(&sealed, context.as_bytes()).unwrap()).unwrap();
    assert!(plain.len() >= 32, "a refresh token was stored");
    let needle = plain.as_bytes();
    assert!(
        !sealed.windows(needle.len()).any(|w| w == needle),
        "the row holds the refresh token in the clear"
    );
    // Bound to its row: another connection's context does not open it.
    assert!(
        secret_box
            .open(
                &sealed,
                format!("connection:{}:refresh", uuid::Uuid::new_v4()).as_bytes()
            )
            .is_err()
    );
    let access = secret_box
        .open(
            row.access_token.as_deref().unwrap(),
            format!("connection:{}:access", row.id).as_bytes(),
        )
        .unwrap();
    let access = String::from_utf8(access).unwrap();
    let text = logs.text();
    assert!(text.contains("connection"), "the logs were captured");
    assert!(!text.contains(&plain), "a refresh token was logged");
    assert!(!text.contains(&access), "an access token was logged");
    for path in [
        format!("/api/v1/connections/{id}"),
        "/api/v1/connections".to_owned(),
    ] {
        let response = app.as_tenant(&key).send(Method::GET, &path, None).await;
        let text = response.text().await.unwrap();
        assert!(!text.contains(&plain), "{path} shows the refresh token");
        assert!(!text.contains("refresh_token"), "{path}: {text}");
    }
}

#[tokio::test]
async fn what_a_connection_may_hold_is_checked_before_graph_is_asked() {
    let (app, key) = onboarded_contoso().await;
    // Each refusal names the field and the rule a request broke.
    for (body, field, rule) in [
        (
            json!({"account": "personal", "kinds": ["conversation"]}),
            "kinds",
            "not_for_account",
        ),
        (json!({"kinds": ["user"]}), "kinds", "app_only"),
        (json!({"kinds": []}), "kinds", "required"),
        (
            json!({"kinds": ["conversation"], "login_hint": "a\u{7}b"}),
            "login_hint",
            "invalid",
        ),
    ] {
        let (status, refused) = start(&app, &key, body.clone()).await;
        assert_eq!(status, 422, "{body}: {refused}");
        assert_rule(&refused, "validation_failed", field, rule);
    }
    // A delegated-only resource without a connection names what to do.
    let conversations = group_conversations(GROUP);
    let (status, refused) = app
        .as_tenant(&key)
        .try_subscribe(&conversations, &["created"])
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_rule(
        &refused,
        "validation_failed",
        "connection_id",
        "delegated_only",
    );
    // A pending connection holds nothing yet.
    let (_, pending) = start(&app, &key, json!({"kinds": ["conversation"]})).await;
    let pending = pending["id"].as_str().unwrap();
    let answer = subscribe_through(&app, &key, pending, &conversations, &["created"]).await;
    let refused = Refusal::conflict("connection_not_active").of(answer);
    assert_eq!(refused["details"]["status"], "pending", "{refused}");
}

#[tokio::test]
async fn a_deployment_without_personal_accounts_says_so() {
    let app = TestApp::spawn_with(|s| s.microsoft.personal_accounts = false).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    let personal = json!({"account": "personal", "kinds": ["drive_item"]});
    let (status, refused) = start(&app, &key, personal).await;
    assert_eq!(status, 422, "{refused}");
    assert_rule(
        &refused,
        "validation_failed",
        "account",
        "personal_accounts_disabled",
    );
}

#[tokio::test]
async fn another_tenant_cannot_see_change_or_use_a_connection() {
    let (app, _receiver, key) = onboarded_receiving().await;
    let id = connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
    let other = app
        .onboard_tenant(
            "a9e8e0b7-0d5e-4c2b-9e51-0f3f2f9b7a11",
            "fabrikam.onmicrosoft.com",
            "Fabrikam",
        )
        .await
        .key
        .unwrap();
    let (status, _) = connection(&app, &other, &id).await;
    assert_eq!(status, 404);
    let intruder = app.as_tenant(&other);
    let path = format!("/api/v1/connections/{id}");
    assert_eq!(intruder.status_of(Method::DELETE, &path).await, 404);
    let reconnect_path = format!("/api/v1/connections/{id}/reconnect");
    assert_eq!(intruder.status_of(Method::POST, &reconnect_path).await, 404);
    let conversations = group_conversations(GROUP);
    let (status, refused) =
        subscribe_through(&app, &other, &id, &conversations, &["created"]).await;
    assert_eq!(status, 422, "{refused}");
    let listed = intruder.get_body("/api/v1/connections").await;
    assert_eq!(listed["data"], json!([]));
    let (_, mine) = connection(&app, &key, &id).await;
    assert_eq!(mine["status"], "active");
}

#[tokio::test]
async fn a_user_whose_organization_has_not_granted_the_permission_is_told_an_administrator_must_approve()
 {
    let app = TestApp::spawn().await;
    // Onboarded while the app registration did not yet ask for Group.Read.All delegated.
    let narrow = json!({"delegated_permissions": ["User.Read", "Mail.Read", "Calendars.Read", "Contacts.Read", "Files.ReadWrite"]});
    register_app(&app, narrow).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    let wide = json!({"delegated_permissions": ["User.Read", "Mail.Read", "Calendars.Read", "Contacts.Read", "Files.ReadWrite", "Files.ReadWrite.All", "Group.Read.All"]});
    register_app(&app, wide).await;
    let (_, started) = start(&app, &key, json!({"kinds": ["conversation"]})).await;
    let (status, page) = follow_link(&app, &started, CONTOSO_USER).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("An administrator must approve"), "{page}");
    assert!(page.contains("65001"), "{page}");
    // An administrator grants consent again; the user connects.
    let again = app.grant_consent_again().await;
    assert_eq!(again.status, 200, "{}", again.page);
    connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
}

#[tokio::test]
async fn a_connection_nobody_signed_in_to_is_removed_a_week_after_its_link_expired() {
    let (app, key) = onboarded_contoso().await;
    let connected = connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
    let abandoned = pending(&app, &key).await;
    let kept_for = chrono::Duration::seconds(connections::LINK_TTL_SECS)
        + chrono::Duration::days(deletion::ABANDONED_AFTER_DAYS);
    app.clock.advance(kept_for - chrono::Duration::minutes(1));
    let recent = pending(&app, &key).await;
    tick_at(&app, 0).await;
    let (status, shown) = connection(&app, &key, &abandoned).await;
    assert_eq!(
        (status, &shown["status"]),
        (200, &json!("pending")),
        "{shown}"
    );

    app.clock.advance(chrono::Duration::minutes(2));
    tick_at(&app, 0).await;
    let (status, body) = connection(&app, &key, &abandoned).await;
    assert_code(status, &body, 404, "not_found");
    for kept in [&recent, &connected] {
        let (status, shown) = connection(&app, &key, kept).await;
        assert_eq!(status, 200, "{kept} is kept: {shown}");
    }
    let entry = app.audit_entries("connection.abandoned").await;
    assert_eq!(entry.len(), 1, "one audit entry");
    assert_eq!(entry[0].target_id.as_deref(), Some(abandoned.as_str()));
    assert_eq!(entry[0].actor_kind, audit_log::ActorKind::System);
}

/// Starts a connection nobody signs in to: its id.
async fn pending(app: &TestApp, key: &str) -> String {
    let (status, started) = start(app, key, json!({"kinds": ["conversation"]})).await;
    assert_eq!(status, 201, "{started}");
    started["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn connection_callbacks_are_rate_limited_per_address() {
    let app =
        TestApp::spawn_with(|s| s.api.max_connection_callbacks_per_minute_per_address = 2).await;
    let callback = app.url("/connections/callback?state=unknown&code=unknown");
    for _ in 0..2 {
        let response = app.client.get(&callback).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "an unknown state");
    }
    let response = app.client.get(&callback).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert!(response.text().await.unwrap().contains("Too many sign-ins"));
}
