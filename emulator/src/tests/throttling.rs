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

/// A scaled-down emulator with a message subscription whose receiver is `notifications`.
struct Throttled {
    emu: Emu,
    notifications: Inbox,
    lifecycle: Inbox,
}

impl Throttled {
    /// Subscribes to [`slow_inbox`]`(every, first)`, then creates 110 messages; returns how many
    /// notifications were queued.
    async fn after_110_messages(every: usize, first: usize) -> (Self, usize) {
        let emu = Emu::spawn_with(scaled_down).await;
        let (notifications, lifecycle) = (slow_inbox(every, first), inbox());
        let mut body = emu.subscription("created", &notifications.url, &messages(), 4_000);
        body["lifecycleNotificationUrl"] = json!(lifecycle.url);
        emu.subscribe(&emu.token().await, body).await;
        let queued = emu.change(created(110)).await.len();
        let throttled = Self {
            emu,
            notifications,
            lifecycle,
        };
        (throttled, queued)
    }

    /// The notification endpoint's throttling `state`, `samples` and `slow` answers.
    fn endpoint_state(&self, deliveries: &Value) -> (Value, Value, Value) {
        let state = endpoint(deliveries, &self.notifications.url);
        (
            state["state"].clone(),
            state["samples"].clone(),
            state["slow"].clone(),
        )
    }
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
    // 11 of 110 answers (10 %) slow.
    let (setup, queued) = Throttled::after_110_messages(10, 110).await;
    assert_eq!(queued, 110);
    let (emu, notifications) = (&setup.emu, &setup.notifications);
    let deliveries = emu
        .wait_for_deliveries("110 attempts", |d| count(d, "attempts") == 110)
        .await;
    assert_eq!(
        setup.endpoint_state(&deliveries),
        (json!("slow"), json!(110), json!(11))
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
    // 17 of the first 100 answers slow: the ratio counts only from the 100th notification on.
    let (setup, _) = Throttled::after_110_messages(6, 100).await;
    let (emu, notifications, lifecycle) = (&setup.emu, &setup.notifications, &setup.lifecycle);
    let deliveries = emu
        .wait_for_deliveries("100 attempts, then 10 dropped", |d| {
            count(d, "attempts") >= 100 && count(d, "dropped") == 10
        })
        .await;
    assert_eq!(
        setup.endpoint_state(&deliveries),
        (json!("drop"), json!(100), json!(17))
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
