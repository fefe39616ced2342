//! What the operator console reads: tenant names on subscription rows and audit entries, and
//! the audit log filtered by action (exact or `prefix.*`) and actor, with the tenant and paging.

use graphhook_domain::{platform::entities::tenant, platform::ids::TenantId};
use graphhook_tests::{TestApp, fixtures::onboarded_receiving};
use graphhook_tests::{client::subscribe, waits::tick_at};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";

/// A call to the operator api as `operator`.
async fn audit_log(app: &TestApp, query: &str) -> Value {
    let (status, page) = app
        .as_operator_named("alice")
        .get(&format!("/admin/v1/audit-log?{query}"))
        .await;
    assert_eq!(status, 200, "{query}: {page}");
    page
}

/// `(action, actor_id, tenant_name)` of each entry of a page.
fn entries(page: &Value) -> Vec<(String, String, Value)> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor_id"].as_str().unwrap_or_default().to_owned(),
                e["tenant_name"].clone(),
            )
        })
        .collect()
}

async fn tenant_id(app: &TestApp, name: &str) -> String {
    let tenant = tenant::Entity::find()
        .filter(tenant::Column::Name.eq(name))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    TenantId::from(tenant.id).to_string()
}

#[tokio::test]
async fn subscription_rows_carry_their_tenants_name() {
    let (app, _receiver, key) = onboarded_receiving().await;
    let alice = app.as_operator_named("alice");
    let sub = subscribe(&app, &key, "users", &["updated"]).await;
    app.create_tenant(FABRIKAM, "Fabrikam").await;

    let (status, subs) = alice.get("/admin/v1/subscriptions").await;
    assert_eq!(status, 200, "{subs}");
    assert_eq!(subs["data"].as_array().unwrap().len(), 1, "{subs}");
    assert_eq!(subs["data"][0]["id"], sub.as_str());
    assert_eq!(subs["data"][0]["tenant_name"], "Contoso");
    assert_eq!(
        subs["data"][0]["tenant_id"],
        tenant_id(&app, "Contoso").await.as_str()
    );
    let (status, renewing) = alice
        .post(&format!("/admin/v1/subscriptions/{sub}/renew"))
        .await;
    assert_eq!(status, 202, "{renewing}");
    assert_eq!(renewing["tenant_name"], "Contoso");
}

#[tokio::test]
async fn audit_entries_carry_the_tenants_name_until_its_data_is_removed() {
    let app = TestApp::spawn().await;
    let alice = app.as_operator_named("alice");
    app.create_tenant(FABRIKAM, "Fabrikam").await;
    let fabrikam = tenant_id(&app, "Fabrikam").await;
    let (status, _) = alice.suspend(&fabrikam, "unpaid invoice").await;
    assert_eq!(status, 200);
    let (status, _) = alice.post_json("/admin/v1/probes", json!({})).await;
    assert_eq!(status, 202);

    let page = audit_log(&app, "").await;
    let found = entries(&page);
    assert_eq!(
        found[0],
        ("probe.queued".into(), "alice".into(), Value::Null)
    );
    assert_eq!(
        found[1],
        ("tenant.suspended".into(), "alice".into(), json!("Fabrikam"))
    );
    assert_eq!(page["data"][1]["tenant_id"], fabrikam.as_str());

    // Offboarded, its name is still there; once its data is removed, it is not.
    let (status, report) = alice
        .post_json(
            &format!("/admin/v1/tenants/{fabrikam}/offboard"),
            json!({"confirm": "Fabrikam"}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let page = audit_log(&app, "action=tenant.offboarded").await;
    assert_eq!(page["data"][0]["tenant_name"], "Fabrikam");
    app.clock.advance(chrono::Duration::days(31));
    tick_at(&app, 60 * 1_000).await;
    assert!(tenant::Entity::find().one(&app.db).await.unwrap().is_none());
    let page = audit_log(&app, "action=tenant.*").await;
    let found = entries(&page);
    assert_eq!(
        found.iter().map(|(a, _, _)| a.as_str()).collect::<Vec<_>>(),
        [
            "tenant.data_removed",
            "tenant.offboarded",
            "tenant.suspended",
            "tenant.created"
        ]
    );
    for entry in page["data"].as_array().unwrap() {
        assert_eq!(entry["tenant_name"], Value::Null, "{entry}");
        assert_eq!(entry["tenant_id"], Value::Null, "{entry}");
    }
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_action_prefix_and_actor_with_the_tenant_and_paging() {
    let app = TestApp::spawn().await;
    app.create_contoso().await;
    app.create_tenant(FABRIKAM, "Fabrikam").await;
    let contoso = tenant_id(&app, "Contoso").await;
    let fabrikam = tenant_id(&app, "Fabrikam").await;
    for (operator, path, body) in [
        (
            "alice",
            format!("/admin/v1/tenants/{contoso}/suspend"),
            json!({"reason": "unpaid"}),
        ),
        (
            "bob",
            format!("/admin/v1/tenants/{fabrikam}/suspend"),
            json!({"reason": "abuse"}),
        ),
        (
            "alice",
            format!("/admin/v1/tenants/{contoso}/resume"),
            json!({}),
        ),
        ("alice", "/admin/v1/probes".to_owned(), json!({})),
    ] {
        let (status, answer) = app.as_operator_named(operator).post_json(&path, body).await;
        assert!([200, 202].contains(&status), "{path}: {answer}");
    }

    // A prefix.
    let found = entries(&audit_log(&app, "action=tenant.*").await);
    assert_eq!(
        found,
        [
            ("tenant.resumed".into(), "alice".into(), json!("Contoso")),
            ("tenant.suspended".into(), "bob".into(), json!("Fabrikam")),
            ("tenant.suspended".into(), "alice".into(), json!("Contoso")),
            (
                "tenant.created".into(),
                "onboarding".into(),
                json!("Fabrikam")
            ),
            (
                "tenant.created".into(),
                "onboarding".into(),
                json!("Contoso")
            ),
        ]
    );
    // Exactly one action; a prefix without `.*` is an action of its own (there is none).
    let found = entries(&audit_log(&app, "action=tenant.suspended").await);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(a, _, _)| a == "tenant.suspended"));
    assert_eq!(audit_log(&app, "action=tenant").await["data"], json!([]));
    assert_eq!(audit_log(&app, "action=tenan.*").await["data"], json!([]));
    // `_` in a prefix is matched literally, not as any character.
    assert_eq!(audit_log(&app, "action=tenan_.*").await["data"], json!([]));
    let found = entries(&audit_log(&app, "action=probe.*").await);
    assert_eq!(
        found,
        [("probe.queued".into(), "alice".into(), Value::Null)]
    );

    // An actor.
    let found = entries(&audit_log(&app, "actor=bob").await);
    assert_eq!(
        found,
        [("tenant.suspended".into(), "bob".into(), json!("Fabrikam"))]
    );
    assert_eq!(audit_log(&app, "actor=carol").await["data"], json!([]));
    assert_eq!(audit_log(&app, "actor=ALICE").await["data"], json!([]));

    // Combined with the tenant.
    let found = entries(&audit_log(&app, &format!("tenant_id={fabrikam}&action=tenant.*")).await);
    assert_eq!(
        found,
        [
            ("tenant.suspended".into(), "bob".into(), json!("Fabrikam")),
            (
                "tenant.created".into(),
                "onboarding".into(),
                json!("Fabrikam")
            ),
        ]
    );
    let found = entries(
        &audit_log(
            &app,
            &format!("tenant_id={contoso}&actor=alice&action=tenant.suspended"),
        )
        .await,
    );
    assert_eq!(
        found,
        [("tenant.suspended".into(), "alice".into(), json!("Contoso"))]
    );
    assert_eq!(
        audit_log(&app, &format!("tenant_id={contoso}&actor=bob")).await["data"],
        json!([])
    );

    // Paged: the filters hold on every page.
    let mut seen = Vec::new();
    let mut query = "action=tenant.*&actor=alice&limit=1".to_owned();
    loop {
        let page = audit_log(&app, &query).await;
        seen.extend(entries(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("action=tenant.*&actor=alice&limit=1&cursor={cursor}"),
            None => break,
        }
        assert!(seen.len() <= 3, "{seen:?}");
    }
    assert_eq!(
        seen,
        [
            ("tenant.resumed".into(), "alice".into(), json!("Contoso")),
            ("tenant.suspended".into(), "alice".into(), json!("Contoso")),
        ]
    );
}

#[tokio::test]
async fn bad_audit_log_filters_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.as_operator_named("alice");
    let long_actor = "a".repeat(201);
    let long_action = "a".repeat(101);
    for (query, expected, code) in [
        ("action=", 422, "validation_failed"),
        ("action=*", 422, "validation_failed"),
        ("action=.*", 422, "validation_failed"),
        ("action=tenant*", 422, "validation_failed"),
        ("action=tenant.", 422, "validation_failed"),
        ("action=tenant.%25", 422, "validation_failed"),
        ("action=tenant.*.x", 422, "validation_failed"),
        ("action=Tenant.Suspended", 422, "validation_failed"),
        (&format!("action={long_action}"), 422, "validation_failed"),
        ("actor=", 422, "validation_failed"),
        ("actor=%20%20", 422, "validation_failed"),
        ("actor=al%0Aice", 422, "validation_failed"),
        (&format!("actor={long_actor}"), 422, "validation_failed"),
        ("action=tenant.*&tenant_id=contoso", 400, "invalid_query"),
        ("actor=alice&operator=alice", 400, "invalid_query"),
        ("actor=alice&limit=0", 422, "validation_failed"),
    ] {
        let (status, body) = alice.get(&format!("/admin/v1/audit-log?{query}")).await;
        assert_eq!(status, expected, "{query}: {body}");
        assert_eq!(body["code"], code, "{query}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let page = audit_log(&app, "action=tenant.*&actor=alice").await;
    assert_eq!(page["data"], json!([]));
}
