//! Lifecycle notifications (§4): `reauthorizationRequired`, `subscriptionRemoved` and `missed`,
//! delivered to the subscription's lifecycleNotificationUrl only (a subscription without one
//! gets none). A reauthorization challenge left unanswered pauses change notifications after a
//! grace period, until `/reauthorize` or a PATCH; `subscriptionRemoved` deletes the
//! subscription. Challenges go out on demand, when consent is revoked, and, when switched on,
//! before the token behind a subscription expires.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Queued, expiration};
use crate::{
    delivery::{DropReason, Pending, Topic},
    state::{Ended, World},
};

pub const REAUTHORIZATION_REQUIRED: &str = "reauthorizationRequired";
pub const SUBSCRIPTION_REMOVED: &str = "subscriptionRemoved";
pub const MISSED: &str = "missed";

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000))
}

/// Sends `event` about a subscription; `Ok(None)` when it has no lifecycle URL or that URL is
/// throttled (recorded as dropped). `pause_from` overrides when an unanswered challenge pauses deliveries.
pub fn raise(
    world: &mut World,
    subscription_id: Uuid,
    event: &str,
    now: DateTime<Utc>,
    pause_from: Option<DateTime<Utc>>,
) -> Result<Option<Queued>, String> {
    let grace = secs(world.behaviour.reauthorization_grace_secs);
    let format = world.behaviour.expiration_format;
    let seq = world.delivery.next_seq();
    let subscription = world
        .subscriptions
        .get_mut(&subscription_id)
        .ok_or_else(|| format!("subscription {subscription_id} not found"))?;
    if event == REAUTHORIZATION_REQUIRED {
        subscription.reauthorization_required_at.get_or_insert(now);
        let from = pause_from.unwrap_or(now + grace);
        subscription.paused_from = Some(subscription.paused_from.map_or(from, |p| p.min(from)));
    }
    // §4's sample: no resource, resourceData or changeType.
    let mut item = Map::new();
    item.insert("lifecycleEvent".into(), json!(event));
    item.insert("subscriptionId".into(), json!(subscription.id));
    item.insert(
        "subscriptionExpirationDateTime".into(),
        json!(expiration(subscription.expiration_date_time, format, seq)),
    );
    if let Some(state) = &subscription.client_state {
        item.insert("clientState".into(), json!(state));
    }
    item.insert("tenantId".into(), json!(subscription.tenant_id));
    let pending = Pending {
        seq,
        url: subscription
            .lifecycle_notification_url
            .clone()
            .unwrap_or_default(),
        subscription_id,
        tenant_id: subscription.tenant_id,
        app_id: subscription.application_id,
        topic: Topic::Lifecycle(event.to_owned()),
        resource: None,
        item: Value::Object(item),
        retry: 0,
        queued_at: now,
        due_at: now,
    };
    let has_url = subscription.lifecycle_notification_url.is_some();
    if event == SUBSCRIPTION_REMOVED {
        world.remove_subscription(subscription_id, Ended::Removed);
    }
    if !has_url {
        world
            .delivery
            .drop_item(now, &pending, DropReason::NoLifecycleUrl);
        return Ok(None);
    }
    let queued = Queued::from(&pending);
    let sent = world.delivery.enqueue(pending, &world.behaviour);
    Ok(sent.then_some(queued))
}

/// Consent was revoked in a tenant: every subscription there is challenged.
pub fn consent_revoked(world: &mut World, tenant: Uuid, now: DateTime<Utc>) -> Vec<Queued> {
    let ids: Vec<Uuid> = world
        .subscriptions
        .values()
        .filter(|s| s.tenant_id == tenant)
        .map(|s| s.id)
        .collect();
    ids.into_iter()
        .filter_map(|id| raise(world, id, REAUTHORIZATION_REQUIRED, now, None).ok())
        .flatten()
        .collect()
}

/// The timer: challenges subscriptions whose token runs out within the configured lead, with
/// deliveries pausing when it does. Returns whether anything was queued.
pub fn tick(world: &mut World, now: DateTime<Utc>) -> bool {
    let lead = world.behaviour.reauthorization_lead_secs;
    if lead == 0 {
        return false;
    }
    let lifetime = secs(world.behaviour.token_lifetime_secs);
    let due: Vec<(Uuid, DateTime<Utc>)> = world
        .subscriptions
        .values()
        .filter(|s| s.reauthorization_required_at.is_none())
        .map(|s| (s.id, s.last_authorized_at + lifetime))
        .filter(|(_, expires)| *expires - now <= secs(lead))
        .collect();
    for (id, expires) in &due {
        let _ = raise(world, *id, REAUTHORIZATION_REQUIRED, now, Some(*expires));
    }
    !due.is_empty()
}
