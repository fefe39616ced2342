//! The delivery loop. It wakes when notifications are queued, when a POST ends, and every few
//! milliseconds anyway (a test's manual clock moves without telling it), takes the notifications
//! that are due, batches them per URL (across subscriptions and tenants, §3.1) and POSTs each
//! batch with the configured timeout, one POST in flight per URL. The lock on the world is never
//! held across a request.

use std::time::{Duration, Instant};

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Attempt, DropReason, ItemRef, Pending, RetrySchedule, Topic,
    throttle::{Endpoint, State, Thresholds},
};
use crate::{
    notify::{lifecycle, rich},
    shared::{Data, Shared},
    state::{Ended, World},
};

/// How often the loop looks at the clock when nothing wakes it.
const TICK: Duration = Duration::from_millis(20);

/// Notifications going to one URL in one POST.
#[derive(Debug)]
pub struct Batch {
    pub url: String,
    pub items: Vec<Pending>,
}

/// Runs the loop until the task is aborted.
pub fn spawn(shared: Data) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for batch in take_due(&shared) {
                tokio::spawn(send(shared.clone(), batch));
            }
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    })
}

/// Whether an item still goes out when its subscription is gone.
fn outlives_subscription(item: &Pending) -> bool {
    matches!(&item.topic, Topic::Lifecycle(e) if e == "subscriptionRemoved")
}

/// Takes what is due, drops what may no longer be sent, and marks the URLs in flight.
fn take_due(shared: &Shared) -> Vec<Batch> {
    let now = shared.clock.now();
    // Unmarked: this runs every tick; it says so itself when it changes what is saved.
    let mut guard = shared.world_unmarked();
    let purged = guard.purge_expired(now);
    let challenged = lifecycle::tick(&mut guard, now);
    if purged || challenged {
        shared.mark_changed();
    }
    let thresholds = Thresholds::from_behaviour(&guard.behaviour);
    send_missed(&mut guard, now, &thresholds);
    if guard.behaviour.delivery_paused || guard.delivery.pending.is_empty() {
        return Vec::new();
    }
    let world: &mut World = &mut guard;
    let max = world.behaviour.max_batch_items.max(1);
    let schedule = RetrySchedule::from_behaviour(&world.behaviour);
    let mut batches: Vec<Batch> = Vec::new();
    let mut keep = Vec::new();
    for item in std::mem::take(&mut world.delivery.pending) {
        if item.due_at > now || world.delivery.in_flight.contains(&item.url) {
            keep.push(item);
            continue;
        }
        if item.retry > 0 && now > item.queued_at + schedule.horizon {
            world
                .delivery
                .drop_item(now, &item, DropReason::RetryHorizon);
            continue;
        }
        if !world.subscriptions.contains_key(&item.subscription_id) && !outlives_subscription(&item)
        {
            let reason = match world.ended.get(&item.subscription_id) {
                Some(Ended::Expired) => DropReason::SubscriptionExpired,
                Some(Ended::Removed) => DropReason::SubscriptionRemoved,
                _ => DropReason::SubscriptionDeleted,
            };
            world.delivery.drop_item(now, &item, reason);
            continue;
        }
        let paused = matches!(item.topic, Topic::Change(_))
            && world
                .subscriptions
                .get(&item.subscription_id)
                .is_some_and(|s| s.is_paused(now));
        if paused {
            if now >= item.queued_at + schedule.horizon {
                world
                    .delivery
                    .drop_item(now, &item, DropReason::PausedTooLong);
            } else {
                keep.push(item);
            }
            continue;
        }
        if world.delivery.endpoint_state(&item.url, now, &thresholds) == State::Drop {
            world.delivery.drop_item(now, &item, DropReason::Throttled);
            continue;
        }
        match batches.iter_mut().find(|b| b.url == item.url) {
            Some(batch) if batch.items.len() < max => batch.items.push(item),
            Some(_) => keep.push(item),
            None => batches.push(Batch {
                url: item.url.clone(),
                items: vec![item],
            }),
        }
    }
    world.delivery.pending = keep;
    for batch in &batches {
        world.delivery.in_flight.insert(batch.url.clone());
    }
    batches
}

/// Outlook subscriptions that lost notifications to throttling hear of it by a `missed`
/// lifecycle notification (§3.4), at most once per throttling window.
fn send_missed(world: &mut World, now: DateTime<Utc>, t: &Thresholds) {
    for id in std::mem::take(&mut world.delivery.missed) {
        let outlook = world
            .subscriptions
            .get(&id)
            .is_some_and(|s| s.kind.is_outlook());
        let recently = world
            .delivery
            .missed_sent
            .get(&id)
            .is_some_and(|at| now < *at + t.window);
        if outlook && !recently {
            world.delivery.missed_sent.insert(id, now);
            let _ = lifecycle::raise(world, id, lifecycle::MISSED, now, None);
        }
    }
}

/// The POST body: `{"value": [...]}`, plus `validationTokens` when an item carries
/// `encryptedContent`: one per distinct (app, tenant) pair among the items (§3.1, §5.4).
fn envelope(shared: &Shared, items: &[Pending]) -> Value {
    let mut body = json!({"value": items.iter().map(|p| p.item.clone()).collect::<Vec<_>>()});
    if !items
        .iter()
        .any(|p| p.item.get("encryptedContent").is_some())
    {
        return body;
    }
    let version = shared.world().behaviour.validation_token_version;
    let now = shared.clock.now();
    let pairs: BTreeSet<(Uuid, Uuid)> = items.iter().map(|p| (p.app_id, p.tenant_id)).collect();
    let tokens: Vec<String> = pairs
        .into_iter()
        .filter_map(|(app, tenant)| {
            rich::validation_token(&shared.key, version, &shared.base_url, app, tenant, now)
                .inspect_err(|error| tracing::warn!(%error, "cannot sign a validation token"))
                .ok()
        })
        .collect();
    if let Some(map) = body.as_object_mut() {
        map.insert("validationTokens".into(), json!(tokens));
    }
    body
}

/// How a POST ended.
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency: Duration,
}

impl Outcome {
    /// A 2xx in time counts as delivered (§3.3).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[tracing::instrument(skip_all, fields(url = %batch.url, items = batch.items.len()))]
async fn send(shared: Data, batch: Batch) {
    let timeout = Duration::from_millis(shared.world().behaviour.delivery_timeout_ms.max(1));
    let body = envelope(&shared, &batch.items).to_string();
    let started = Instant::now();
    let sent_at = shared.clock.now();
    let request = shared
        .http
        .post(shared.outbound_url(&batch.url))
        .header("content-type", "application/json; charset=utf-8")
        .timeout(timeout)
        .body(body)
        .send();
    let outcome = match request.await {
        Ok(response) => Outcome {
            status: Some(response.status().as_u16()),
            error: None,
            latency: started.elapsed(),
        },
        Err(error) => Outcome {
            status: None,
            error: Some(if error.is_timeout() {
                "timeout".to_owned()
            } else {
                error.to_string()
            }),
            latency: started.elapsed(),
        },
    };
    tracing::debug!(status = ?outcome.status, error = ?outcome.error, "notification POST");
    let now = shared.clock.now();
    // Only the queues, attempts and throttling change: nothing that is saved.
    finish(&mut shared.world_unmarked(), batch, sent_at, &outcome, now);
    shared.wake.notify_one();
}

/// Records the attempt and decides what becomes of its items.
fn finish(
    world: &mut World,
    batch: Batch,
    sent_at: DateTime<Utc>,
    outcome: &Outcome,
    now: DateTime<Utc>,
) {
    world.delivery.in_flight.remove(&batch.url);
    let delivered = outcome.delivered();
    world.delivery.log_attempt(Attempt {
        id: 0,
        url: batch.url.clone(),
        at: sent_at,
        items: batch.items.iter().map(ItemRef::from).collect(),
        retry: batch.items.iter().map(|i| i.retry).max().unwrap_or(0),
        status: outcome.status,
        error: outcome.error.clone(),
        latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
        delivered,
    });
    // What the endpoint received (in time or not) counts toward its throttling.
    let timed_out = outcome.error.as_deref() == Some("timeout");
    if outcome.status.is_some() || timed_out {
        let t = Thresholds::from_behaviour(&world.behaviour);
        let slow = timed_out || outcome.latency > Duration::from_millis(t.slow_ms);
        let items = batch.items.len() as u64;
        let endpoint = world
            .delivery
            .endpoints
            .entry(batch.url.clone())
            .or_insert_with(|| Endpoint::new(&batch.url, now));
        let before = endpoint.state;
        endpoint.record(items, slow, now, &t);
        if endpoint.state != before {
            tracing::info!(url = %batch.url, state = ?endpoint.state, "endpoint throttling state");
        }
    }
    if !delivered {
        let behaviour = world.behaviour.clone();
        for item in batch.items {
            world.delivery.retry(item, now, &behaviour);
        }
    }
}
