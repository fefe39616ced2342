//! Retries and their horizon (§3.4), no delivery once a subscription is gone, duplicates and
//! reordering on demand (§3.5). The 4 h horizon passes on the shared manual clock: each test
//! moves the clock to the next retry's due time instead of waiting.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, inbox::*};
use crate::config::DEFAULT_TENANT_ID;

fn users_subscription(emu: &Emu, url: &str) -> Value {
    emu.subscription("updated", url, "users", 600)
}

fn user_updated() -> Value {
    change_of(DEFAULT_TENANT_ID, &format!("users/{USER}"), "updated")
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .to_utc()
}

/// Moves the clock to the one waiting notification's due time and waits for its attempt;
/// returns the wait since the previous attempt.
async fn next_retry(emu: &Emu, attempts_before: usize) -> Duration {
    let deliveries = emu.deliveries().await;
    let due = time(&deliveries["pending"][0]["dueAt"]);
    let waited = due - emu.clock.now();
    emu.clock.set(due);
    emu.wait_for_deliveries("the next attempt", |d| {
        count(d, "attempts") > attempts_before
    })
    .await;
    waited
}

#[actix_web::test]
async fn a_failing_receiver_is_retried_with_backoff_and_then_recovers() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let inbox = inbox_with(|n| if n < 3 { (500 + n as u16, 0) } else { (202, 0) });
    emu.subscribe(&token, users_subscription(&emu, &inbox.url))
        .await;
    emu.change(user_updated()).await;
    emu.wait_for_deliveries("the first attempt", |d| {
        count(d, "attempts") == 1 && count(d, "pending") == 1
    })
    .await;

    let mut waits = Vec::new();
    for attempts in 1..4 {
        waits.push(next_retry(&emu, attempts).await.num_seconds());
    }
    assert_eq!(waits, vec![60, 120, 240], "exponential backoff from 1 min");

    let deliveries = emu.deliveries().await;
    let attempts = deliveries["attempts"].as_array().unwrap();
    let outcome: Vec<(Value, Value, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a["retry"].clone(),
                a["status"].clone(),
                a["delivered"] == true,
            )
        })
        .collect();
    assert_eq!(
        outcome,
        vec![
            (json!(0), json!(500), false),
            (json!(1), json!(501), false),
            (json!(2), json!(502), false),
            (json!(3), json!(202), true),
        ]
    );
    assert_eq!(count(&deliveries, "pending"), 0);
    assert_eq!(count(&deliveries, "dropped"), 0);
    let posts = inbox.received();
    assert_eq!(posts.len(), 4);
    assert!(
        posts.iter().all(|p| p.body == posts[0].body),
        "a retry carries the same notification"
    );
}

#[actix_web::test]
async fn a_receiver_that_never_recovers_is_retried_for_four_hours_then_dropped() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let inbox = inbox_with(|_| (503, 0));
    emu.subscribe(&token, users_subscription(&emu, &inbox.url))
        .await;
    let queued_at = emu.clock.now();
    emu.change(user_updated()).await;
    emu.wait_for_deliveries("the first attempt", |d| count(d, "pending") == 1)
        .await;

    let mut attempts = 1;
    while count(&emu.deliveries().await, "pending") == 1 {
        next_retry(&emu, attempts).await;
        attempts += 1;
        assert!(attempts < 50, "retries end");
    }
    let deliveries = emu.deliveries().await;
    let times: Vec<i64> = deliveries["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (time(&a["at"]) - queued_at).num_minutes())
        .collect();
    // 1, 2, 4, … minutes apart, at most an hour apart, the last one at the 4 h horizon.
    assert_eq!(times, vec![0, 1, 3, 7, 15, 31, 63, 123, 183, 240]);
    let dropped = &deliveries["dropped"];
    assert_eq!(dropped.as_array().unwrap().len(), 1);
    assert_eq!(dropped[0]["reason"], "retryHorizon");
    assert_eq!(dropped[0]["item"]["retry"], 9);
    assert_eq!(inbox.received().len(), 10);
}

#[actix_web::test]
async fn nothing_is_delivered_after_the_subscription_was_deleted_or_expired() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let inbox = inbox_with(|_| (500, 0));
    let users = emu
        .subscribe(&token, users_subscription(&emu, &inbox.url))
        .await;
    let mailbox = format!("users/{USER}/messages");
    let messages = emu.subscription("created", &inbox.url, &mailbox, 2);
    let messages = emu.subscribe(&token, messages).await;
    emu.change(json!([
        user_updated(),
        change_of(DEFAULT_TENANT_ID, &mailbox, "created")
    ]))
    .await;
    emu.wait_for_deliveries("both waiting for a retry", |d| {
        count(d, "attempts") == 1 && count(d, "pending") == 2
    })
    .await;

    let id = users["id"].as_str().unwrap();
    let deleted = emu
        .graph_status(Method::DELETE, &format!("/subscriptions/{id}"), &token)
        .await;
    assert_eq!(deleted, 204);
    // Past the retry, and past the message subscription's expiration.
    emu.clock.advance(Duration::minutes(3));
    let deliveries = emu
        .wait_for_deliveries("both dropped", |d| count(d, "dropped") == 2)
        .await;
    let reason_for = |subscription: &Value| {
        deliveries["dropped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["item"]["subscriptionId"] == *subscription)
            .map(|d| d["reason"].clone())
    };
    assert_eq!(reason_for(&users["id"]), Some(json!("subscriptionDeleted")));
    assert_eq!(
        reason_for(&messages["id"]),
        Some(json!("subscriptionExpired"))
    );
    assert_eq!(count(&deliveries, "attempts"), 1);
    assert_eq!(count(&deliveries, "pending"), 0);
    assert_eq!(inbox.received().len(), 1, "no retry reached the receiver");
}

#[actix_web::test]
async fn duplicates_and_reordering_happen_on_demand() {
    let (emu, inbox, _) = subscribed(users_subscription).await;
    let queued = emu
        .change(
            json!({"tenant": DEFAULT_TENANT_ID, "resource": "users", "changeType": "updated",
                       "count": 3, "reorder": true, "duplicates": 1}),
        )
        .await;
    assert_eq!(queued.len(), 6);
    let seqs: Vec<u64> = queued.iter().map(|q| q["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs[0] > seqs[1] && seqs[1] > seqs[2],
        "made in one order, sent in the other: {seqs:?}"
    );

    let posts = inbox.wait_for_posts(1).await;
    let items = posts[0].body["value"].as_array().unwrap();
    let resources: Vec<&Value> = items.iter().map(|i| &i["resource"]).collect();
    let expected: Vec<&Value> = queued.iter().map(|q| &q["resource"]).collect();
    assert_eq!(resources, expected, "delivered in the reordered order");
    assert_eq!(items[3..], items[..3], "then each one again, identical");
}
