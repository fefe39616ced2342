//! Delivery of change and lifecycle notifications (graph-protocol.md §3, §4): the outbox of
//! notifications waiting to be POSTed, the record of every attempt and of every notification
//! that was dropped and why. The [`engine`] takes due notifications from here, batches them per
//! URL and POSTs them; everything it decides is written back here, under the world's lock.

pub(crate) mod engine;
pub mod throttle;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::Behaviour;
use throttle::{Endpoint, State, Thresholds};

/// How many attempts and drops the log keeps (the oldest go first).
const LOG_CAPACITY: usize = 10_000;

/// When failed notifications are tried again (§3.4).
#[derive(Clone, Copy, Debug)]
pub struct RetrySchedule {
    pub initial: Duration,
    pub max_interval: Duration,
    pub horizon: Duration,
}

impl RetrySchedule {
    pub fn from_behaviour(b: &Behaviour) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000));
        Self {
            initial: secs(b.retry_initial_secs.max(1)),
            max_interval: secs(b.retry_max_interval_secs.max(1)),
            horizon: secs(b.retry_horizon_secs),
        }
    }

    /// The wait before retry number `retry` (from 1): initial × 2^(retry-1), capped.
    pub fn wait(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        let wait = self.initial * (1i32 << doublings);
        wait.min(self.max_interval)
    }
}

/// What a queued notification is about.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Topic {
    /// A change notification with its `changeType`.
    Change(String),
    /// A lifecycle notification with its `lifecycleEvent`.
    Lifecycle(String),
}

/// One notification waiting for delivery (one item of a POST's `value`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The emulator's number for this notification; duplicates share the original's content
    /// but get their own number.
    pub seq: u64,
    pub url: String,
    pub subscription_id: Uuid,
    pub tenant_id: Uuid,
    /// The app that owns the subscription (the `aud` of a validation token).
    pub app_id: Uuid,
    pub topic: Topic,
    /// The `resource` the item names, if any (lifecycle items have none).
    pub resource: Option<String>,
    /// The item exactly as it is POSTed.
    pub item: Value,
    /// How many attempts carried it before (0 for the first).
    pub retry: u32,
    /// When it was queued (emulator clock), the start of its retry horizon.
    pub queued_at: DateTime<Utc>,
    /// When it may be sent next (emulator clock).
    pub due_at: DateTime<Utc>,
}

/// A notification as the log names it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRef {
    pub seq: u64,
    pub subscription_id: Uuid,
    pub tenant_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub retry: u32,
}

impl From<&Pending> for ItemRef {
    fn from(p: &Pending) -> Self {
        let (change_type, lifecycle_event) = match &p.topic {
            Topic::Change(c) => (Some(c.clone()), None),
            Topic::Lifecycle(e) => (None, Some(e.clone())),
        };
        Self {
            seq: p.seq,
            subscription_id: p.subscription_id,
            tenant_id: p.tenant_id,
            change_type,
            lifecycle_event,
            resource: p.resource.clone(),
            retry: p.retry,
        }
    }
}

/// One POST to a notification or lifecycle URL.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: u64,
    pub url: String,
    /// When it was sent (emulator clock).
    pub at: DateTime<Utc>,
    pub items: Vec<ItemRef>,
    /// The highest retry number among its items (0: every item's first attempt).
    pub retry: u32,
    /// The receiver's status, if it answered in time.
    pub status: Option<u16>,
    /// Why there is no status: `timeout` or the connection error.
    pub error: Option<String>,
    /// Real time from sending to the answer (or to giving up).
    pub latency_ms: u64,
    /// A 2xx in time.
    pub delivered: bool,
}

/// Why a notification was never delivered.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DropReason {
    /// The subscription was deleted before delivery.
    SubscriptionDeleted,
    /// The subscription expired before delivery.
    SubscriptionExpired,
    /// Graph removed the subscription (`subscriptionRemoved`) before delivery.
    SubscriptionRemoved,
    /// Held while a reauthorization challenge went unanswered, until the horizon passed (§4:
    /// notifications paused for more than 4 h are dropped).
    PausedTooLong,
    /// Every attempt failed until the retry horizon (§3.4: 4 h) passed.
    RetryHorizon,
    /// The URL was in the drop state of throttling (§3.4).
    Throttled,
    /// A lifecycle event for a subscription without `lifecycleNotificationUrl` (§4: none sent).
    NoLifecycleUrl,
}

/// A notification given up on.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    pub at: DateTime<Utc>,
    pub url: String,
    pub item: ItemRef,
    pub reason: DropReason,
}

/// The outbox and the log.
#[derive(Debug, Default)]
pub struct Deliveries {
    next_seq: u64,
    next_attempt: u64,
    /// Waiting notifications, in the order they go out.
    pub pending: Vec<Pending>,
    /// URLs with a POST in flight: one at a time per URL.
    pub in_flight: BTreeSet<String>,
    pub attempts: VecDeque<Attempt>,
    pub dropped: VecDeque<Dropped>,
    /// Throttling counters and state per URL.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Subscriptions that lost a notification to throttling and are owed a `missed` (§3.4).
    pub missed: BTreeSet<Uuid>,
    /// When each subscription was last sent a `missed`.
    pub missed_sent: BTreeMap<Uuid, DateTime<Utc>>,
}

impl Deliveries {
    /// A fresh notification number.
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The throttling state of a URL at `now`.
    pub fn endpoint_state(&mut self, url: &str, now: DateTime<Utc>, t: &Thresholds) -> State {
        match self.endpoints.get_mut(url) {
            Some(endpoint) => {
                endpoint.roll(now, t);
                endpoint.state
            }
            None => State::Normal,
        }
    }

    /// Queues a new notification, unless its URL is throttled: in the drop state it is dropped,
    /// in the slow state it waits (§3.4). Returns whether it was queued.
    pub fn enqueue(&mut self, mut pending: Pending, behaviour: &Behaviour) -> bool {
        let t = Thresholds::from_behaviour(behaviour);
        let now = pending.queued_at;
        match self.endpoint_state(&pending.url, now, &t) {
            State::Drop => {
                self.drop_item(now, &pending, DropReason::Throttled);
                return false;
            }
            State::Slow => pending.due_at = now + t.slow_delay,
            State::Normal => {}
        }
        self.pending.push(pending);
        true
    }

    /// Puts a failed notification back in the queue for its next attempt, or drops it when its
    /// retry horizon has passed.
    pub fn retry(&mut self, mut item: Pending, now: DateTime<Utc>, behaviour: &Behaviour) {
        let schedule = RetrySchedule::from_behaviour(behaviour);
        let horizon = item.queued_at + schedule.horizon;
        if now >= horizon {
            self.drop_item(now, &item, DropReason::RetryHorizon);
            return;
        }
        item.retry += 1;
        let t = Thresholds::from_behaviour(behaviour);
        let wait = match self.endpoint_state(&item.url, now, &t) {
            State::Slow => t.slow_delay,
            _ => schedule.wait(item.retry),
        };
        item.due_at = (now + wait).min(horizon);
        self.pending.push(item);
    }

    pub fn drop_item(&mut self, at: DateTime<Utc>, item: &Pending, reason: DropReason) {
        tracing::debug!(seq = item.seq, url = %item.url, ?reason, "notification dropped");
        if reason == DropReason::Throttled && matches!(item.topic, Topic::Change(_)) {
            self.missed.insert(item.subscription_id);
        }
        push_capped(
            &mut self.dropped,
            Dropped {
                at,
                url: item.url.clone(),
                item: item.into(),
                reason,
            },
        );
    }

    pub fn log_attempt(&mut self, mut attempt: Attempt) {
        self.next_attempt += 1;
        attempt.id = self.next_attempt;
        push_capped(&mut self.attempts, attempt);
    }
}

fn push_capped<T>(log: &mut VecDeque<T>, entry: T) {
    if log.len() >= LOG_CAPACITY {
        log.pop_front();
    }
    log.push_back(entry);
}
