//! Subscription upkeep when Graph refuses or struggles: a forbidden mailbox, Graph's rate
//! limit, an outage.

use graphhook_domain::platform::entities::{
    subscription::SubscriptionStatus,
    tenant::{self, TenantStatus},
};
use graphhook_tests::fixtures::onboarded_contoso;
use graphhook_tests::fixtures::onboarded_receiving;
use graphhook_tests::graph::behave;
use graphhook_tests::{
    client::subscribe,
    fixtures::USER,
    graph::{add_mailboxes, graph_entry, mailbox, subscription_history, subscription_row},
    waits::{deliver_until, delivered_first, settle_until, tick},
};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

#[tokio::test]
async fn a_forbidden_mailbox_fails_only_its_own_subscription() {
    let (app, receiver, key) = onboarded_receiving().await;
    add_mailboxes(&app, 1..=2).await;
    let blocked = mailbox(1);
    let open = mailbox(2);
    let blocked_sub = subscribe(
        &app,
        &key,
        &format!("users/{blocked}/messages"),
        &["created"],
    )
    .await;
    let open_sub = subscribe(&app, &key, &format!("users/{open}/messages"), &["created"]).await;
    let group_sub = subscribe(&app, &key, "groups", &["updated"]).await;
    // An Exchange application access policy now excludes one mailbox.
    behave(&app, json!({"blocked_mailboxes": [blocked]})).await;
    app.clock.advance(chrono::Duration::hours(50));
    settle_until(&app, "the renewals", || async {
        subscription_row(&app, &blocked_sub).await.status == SubscriptionStatus::Failed
            && subscription_row(&app, &open_sub)
                .await
                .last_renewed_at
                .is_some()
    })
    .await;
    let failed = subscription_row(&app, &blocked_sub).await;
    assert!(
        failed.last_error.as_deref().unwrap().contains("403"),
        "{failed:?}"
    );
    assert_eq!(
        subscription_row(&app, &open_sub).await.status,
        SubscriptionStatus::Active
    );
    assert_eq!(
        subscription_row(&app, &group_sub).await.status,
        SubscriptionStatus::Active
    );
    let tenant = tenant::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(tenant.status, TenantStatus::Active);
    let event = delivered_first(&app, &receiver, "graph.subscription.renewal_failed")
        .await
        .json();
    assert_eq!(event["data"]["subscriptionId"], blocked_sub.as_str());
    assert_eq!(event["data"]["status"], "failed");
    // A failed subscription is left alone: no more calls for it.
    app.clock.advance(chrono::Duration::hours(30));
    tick(&app).await;
    assert_eq!(
        subscription_history(&app, &blocked_sub)
            .await
            .iter()
            .filter(|(_, _, o)| o == "failed")
            .count(),
        1
    );
    let view = app
        .as_tenant(&key)
        .get_body(&format!("/api/v1/subscriptions/{blocked_sub}"))
        .await;
    assert_eq!(view["status"], "failed");
    assert_eq!(view["renews_at"], Value::Null);
}

#[tokio::test]
async fn under_graphs_rate_limit_every_renewal_finishes_before_its_subscription_expires() {
    let (app, key) = onboarded_contoso().await;
    add_mailboxes(&app, 0..20).await;
    let mut subs = Vec::new();
    for n in 0..20 {
        let id = subscribe(
            &app,
            &key,
            &format!("users/{}/messages", mailbox(n)),
            &["created"],
        )
        .await;
        let sub = subscription_row(&app, &id).await;
        subs.push((id, sub.graph_id.unwrap(), sub.expires_at.unwrap()));
    }
    // Five subscription calls per 20 seconds for the app in this tenant.
    behave(
        &app,
        json!({"rate_limit_per_app": 5, "rate_window_secs": 20}),
    )
    .await;
    app.emulator_control(Method::DELETE, "/calls", None).await;
    // Every renewal is due (50–70 % of the lifetime) and the window starts.
    app.clock.advance(chrono::Duration::hours(50));
    let mut steps = 0;
    loop {
        tick(&app).await;
        let mut renewed = 0;
        for (id, _, _) in &subs {
            renewed += usize::from(subscription_row(&app, id).await.last_renewed_at.is_some());
        }
        if renewed == subs.len() {
            break;
        }
        steps += 1;
        assert!(steps < 600, "{renewed} of {} renewed", subs.len());
        app.clock.advance(chrono::Duration::seconds(2));
    }
    let calls = app.emulator_control(Method::GET, "/calls", None).await;
    assert!(calls["throttled"].as_u64().unwrap() > 0, "{calls}");
    for (id, graph_id, expires_at) in &subs {
        let sub = subscription_row(&app, id).await;
        assert!(
            sub.last_renewed_at.unwrap() < *expires_at,
            "{id} renewed in time"
        );
        assert_eq!(sub.graph_id.as_ref(), Some(graph_id), "never recreated");
        assert_eq!(sub.failures, 0, "throttling is not a failure");
        let entry = graph_entry(&app, graph_id).await.unwrap();
        assert_eq!(entry["state"]["renewals"], 1);
    }
    // Every call (the renewals, and the reconciler's listing) succeeded or was throttled.
    assert_eq!(
        calls["total"].as_u64().unwrap(),
        calls["byStatus"]["200"].as_u64().unwrap_or(0) + calls["throttled"].as_u64().unwrap(),
        "{calls}"
    );
}

#[tokio::test]
async fn a_graph_outage_is_retried_with_backoff_and_the_tenant_warned_before_expiry() {
    let (app, receiver, key) = onboarded_receiving().await;
    let user = USER;
    let id = subscribe(&app, &key, &format!("users/{user}/messages"), &["created"]).await;
    let first = subscription_row(&app, &id).await;
    let expires_at = first.expires_at.unwrap();
    behave(&app, json!({"outage_status": 500})).await;
    app.clock.advance(chrono::Duration::hours(50));
    let mut waits = Vec::new();
    while app.clock.now() < expires_at {
        tick(&app).await;
        let sub = subscription_row(&app, &id).await;
        if let Some(due) = sub.due_at
            && due > app.clock.now()
            && waits.last() != Some(&due)
        {
            waits.push(due);
        }
        app.clock.advance(chrono::Duration::minutes(10));
    }
    let sub = subscription_row(&app, &id).await;
    assert_eq!(
        sub.status,
        SubscriptionStatus::Active,
        "an outage fails nothing"
    );
    assert!(sub.failures >= 5, "{sub:?}");
    assert!(
        sub.last_error.as_deref().unwrap().contains("500"),
        "{sub:?}"
    );
    // The waits grow: each retry comes later after the previous one than the one before.
    let gaps: Vec<i64> = waits
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .collect();
    assert!(gaps.len() >= 4, "{waits:?}");
    assert!(gaps.last() > gaps.first(), "{gaps:?}");
    let warning = delivered_first(&app, &receiver, "graph.subscription.renewal_failed")
        .await
        .json();
    assert_eq!(warning["data"]["subscriptionId"], id.as_str());
    assert_eq!(warning["data"]["status"], "active");
    assert_eq!(
        receiver.count("graph.subscription.renewal_failed"),
        1,
        "the tenant is told once"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("graphhook_subscription_actions_total{")
                && l.contains("action=\"renew\"")
                && l.contains("outcome=\"failed\"")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("graphhook_subscription_nearest_expiry_seconds ")),
        "{metrics}"
    );

    // Graph is back, but the subscription expired meanwhile: it is created again.
    behave(&app, json!({"outage_status": null})).await;
    app.clock.advance(chrono::Duration::hours(1));
    settle_until(&app, "the recreation", || async {
        subscription_row(&app, &id).await.graph_id != first.graph_id
    })
    .await;
    let sub = subscription_row(&app, &id).await;
    assert_eq!((sub.status, sub.failures), (SubscriptionStatus::Active, 0));
    assert!(sub.expires_at.unwrap() > app.clock.now());
    assert!(subscription_history(&app, &id).await.contains(&(
        "recreate".into(),
        "not_found".into(),
        "succeeded".into()
    )));
    deliver_until(&app, &receiver, "graph.subscription.recreated", 1).await;
}
