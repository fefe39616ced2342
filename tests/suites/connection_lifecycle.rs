//! A connection over time, against the emulator and the test clock: refresh-token revocation
//! and interaction required pause its subscriptions until its user connects again; rotating
//! refresh tokens (strict: a used one is worthless) carry subscriptions across lifetimes, also
//! with two worker processes and with two brokers refreshing at once; lifecycle events are
//! answered with the user's token; deleting a connection, or offboarding its tenant, deletes its
//! subscriptions at Graph; SharePoint site drives resolve app-only.

use std::time::Duration;

use graphhook_domain::{
    Services,
    graph::microsoft::TokenBroker,
    platform::entities::{
        connection::{self, ConnectionStatus},
        subscription::SubscriptionStatus,
    },
    tenancy::connections,
};
use graphhook_tests::poll::poll;
use graphhook_tests::{
    Mode, Receiver, TestApp, fixtures::onboarded_receiving, graph::lifecycle_event,
    waits::until_history_has,
};
use graphhook_tests::{
    connections::{
        CONTOSO_USER, Connected, connected_to_conversations, connection, follow_link,
        group_conversations, new_conversation, reconnect, subscribe_through,
    },
    errors::Refusal,
    fixtures::TENANT,
    graph::user_id,
    graph::{
        behave, change_of, graph_entries, graph_entry, subscription_history, subscription_row,
    },
    waits::{deliver_until, settle_until},
};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// A fresh app, a receiver, and Contoso's user connected and subscribed to conversations.
async fn connected() -> (TestApp, Receiver, Connected) {
    connected_where(false).await
}

/// As [`connected`], with the emulator's refresh tokens strict (a used one is worthless) from
/// the start.
async fn strictly_connected() -> (TestApp, Receiver, Connected) {
    connected_where(true).await
}

async fn connected_where(strict: bool) -> (TestApp, Receiver, Connected) {
    let app = TestApp::spawn().await;
    if strict {
        behave(&app, json!({"strict_refresh_tokens": true})).await;
    }
    let receiver = Receiver::start(Mode::Echo);
    let connected = connected_to_conversations(&app, &receiver).await;
    (app, receiver, connected)
}

/// Connected, then the emulator's `trouble` (a POST on the user, with `body`) strikes: once the
/// subscription's renewal is due, the connection pauses it.
async fn paused_by(trouble: &str, body: Option<Value>) -> (TestApp, Receiver, Connected) {
    let (app, receiver, connected) = connected().await;
    app.emulator_control(
        Method::POST,
        &format!("/tenants/{TENANT}/users/{CONTOSO_USER}/{trouble}"),
        body,
    )
    .await;
    renew_time(&app, &connected.subscription).await;
    until_paused(&app, &connected.subscription).await;
    (app, receiver, connected)
}

/// Waits (ticking) until the subscription is paused.
async fn until_paused(app: &TestApp, sub: &str) {
    settle_until(app, "the pause", || async {
        subscription_row(app, sub).await.status == SubscriptionStatus::Paused
    })
    .await;
}

/// The token endpoint's refresh-token grants: (all, succeeded).
async fn refresh_grants(app: &TestApp) -> (u64, u64) {
    let calls = app.emulator_control(Method::GET, "/calls", None).await;
    let count = |name: &str| {
        calls[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} in {calls}"))
    };
    (
        count("refresh_token_grants"),
        count("refresh_token_grants_succeeded"),
    )
}

async fn the_connection(app: &TestApp) -> connection::Model {
    connection::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// Moves the clock to the subscription's next renewal and lets the upkeep run.
async fn renew_time(app: &TestApp, sub: &str) {
    let due = subscription_row(app, sub).await.due_at.unwrap();
    app.clock.set(due + chrono::Duration::seconds(1));
}

#[tokio::test]
async fn a_revoked_refresh_token_pauses_the_connection_until_its_user_connects_again() {
    let (app, receiver, connected) = paused_by("revoke-sessions", None).await;
    let Connected {
        key,
        connection: id,
        subscription: sub,
    } = connected;
    let (_, shown) = connection(&app, &key, &id).await;
    assert_eq!(shown["status"], "reauthorization_required", "{shown}");
    assert!(
        shown["last_error"].as_str().unwrap().contains("50173"),
        "{shown}"
    );
    deliver_until(&app, &receiver, "connection.reauthorization_required", 1).await;
    deliver_until(&app, &receiver, "graph.subscription.paused", 1).await;
    let told = receiver.first_of("connection.reauthorization_required");
    assert_eq!(told.json()["data"]["connectionId"], id.as_str());
    assert_eq!(told.json()["data"]["pausedSubscriptions"], 1);
    // Nothing new is made through it meanwhile; the answer says the connection is not active.
    let other_group = group_conversations(uuid::Uuid::from_u128(7));
    let answer = subscribe_through(&app, &key, &id, &other_group, &["created"]).await;
    let refused = Refusal::conflict("connection_not_active").of(answer);
    assert_eq!(
        refused["details"]["status"], "reauthorization_required",
        "{refused}"
    );
    assert!(subscription_history(&app, &sub).await.contains(&(
        "pause".into(),
        "connection_reauthorization_required".into(),
        "succeeded".into()
    )));

    // The same user connects again: the subscription resumes and notifications flow.
    let (status, again) = reconnect(&app, &key, &id).await;
    assert_eq!(status, 200, "{again}");
    let (status, page) = follow_link(&app, &again, CONTOSO_USER).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("resuming"), "{page}");
    settle_until(&app, "the resume", || async {
        subscription_history(&app, &sub)
            .await
            .iter()
            .any(|(action, _, outcome)| action == "resume" && outcome == "succeeded")
    })
    .await;
    deliver_until(&app, &receiver, "connection.restored", 1).await;
    deliver_until(&app, &receiver, "graph.subscription.resumed", 1).await;
    assert_eq!(
        subscription_row(&app, &sub).await.status,
        SubscriptionStatus::Active
    );
    new_conversation(&app).await;
    deliver_until(&app, &receiver, "graph.conversation.created", 1).await;
}

#[tokio::test]
async fn interaction_required_asks_the_user_to_connect_again() {
    let (app, receiver, connected) =
        paused_by("require-interaction", Some(json!({"code": 50076}))).await;
    let (_, shown) = connection(&app, &connected.key, &connected.connection).await;
    assert_eq!(shown["status"], "reauthorization_required");
    let reason = shown["last_error"].as_str().unwrap();
    assert!(
        reason.contains("interaction_required") && reason.contains("50076"),
        "{reason}"
    );
    deliver_until(&app, &receiver, "connection.reauthorization_required", 1).await;
}

#[tokio::test]
async fn rotating_refresh_tokens_carry_subscriptions_across_lifetimes() {
    let (app, _receiver, connected) = strictly_connected().await;
    let sub = connected.subscription;
    let first_expiry = subscription_row(&app, &sub).await.expires_at.unwrap();
    let before = refresh_grants(&app).await;
    for round in 1..=4 {
        let renewed_before = subscription_row(&app, &sub).await.last_renewed_at;
        renew_time(&app, &sub).await;
        settle_until(&app, "a renewal", || async {
            subscription_row(&app, &sub).await.last_renewed_at != renewed_before
        })
        .await;
        let now = subscription_row(&app, &sub).await;
        assert_eq!(now.status, SubscriptionStatus::Active, "round {round}");
        assert_eq!(the_connection(&app).await.status, ConnectionStatus::Active);
    }
    // Four renewals, hours apart: each needed a fresh token from a rotated refresh token, and
    // the subscription now lives well past its first lifetime.
    let after = refresh_grants(&app).await;
    assert!(after.1 >= before.1 + 4, "{before:?} → {after:?}");
    assert_eq!(after.0 - before.0, after.1 - before.1, "no refresh failed");
    assert!(
        subscription_row(&app, &sub).await.expires_at.unwrap()
            > first_expiry + chrono::Duration::days(4)
    );
}

#[tokio::test]
async fn two_brokers_refreshing_one_connection_at_once_never_lose_the_rotated_token() {
    let (app, _receiver, _) = strictly_connected().await;
    let id = the_connection(&app).await.id;
    // Two processes' brokers, each with its own memory, asking for fresh tokens together.
    let other = TokenBroker::new(&app.settings.microsoft, app.clock.clone()).unwrap();
    let one = app.services.clone();
    let two = Services {
        broker: std::sync::Arc::new(other),
        ..app.services.clone()
    };
    let before = refresh_grants(&app).await;
    let asks = (0..6).map(|i| {
        let services = if i % 2 == 0 { &one } else { &two };
        connections::tokens::access_token(services, id, true)
    });
    let results = futures::future::join_all(asks).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let after = refresh_grants(&app).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (6, 6),
        "one refresh after another, none refused"
    );
    assert_eq!(the_connection(&app).await.status, ConnectionStatus::Active);
    // And the last rotated token still works.
    assert!(
        connections::tokens::access_token(&one, id, true)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn two_worker_processes_renew_a_connections_subscriptions_without_losing_its_token() {
    let (mut app, _receiver, connected) = strictly_connected().await;
    let Connected {
        key,
        connection: id,
        subscription: first,
    } = connected;
    let mut subs = vec![first];
    for n in 1..4 {
        let group = group_conversations(uuid::Uuid::from_u128(n));
        let (status, created) = subscribe_through(&app, &key, &id, &group, &["created"]).await;
        assert_eq!(status, 201, "{created}");
        subs.push(created["id"].as_str().unwrap().to_owned());
    }
    let _one = app.start_worker().await;
    let _two = app.start_worker().await;
    let mut latest = app.clock.now();
    for sub in &subs {
        latest = latest.max(subscription_row(&app, sub).await.due_at.unwrap());
    }
    app.clock.set(latest + chrono::Duration::seconds(1));
    poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let mut renewed = 0;
            for sub in &subs {
                renewed += usize::from(subscription_row(&app, sub).await.last_renewed_at.is_some());
            }
            if renewed == subs.len() {
                Ok(())
            } else {
                Err(format!("{renewed} renewed"))
            }
        },
    )
    .await;
    assert_eq!(the_connection(&app).await.status, ConnectionStatus::Active);
    for sub in &subs {
        assert_eq!(
            subscription_row(&app, sub).await.status,
            SubscriptionStatus::Active
        );
    }
}

#[tokio::test]
async fn deleting_a_connection_deletes_its_subscriptions_at_graph() {
    let (app, _receiver, connected) = connected().await;
    let Connected {
        key,
        connection: id,
        subscription: sub,
    } = connected;
    assert_eq!(graph_entries(&app).await.len(), 1);
    let path = format!("/api/v1/connections/{id}");
    assert_eq!(
        app.as_tenant(&key).status_of(Method::DELETE, &path).await,
        204
    );
    assert_eq!(graph_entries(&app).await.len(), 0, "deleted at Graph");
    assert_eq!(
        subscription_row(&app, &sub).await.status,
        SubscriptionStatus::Deleted
    );
    let (status, _) = connection(&app, &key, &id).await;
    assert_eq!(status, 404);
    let stored = the_connection(&app).await;
    assert_eq!((stored.refresh_token, stored.access_token), (None, None));
}

#[tokio::test]
async fn a_sharepoint_site_drive_is_resolved_and_delivers_app_only() {
    let (app, receiver, key) = onboarded_receiving().await;
    let site = "contoso.sharepoint.com,2c3b1a4e-0000-4000-8000-000000000001,7d1e5f0a-0000-4000-8000-000000000002";
    let asked = format!("sites/{site}/drive/root");
    let tenant = app.as_tenant(&key);
    let (status, created) = tenant.try_subscribe(&asked, &["updated"]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["resource"], asked.as_str());
    let graph_resource = created["graph_resource"].as_str().unwrap().to_owned();
    assert!(
        graph_resource.starts_with("drives/") && graph_resource.ends_with("/root"),
        "{created}"
    );
    assert_eq!(created["connection_id"], Value::Null);
    change_of(&app, TENANT, &graph_resource, "updated").await;
    deliver_until(&app, &receiver, "graph.drive_item.updated", 1).await;

    let answer = tenant
        .try_subscribe("sites/missing-site/drive/root", &["updated"])
        .await;
    Refusal::conflict("site_not_found").of(answer);
}

#[tokio::test]
async fn lifecycle_events_reauthorize_and_recreate_with_the_users_token() {
    let (app, receiver, connected) = connected().await;
    let sub = connected.subscription;
    let user = user_id(&app, CONTOSO_USER).await;
    let graph_id = subscription_row(&app, &sub).await.graph_id.unwrap();
    lifecycle_event(&app, &graph_id, "reauthorizationRequired").await;
    until_history_has(&app, &sub, "reauthorize", "request", "succeeded").await;
    let entry = graph_entry(&app, &graph_id).await.unwrap();
    assert_eq!(entry["state"]["reauthorizations"], 1);

    lifecycle_event(&app, &graph_id, "subscriptionRemoved").await;
    settle_until(&app, "the recreation", || async {
        subscription_row(&app, &sub).await.graph_id.as_deref() != Some(graph_id.as_str())
    })
    .await;
    let recreated = subscription_row(&app, &sub).await;
    assert_eq!(recreated.status, SubscriptionStatus::Active);
    let entry = graph_entry(&app, &recreated.graph_id.unwrap())
        .await
        .unwrap();
    // Graph created it again in the user's name (an app-only create of a conversation fails).
    assert_eq!(entry["subscription"]["creatorId"], user.as_str(), "{entry}");
    deliver_until(&app, &receiver, "graph.subscription.recreated", 1).await;
    new_conversation(&app).await;
    deliver_until(&app, &receiver, "graph.conversation.created", 1).await;
}

#[tokio::test]
async fn offboarding_deletes_a_connections_subscriptions_at_graph_and_ends_it() {
    let (app, _receiver, connected) = connected().await;
    let sub = connected.subscription;
    assert_eq!(graph_entries(&app).await.len(), 1);
    let (status, report) = app.as_tenant(&connected.key).offboard("Contoso").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deleted_connections"], 1, "{report}");
    assert_eq!(
        graph_entries(&app).await.len(),
        0,
        "deleted at Graph with the user's token"
    );
    assert_eq!(
        subscription_row(&app, &sub).await.status,
        SubscriptionStatus::Deleted
    );
    let stored = the_connection(&app).await;
    assert_eq!(stored.status, ConnectionStatus::Deleted);
    assert_eq!((stored.refresh_token, stored.access_token), (None, None));
}
