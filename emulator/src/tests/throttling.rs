//! Throttling of slow endpoints (§3.4). Graph's slow threshold is 2,900 ms under a 3 s
//! timeout; these tests set it to 200 ms (timeout 2 s) through the behaviour switches so that a
//! "slow" answer takes 300 ms instead of 3 s. Every notification goes in its own POST
//! (`max_batch_items = 1`), so each one's latency is its own. The 10-minute window passes on the
//! shared manual clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{harness::*, inbox::*};
use crate::{EmulatorConfig, config::DEFAULT_TENANT_ID};

const SLOW_ANSWER_MS: u64 = 300;

fn scaled_down(c: &mut EmulatorConfig) {
    c.behaviour.slow_threshold_ms = 200;
    c.behaviour.delivery_timeout_ms = 2_000;
    c.behaviour.max_batch_items = 1;
}

fn messages() -> String {
    format!("users/{USER}/messages")
}

fn created(count: u32) -> Value {
    json!({"tenant": DEFAULT_TENANT_ID, "resource": messages(), "changeType": "created", "count": count})
}

async fn subscribe(emu: &Emu, notifications: &Inbox, lifecycle: &Inbox) {
    let token = emu.token().await;
    emu.subscribe(
        &token,
        json!({"changeType": "created", "resource": messages(),
               "notificationUrl": notifications.url, "lifecycleNotificationUrl": lifecycle.url,
               "expirationDateTime": emu.expires_in(4_000)}),
    )
    .await;
}

/// A receiver whose every `every`-th answer among the first `first` is slow.
fn slow_inbox(every: usize, first: usize) -> Inbox {
    inbox_with(move |n| {
        if n < first && n % every == 0 {
            (202, SLOW_ANSWER_MS)
        } else {
            (202, 0)
        }
    })
}

fn endpoint<'a>(deliveries: &'a Value, url: &str) -> &'a Value {
    deliveries["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == url)
        .unwrap()
}

#[actix_web::test]
async fn ten_percent_slow_answers_over_a_hundred_notifications_delay_new_ones_ten_minutes() {
    let emu = Emu::spawn_with(scaled_down).await;
    // 11 of 110 answers (10 %) slow.
    let notifications = slow_inbox(10, 110);
    let lifecycle = inbox();
    subscribe(&emu, &notifications, &lifecycle).await;
    assert_eq!(emu.change(created(110)).await.len(), 110);
    let deliveries = emu
        .wait_for_deliveries("110 attempts", |d| count(d, "attempts") == 110)
        .await;
    let state = endpoint(&deliveries, &notifications.url);
    assert_eq!(
        (&state["state"], &state["samples"], &state["slow"]),
        (&json!("slow"), &json!(110), &json!(11)),
        "{state}"
    );

    // A new notification waits 10 minutes.
    assert_eq!(emu.change(created(1)).await.len(), 1);
    let deliveries = emu.deliveries().await;
    let due: DateTime<Utc> = deliveries["pending"][0]["dueAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due - emu.clock.now(), Duration::minutes(10));
    assert_eq!(count(&deliveries, "attempts"), 110);

    // The window resets: the endpoint is no longer slow, the delayed notification goes out.
    emu.clock.advance(Duration::minutes(10));
    let deliveries = emu
        .wait_for_deliveries("the delayed notification", |d| count(d, "attempts") == 111)
        .await;
    assert_eq!(endpoint(&deliveries, &notifications.url)["state"], "normal");
    assert_eq!(count(&deliveries, "dropped"), 0);
}

#[actix_web::test]
async fn fifteen_percent_slow_answers_drop_notifications_and_tell_outlook_subscribers() {
    let emu = Emu::spawn_with(scaled_down).await;
    // 17 of the first 100 answers slow: the ratio counts only from the 100th notification on.
    let notifications = slow_inbox(6, 100);
    let lifecycle = inbox();
    subscribe(&emu, &notifications, &lifecycle).await;
    emu.change(created(110)).await;
    let deliveries = emu
        .wait_for_deliveries("100 attempts, then 10 dropped", |d| {
            count(d, "attempts") >= 100 && count(d, "dropped") == 10
        })
        .await;
    let state = endpoint(&deliveries, &notifications.url);
    assert_eq!(
        (&state["state"], &state["samples"], &state["slow"]),
        (&json!("drop"), &json!(100), &json!(17)),
        "{state}"
    );
    let to_notifications = |d: &Value| {
        d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["url"] == notifications.url.as_str())
            .count()
    };
    assert_eq!(to_notifications(&deliveries), 100);
    assert!(
        deliveries["dropped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["reason"] == "throttled")
    );

    // Outlook subscriptions hear of the loss by one `missed` at the lifecycle URL.
    let posts = lifecycle.wait_for_posts(1).await;
    assert_eq!(posts[0].body["value"][0]["lifecycleEvent"], "missed");

    // New notifications are dropped at once while the state lasts.
    assert!(emu.change(created(1)).await.is_empty());
    let deliveries = emu.deliveries().await;
    assert_eq!(count(&deliveries, "dropped"), 11);
    assert_eq!(to_notifications(&deliveries), 100);

    // The next window starts afresh.
    emu.clock.advance(Duration::minutes(10));
    assert_eq!(emu.change(created(1)).await.len(), 1);
    let deliveries = emu
        .wait_for_deliveries("a delivery after the window", |d| {
            to_notifications(d) == 101
        })
        .await;
    assert_eq!(endpoint(&deliveries, &notifications.url)["state"], "normal");
    assert_eq!(lifecycle.received().len(), 1, "one missed per window");
}
