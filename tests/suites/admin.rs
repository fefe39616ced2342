//! The operator api: operator tokens, tenants (find, inspect, suspend, resume, offboard),
//! subscriptions across tenants and forced renewals, each audited under the operator's name;
//! and the tenant's own offboarding.

use graphhook_tests::fixtures::onboarded_contoso;
use std::time::Duration;

use graphhook_domain::{
    operator::tokens,
    platform::entities::{
        audit_log,
        subscription::{self, SubscriptionStatus},
        tenant::{self, TenantStatus},
    },
    platform::secret::SecretString,
};
use graphhook_tests::errors::Refusal;
use graphhook_tests::{
    TestApp, app::ADMIN_SIGNING_KEY, fixtures::onboarded_receiving, waits::settle_until,
};
use graphhook_tests::{
    client::subscribe,
    fixtures::TENANT,
    graph::change,
    waits::{drain_until, tick_at},
};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// The latest audit entry with `action`: (actor kind, actor id).
async fn audited(app: &TestApp, action: &str) -> Option<(audit_log::ActorKind, Option<String>)> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .order_by_desc(audit_log::Column::CreatedAt)
        .one(&app.db)
        .await
        .unwrap()
        .map(|e| (e.actor_kind, e.actor_id))
}

#[tokio::test]
async fn operator_tokens_are_checked_and_actions_audited_under_the_operators_name() {
    let app = TestApp::spawn().await;
    let alice = app.as_operator_named("alice");
    let routes = [
        (Method::GET, "/admin/v1/tenants"),
        (Method::GET, "/admin/v1/subscriptions"),
        (Method::GET, "/admin/v1/audit-log"),
        (Method::GET, "/admin/v1/queues"),
        (Method::GET, "/admin/v1/deliveries/stats"),
        (Method::GET, "/admin/v1/credential"),
        (Method::GET, "/admin/v1/encryption-certificates"),
        (
            Method::POST,
            "/admin/v1/tenants/ten_01a2254154d971fa93ff63f9783c66c4/suspend",
        ),
        (
            Method::POST,
            "/admin/v1/subscriptions/sub_01a2254154d971fa93ff63f9783c66c4/renew",
        ),
    ];
    let key = SecretString::from(ADMIN_SIGNING_KEY);
    let expired = tokens::mint(
        &key,
        "alice",
        chrono::Duration::minutes(5),
        app.clock.now() - chrono::Duration::minutes(10),
    )
    .unwrap();
    let wrong_key = tokens::mint(
        &SecretString::from("another-signing-key-0123456789abcdef-xyz"),
        "alice",
        chrono::Duration::hours(1),
        app.clock.now(),
    )
    .unwrap();
    for (method, path) in &routes {
        for (token, expected) in [
            (None, "missing"),
            (Some(expired.as_str()), "expired"),
            (Some(wrong_key.as_str()), "invalid"),
            (Some("ghk_a-tenant-key-is-not-an-operator-token"), "invalid"),
        ] {
            let mut request = app.client.request(method.clone(), app.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "unauthorized");
            assert_eq!(body["details"]["rule"], expected, "{body}");
        }
    }
    // A valid token works, and what it does carries its name.
    let (status, _) = alice.post_json("/admin/v1/probes", json!({})).await;
    assert_eq!(status, 202);
    assert_eq!(
        audited(&app, "probe.queued").await,
        Some((audit_log::ActorKind::Operator, Some("alice".into())))
    );
    let (status, log) = alice.get("/admin/v1/audit-log").await;
    assert_eq!(status, 200);
    assert_eq!(log["data"][0]["actor_id"], "alice");
}

#[tokio::test]
async fn operators_find_tenants_and_see_their_state() {
    let (app, receiver, key) = onboarded_receiving().await;
    let alice = app.as_operator_named("alice");
    let sub = subscribe(&app, &key, "users", &["updated"]).await;
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let _ = other;

    let (status, all) = alice.get("/admin/v1/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let (_, found) = alice.get("/admin/v1/tenants?search=cont").await;
    let found = found["data"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["name"], "Contoso");
    assert_eq!(found[0]["subscriptions"], 1);
    assert_eq!(found[0]["endpoints"], 1);
    let (_, by_entra) = alice
        .get(&format!("/admin/v1/tenants?search={TENANT}"))
        .await;
    assert_eq!(by_entra["data"][0]["name"], "Contoso");
    let (_, suspended) = alice.get("/admin/v1/tenants?status=suspended").await;
    assert_eq!(suspended["data"], json!([]));
    let (status, bad) = alice.get("/admin/v1/tenants?status=sleeping").await;
    assert_eq!(status, 400, "{bad}");

    change(
        &app,
        json!({"tenant": TENANT, "resource": "users", "changeType": "updated", "count": 1}),
    )
    .await;
    drain_until(&app, &receiver, "graph.user.updated", 1).await;
    let id = found[0]["id"].as_str().unwrap();
    let (status, detail) = alice.get(&format!("/admin/v1/tenants/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["tenant"]["status"], "active");
    assert!(
        detail["consent"]["roles"].as_array().unwrap().len() >= 5,
        "{detail}"
    );
    assert_eq!(detail["api_keys"].as_array().unwrap().len(), 1);
    assert!(detail["api_keys"][0]["prefix"].is_string());
    assert!(detail["api_keys"][0].get("secret_hash").is_none());
    assert_eq!(detail["endpoints"][0]["status"], "active");
    assert_eq!(detail["subscriptions"][0]["id"], sub.as_str());
    assert!(detail["subscriptions"][0]["expires_at"].is_string());
    assert!(detail["delivery_health"]["attempts_24h"].as_i64().unwrap() >= 1);
    let (status, _) = alice
        .get("/admin/v1/tenants/ten_01a2254154d971fa93ff63f9783c66c4")
        .await;
    assert_eq!(status, 404);

    // Subscriptions across tenants, and a forced renewal.
    let (status, subs) = alice
        .get("/admin/v1/subscriptions?expiring_within_hours=800")
        .await;
    assert_eq!(status, 200);
    assert_eq!(subs["data"][0]["id"], sub.as_str());
    let (_, none) = alice
        .get("/admin/v1/subscriptions?expiring_within_hours=1")
        .await;
    assert_eq!(none["data"], json!([]));
    let (status, renewing) = alice
        .post(&format!("/admin/v1/subscriptions/{sub}/renew"))
        .await;
    assert_eq!(status, 202, "{renewing}");
    assert_eq!(
        audited(&app, "subscription.renewal_forced").await,
        Some((audit_log::ActorKind::Operator, Some("alice".into())))
    );
    settle_until(&app, "the forced renewal", || async {
        subscription::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .last_renewed_at
            .is_some()
    })
    .await;
    let at_graph = app
        .emulator_control(Method::GET, "/subscriptions", None)
        .await;
    assert_eq!(at_graph[0]["state"]["renewals"], 1);
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_and_its_deliveries_wait_until_it_is_resumed() {
    let (app, receiver, key) = onboarded_receiving().await;
    let alice = app.as_operator_named("alice");
    subscribe(&app, &key, "users", &["updated"]).await;
    let tenant = tenant::Entity::find().one(&app.db).await.unwrap().unwrap();
    let id = graphhook_domain::platform::ids::TenantId::from(tenant.id).to_string();

    let (status, _) = alice.suspend(&id, "").await;
    assert_eq!(status, 422);
    let (status, suspended) = alice.suspend(&id, "unpaid invoice").await;
    assert_eq!(status, 200, "{suspended}");
    assert_eq!(suspended["status"], "suspended");
    // Under test: the tenant is told the operator's reason.
    let answer = app.as_tenant(&key).get("/api/v1/tenant").await;
    let body = Refusal::forbidden("tenant_not_active").of(answer);
    assert_eq!(body["details"]["tenant_status"], "suspended", "{body}");
    assert_eq!(
        body["details"]["reason"], "suspended by an operator: unpaid invoice",
        "{body}"
    );
    assert_eq!(
        audited(&app, "tenant.suspended").await,
        Some((audit_log::ActorKind::Operator, Some("alice".into())))
    );
    let (status, _) = alice.suspend(&id, "again").await;
    assert_eq!(status, 409, "already suspended");

    // What Graph sends meanwhile is kept, and waits.
    let before = receiver.count("graph.user.updated");
    change(
        &app,
        json!({"tenant": TENANT, "resource": "users", "changeType": "updated", "count": 1}),
    )
    .await;
    settle_until(&app, "the held delivery", || async {
        graphhook_domain::platform::entities::delivery::Entity::find()
            .filter(
                graphhook_domain::platform::entities::delivery::Column::LastError
                    .eq(graphhook_domain::delivery::engine::HELD_WHILE_SUSPENDED),
            )
            .one(&app.db)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    tick_at(&app, app.clock.now().timestamp()).await;
    assert_eq!(
        receiver.count("graph.user.updated"),
        before,
        "nothing delivered while suspended"
    );

    app.clock.advance(chrono::Duration::minutes(5));
    let (status, resumed) = alice.post(&format!("/admin/v1/tenants/{id}/resume")).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["status"], "active");
    settle_until(&app, "the delivery after resuming", || async {
        receiver.count("graph.user.updated") > before
    })
    .await;
    assert_eq!(app.as_tenant(&key).get_status("/api/v1/tenant").await, 200);
    assert_eq!(
        audited(&app, "tenant.resumed").await,
        Some((audit_log::ActorKind::Operator, Some("alice".into())))
    );
}

#[tokio::test]
async fn offboarding_deletes_at_graph_revokes_keys_and_removes_the_data_later() {
    let (app, _receiver, key) = onboarded_receiving().await;
    let alice = app.as_operator_named("alice");
    subscribe(&app, &key, "users", &["updated"]).await;
    subscribe(&app, &key, "groups", &["updated"]).await;
    assert_eq!(
        app.emulator_control(Method::GET, "/subscriptions", None)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let tenant = tenant::Entity::find().one(&app.db).await.unwrap().unwrap();
    let id = graphhook_domain::platform::ids::TenantId::from(tenant.id).to_string();
    let path = format!("/admin/v1/tenants/{id}/offboard");
    let (status, _) = alice.post_json(&path, json!({"confirm": "contoso"})).await;
    assert_eq!(status, 422, "the name must match exactly");
    let (status, report) = alice.post_json(&path, json!({"confirm": "Contoso"})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deleted_subscriptions"], 2);
    assert_eq!(report["subscriptions_left_at_graph"], 0);
    assert_eq!(report["revoked_keys"], 1);
    assert_eq!(
        app.emulator_control(Method::GET, "/subscriptions", None)
            .await,
        json!([]),
        "deleted at Graph"
    );
    assert_eq!(
        app.as_tenant(&key).get_status("/api/v1/tenant").await,
        401,
        "the key is revoked"
    );
    assert_eq!(
        audited(&app, "tenant.offboarded").await,
        Some((audit_log::ActorKind::Operator, Some("alice".into())))
    );
    let subs = subscription::Entity::find().all(&app.db).await.unwrap();
    assert!(subs.iter().all(|s| s.status == SubscriptionStatus::Deleted));
    // Its administrator signing in again does not bring an offboarded tenant back.
    let again = app.onboard("Contoso").await;
    assert!(again.page.contains("offboarded") && !again.page.contains("grant-again"));
    let tenant = tenant::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(tenant.status, TenantStatus::Offboarded);

    // The data stays for the retention window, then goes.
    app.clock.advance(chrono::Duration::days(29));
    tick_at(&app, 60 * 1_000).await;
    assert!(tenant::Entity::find().one(&app.db).await.unwrap().is_some());
    app.clock.advance(chrono::Duration::days(2));
    tick_at(&app, 60 * 1_001).await;
    assert!(tenant::Entity::find().one(&app.db).await.unwrap().is_none());
    assert!(
        subscription::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(audited(&app, "tenant.data_removed").await.is_some());
    assert!(
        audited(&app, "tenant.offboarded").await.is_some(),
        "the audit log stays"
    );
}

#[tokio::test]
async fn a_tenant_can_offboard_itself_with_a_confirmation() {
    let (app, key) = onboarded_contoso().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    for body in [json!({}), json!({"confirm": "Fabrikam"})] {
        let response = app
            .as_tenant(&key)
            .send(Method::DELETE, "/api/v1/tenant", Some(body.clone()))
            .await;
        assert!(
            [400, 422].contains(&response.status().as_u16()),
            "{body}: {}",
            response.status()
        );
    }
    let (status, report) = app.as_tenant(&key).offboard("Contoso").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deleted_subscriptions"], 1);
    assert!(report["data_removed_after"].is_string());
    assert_eq!(
        app.emulator_control(Method::GET, "/subscriptions", None)
            .await,
        json!([])
    );
    let (kind, _) = audited(&app, "tenant.offboarded").await.unwrap();
    assert_eq!(kind, audit_log::ActorKind::Tenant);
    assert_eq!(app.as_tenant(&key).get_status("/api/v1/tenant").await, 401);
}

#[tokio::test]
async fn an_operator_token_can_be_revoked_before_it_expires() {
    let app = TestApp::spawn().await;
    // Each holds one token, minted once.
    let alice = app.as_operator_named("alice");
    let bob = app.as_operator_named("bob");
    let me = alice.get_ok("/admin/v1/me").await;
    assert_eq!(me["name"], "alice");
    let alice_id = me["token_id"].as_str().unwrap().to_owned();
    assert!(me["expires_at"].is_string());

    // Bob revokes Alice's token by its id; Alice is out, Bob is not.
    let revoke = "/admin/v1/operator-tokens/revoke";
    let (status, body) = bob.post_json(revoke, json!({"token_id": alice_id})).await;
    assert_eq!(status, 200, "{body}");
    Refusal::unauthorized("revoked").of(alice.get("/admin/v1/tenants").await);
    assert_eq!(bob.get("/admin/v1/tenants").await.0, 200);
    assert_eq!(
        audited(&app, "operator_token.revoked").await,
        Some((audit_log::ActorKind::Operator, Some("bob".into())))
    );

    // A leaked token is revoked by presenting it; a made-up one is refused.
    let leaked = app.operator_token_for("carol");
    for (body, expected) in [
        (json!({"token": leaked}), 200),
        (json!({"token": "not-a-token"}), 422),
        (json!({}), 422),
    ] {
        let (status, answer) = bob.post_json(revoke, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    let carol = app.as_operator_bearing(&leaked);
    assert_eq!(carol.get("/admin/v1/me").await.0, 401);
}
