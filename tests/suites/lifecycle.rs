//! Subscription upkeep against the emulator and the test clock: renewal across lifetimes,
//! exactly one renewal per round with two workers, lifecycle actions, consent revoked and
//! restored, a forbidden mailbox, and Graph's rate limit.

use graphhook_tests::fixtures::onboarded_contoso;
use std::time::Duration;

use graphhook_domain::platform::entities::{
    subscription::SubscriptionStatus,
    tenant::{self, TenantStatus},
};
use graphhook_tests::{
    TestApp, fixtures::onboarded_receiving, graph::lifecycle_event, waits::until_history_has,
};
use graphhook_tests::{
    client::subscribe,
    fixtures::{TENANT, USER},
    graph::{
        add_mailboxes, change, graph_entries, graph_entry, mailbox, subscription_history,
        subscription_row,
    },
    waits::{deliver_until, delivered_first, settle_until, tick},
};
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::json;

#[tokio::test]
async fn every_kind_stays_alive_across_several_lifetimes_without_the_tenant() {
    let (app, receiver, key) = onboarded_receiving().await;
    let user = USER;
    let cases = [
        (format!("users/{user}/messages"), "created"),
        (format!("users/{user}/events"), "created"),
        (format!("users/{user}/contacts"), "created"),
        ("users".to_owned(), "updated"),
        ("groups".to_owned(), "updated"),
        ("drives/b!drive1/root".to_owned(), "updated"),
    ];
    let mut subs = Vec::new();
    for (resource, change_type) in &cases {
        let id = subscribe(&app, &key, resource, &[change_type]).await;
        let graph_id = subscription_row(&app, &id).await.graph_id.unwrap();
        subs.push((id, graph_id));
    }
    // 90 days in 12-hour steps: three lifetimes of the longest-lived kind (drives, ~29 days)
    // and thirty of the shortest (Outlook, ~70 hours).
    for _ in 0..180 {
        app.clock.advance(chrono::Duration::hours(12));
        tick(&app).await;
        let alive = graph_entries(&app).await;
        for (id, graph_id) in &subs {
            assert!(
                alive
                    .iter()
                    .any(|s| s["subscription"]["id"] == graph_id.as_str()),
                "{id} expired at Graph at {}",
                app.clock.now()
            );
        }
    }
    for (id, graph_id) in &subs {
        let sub = subscription_row(&app, id).await;
        assert_eq!(sub.status, SubscriptionStatus::Active);
        assert_eq!(
            sub.graph_id.as_ref(),
            Some(graph_id),
            "renewed, never recreated"
        );
        assert!(sub.expires_at.unwrap() > app.clock.now());
        let renewals = subscription_history(&app, id)
            .await
            .iter()
            .filter(|(a, t, o)| a == "renew" && t == "schedule" && o == "succeeded")
            .count();
        let at_graph = graph_entry(&app, graph_id).await.unwrap();
        assert!(renewals >= 3, "{id} ({}): {renewals} renewals", sub.kind);
        assert_eq!(
            at_graph["state"]["renewals"].as_u64(),
            Some(renewals as u64),
            "one PATCH per renewal"
        );
    }
    // Still delivering after all that.
    for (resource, change_type) in &cases {
        change(
            &app,
            json!({"tenant": TENANT, "resource": resource, "changeType": change_type, "count": 1}),
        )
        .await;
    }
    let mut expected = std::collections::HashMap::new();
    for kind in ["message", "event", "contact", "user", "group", "drive_item"] {
        let change_type = if matches!(kind, "user" | "group" | "drive_item") {
            "updated"
        } else {
            "created"
        };
        *expected
            .entry(format!("graph.{kind}.{change_type}"))
            .or_insert(0) += 1;
    }
    for (event_type, n) in expected {
        deliver_until(&app, &receiver, &event_type, n).await;
    }
}

#[tokio::test]
async fn two_workers_send_exactly_one_patch_per_subscription_per_round() {
    let mut app = TestApp::spawn_with(|s| s.subscriptions.upkeep_per_tenant = 3).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    add_mailboxes(&app, 0..12).await;
    let mut subs = Vec::new();
    for n in 0..12 {
        let resource = format!("users/{}/messages", mailbox(n));
        let id = subscribe(&app, &key, &resource, &["created"]).await;
        subs.push(subscription_row(&app, &id).await.graph_id.unwrap());
    }
    let first = app.start_worker().await;
    let second = app.start_worker().await;
    for round in 1..=2u64 {
        // Past every renewal time (50–70 % of ~70 hours), before any expiry.
        app.clock.advance(chrono::Duration::hours(50));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let alive = graph_entries(&app).await;
            let renewed = subs
                .iter()
                .filter(|g| {
                    alive.iter().any(|s| {
                        s["subscription"]["id"] == g.as_str()
                            && s["state"]["renewals"].as_u64() >= Some(round)
                    })
                })
                .count();
            if renewed == subs.len() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: {renewed} of {} renewed",
                subs.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Give a second PATCH every chance to happen before counting.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for graph_id in &subs {
            let entry = graph_entry(&app, graph_id).await.unwrap();
            assert_eq!(
                entry["state"]["renewals"].as_u64(),
                Some(round),
                "round {round}: {graph_id}"
            );
        }
    }
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

#[tokio::test]
async fn lifecycle_events_reauthorize_or_recreate_and_deliveries_resume_on_the_new_id() {
    let (app, receiver, key) = onboarded_receiving().await;
    let user = USER;
    let mail = subscribe(&app, &key, &format!("users/{user}/messages"), &["created"]).await;
    let calendar = format!("users/{user}/events");
    let events = subscribe(&app, &key, &calendar, &["created"]).await;
    let mail_graph = subscription_row(&app, &mail).await.graph_id.unwrap();
    let events_graph = subscription_row(&app, &events).await.graph_id.unwrap();

    // reauthorizationRequired → POST /reauthorize, same Graph subscription.
    lifecycle_event(&app, &mail_graph, "reauthorizationRequired").await;
    until_history_has(&app, &mail, "reauthorize", "request", "succeeded").await;
    let entry = graph_entry(&app, &mail_graph).await.unwrap();
    assert_eq!(entry["state"]["reauthorizations"], 1);
    assert_eq!(entry["state"]["renewals"], 0);
    assert!(subscription_history(&app, &mail).await.contains(&(
        "reauthorize".into(),
        "lifecycle:reauthorizationRequired".into(),
        "requested".into()
    )));
    deliver_until(
        &app,
        &receiver,
        "graph.subscription.reauthorization_required",
        1,
    )
    .await;

    // subscriptionRemoved → a new Graph subscription for the same Graphhook subscription.
    lifecycle_event(&app, &events_graph, "subscriptionRemoved").await;
    settle_until(&app, "the recreation", || async {
        subscription_row(&app, &events).await.graph_id.as_deref() != Some(events_graph.as_str())
    })
    .await;
    let recreated = subscription_row(&app, &events).await;
    let new_graph = recreated.graph_id.clone().unwrap();
    assert_eq!(recreated.status, SubscriptionStatus::Active);
    assert!(graph_entry(&app, &events_graph).await.is_none());
    let entry = graph_entry(&app, &new_graph).await.unwrap();
    assert_eq!(entry["subscription"]["resource"], calendar.as_str());
    deliver_until(&app, &receiver, "graph.subscription.removed", 1).await;
    let event = delivered_first(&app, &receiver, "graph.subscription.recreated")
        .await
        .json();
    assert_eq!(event["data"]["subscriptionId"], events.as_str());
    assert_eq!(event["data"]["reason"], "removed");

    // Changes on the new Graph id reach the tenant, under the same subscription id.
    change(
        &app,
        json!({"tenant": TENANT, "resource": calendar, "changeType": "created", "count": 1}),
    )
    .await;
    let delivered = delivered_first(&app, &receiver, "graph.event.created")
        .await
        .json();
    assert_eq!(delivered["data"]["subscriptionId"], events.as_str());

    // missed → the event only; nothing is done at Graph.
    let before = subscription_history(&app, &mail).await.len();
    lifecycle_event(&app, &mail_graph, "missed").await;
    deliver_until(&app, &receiver, "graph.subscription.missed", 1).await;
    tick(&app).await;
    assert_eq!(subscription_history(&app, &mail).await.len(), before);

    // The history is in the tenant api.
    let body = app
        .as_tenant(&key)
        .get_ok(&format!("/api/v1/subscriptions/{events}/actions"))
        .await;
    let actions: Vec<(&str, &str)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![("recreate", "requested"), ("recreate", "succeeded")]
    );
    assert_eq!(body["data"][1]["graph_subscription_id"], new_graph.as_str());
}

#[tokio::test]
async fn revoking_consent_pauses_and_consenting_again_resumes() {
    let (app, receiver, key) = onboarded_receiving().await;
    let user = USER;
    let subs = [
        subscribe(&app, &key, &format!("users/{user}/messages"), &["created"]).await,
        subscribe(&app, &key, "users", &["updated"]).await,
    ];
    // The admin removes the app: Graph challenges every subscription, the challenge asks for a
    // fresh token, and the token endpoint says consent is gone.
    app.emulator_control(Method::DELETE, &format!("/tenants/{TENANT}/consent"), None)
        .await;
    settle_until(&app, "the pause", || async {
        let mut paused = 0;
        for id in &subs {
            paused +=
                usize::from(subscription_row(&app, id).await.status == SubscriptionStatus::Paused);
        }
        paused == subs.len()
    })
    .await;
    let tenant = tenant::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(tenant.status, TenantStatus::ConsentRevoked);
    deliver_until(&app, &receiver, "graph.subscription.paused", 2).await;
    deliver_until(&app, &receiver, "tenant.consent_revoked", 1).await;
    // The tenant can still look (read-only) while consent is gone.
    let view = app
        .as_tenant(&key)
        .get_ok(&format!("/api/v1/subscriptions/{}", subs[0]))
        .await;
    assert_eq!(view["status"], "paused");
    assert!(view["last_error"].as_str().unwrap().contains("AADSTS"));
    let (status, _) = app
        .as_tenant(&key)
        .try_subscribe("groups", &["updated"])
        .await;
    assert_eq!(status, 403, "no changes while consent is gone");

    // The admin consents again: every paused subscription comes back.
    let again = app.grant_consent_again().await;
    assert_eq!(again.status, 200, "{}", again.page);
    settle_until(&app, "the resume", || async {
        let mut resumed = 0;
        for id in &subs {
            let sub = subscription_row(&app, id).await;
            resumed += usize::from(
                sub.status == SubscriptionStatus::Active && sub.last_renewed_at.is_some(),
            );
        }
        resumed == subs.len()
    })
    .await;
    deliver_until(&app, &receiver, "tenant.consent_restored", 1).await;
    deliver_until(&app, &receiver, "graph.subscription.resumed", 2).await;
    for id in &subs {
        let lines = subscription_history(&app, id).await;
        assert!(lines.contains(&("pause".into(), "consent_revoked".into(), "succeeded".into())));
        assert!(lines.contains(&(
            "resume".into(),
            "consent_restored".into(),
            "requested".into()
        )));
        assert!(lines.contains(&("resume".into(), "request".into(), "succeeded".into())));
        assert_eq!(subscription_row(&app, id).await.last_error, None);
    }
    // Notifications flow again.
    change(
        &app,
        json!({"tenant": TENANT, "resource": format!("users/{user}/messages"), "changeType": "created", "count": 1}),
    )
    .await;
    deliver_until(&app, &receiver, "graph.message.created", 1).await;
}

#[tokio::test]
async fn the_same_upkeep_job_run_twice_at_once_renews_once() {
    let (app, key) = onboarded_contoso().await;
    let id = subscribe(&app, &key, "users", &["updated"]).await;
    let graph_id = subscription_row(&app, &id).await.graph_id.unwrap();
    app.clock.advance(chrono::Duration::days(21));
    let now = app.clock.now();
    let claimed = graphhook_domain::graph::subscriptions::upkeep::claim_due(
        &app.db,
        now,
        now + chrono::Duration::minutes(5),
        4,
        10,
        None,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let job = graphhook_domain::platform::jobs::Upkeep {
        subscription: claimed[0].subscription,
        lease: claimed[0].lease,
    };
    // The queue delivers at least once: the same job may run twice, even at the same time.
    let (first, second) = tokio::join!(
        graphhook_worker::jobs::upkeep::run(job.clone(), &app.services),
        graphhook_worker::jobs::upkeep::run(job.clone(), &app.services),
    );
    let mut done = [
        format!("{:?}", first.unwrap()),
        format!("{:?}", second.unwrap()),
    ];
    done.sort();
    assert_eq!(done, ["Renewed".to_owned(), "Skipped".to_owned()]);
    let entry = graph_entry(&app, &graph_id).await.unwrap();
    assert_eq!(entry["state"]["renewals"], 1, "one PATCH");
    // And once more after it finished: nothing.
    let again = graphhook_worker::jobs::upkeep::run(job, &app.services)
        .await
        .unwrap();
    assert_eq!(format!("{again:?}"), "Skipped");
    assert_eq!(
        graph_entry(&app, &graph_id).await.unwrap()["state"]["renewals"],
        1
    );
}

#[tokio::test]
async fn upkeep_is_handed_out_at_most_a_few_per_tenant_at_once() {
    use graphhook_domain::graph::subscriptions::upkeep::{claim_due, release};
    let (app, key) = onboarded_contoso().await;
    add_mailboxes(&app, 0..5).await;
    for n in 0..5 {
        subscribe(
            &app,
            &key,
            &format!("users/{}/messages", mailbox(n)),
            &["created"],
        )
        .await;
    }
    app.clock.advance(chrono::Duration::hours(50));
    let now = app.clock.now();
    let lease = now + chrono::Duration::minutes(5);
    let claim = |per_tenant: u32| claim_due(&app.db, now, lease, per_tenant, 100, None);

    // Two at a time for the tenant, however often the scheduler asks.
    let first = claim(2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(claim(2).await.unwrap().is_empty(), "both slots are taken");
    // One finishes: one more is handed out, never one already held.
    release(&app.db, &first[0]).await.unwrap();
    let next = claim(2).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].subscription, first[1].subscription);
    // With a higher limit the other three come; nothing is handed out twice.
    let rest = claim(10).await.unwrap();
    let mut all: Vec<_> = [first[1], next[0]]
        .iter()
        .chain(rest.iter())
        .map(|c| c.subscription)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5, "every subscription is held, once each");
    assert_eq!(rest.len(), 3);
}
