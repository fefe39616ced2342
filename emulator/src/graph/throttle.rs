//! Throttling of the subscription API (§1.3, §7.1): calls per app per tenant and per tenant in a
//! sliding window; over the limit, 429 with `Retry-After` in seconds.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::state::World;

/// Records a call; returns `Some(retry_after_secs)` when it is over a limit (and not counted).
pub fn check(world: &mut World, tenant: Uuid, app: Uuid, now: DateTime<Utc>) -> Option<u64> {
    let window = Duration::seconds(world.behaviour.rate_window_secs.max(1) as i64);
    let per_app = world.behaviour.rate_limit_per_app as usize;
    let per_tenant = world.behaviour.rate_limit_per_tenant as usize;
    for calls in world.calls.values_mut() {
        while calls.front().is_some_and(|t| *t <= now - window) {
            calls.pop_front();
        }
    }
    let app_calls = world
        .calls
        .get(&(tenant, app))
        .map(|c| c.len())
        .unwrap_or(0);
    let tenant_calls: usize = world
        .calls
        .iter()
        .filter(|((t, _), _)| *t == tenant)
        .map(|(_, c)| c.len())
        .sum();
    if app_calls >= per_app || tenant_calls >= per_tenant {
        let oldest = world
            .calls
            .iter()
            .filter(|((t, a), _)| *t == tenant && (tenant_calls >= per_tenant || *a == app))
            .filter_map(|(_, c)| c.front().copied())
            .min()
            .unwrap_or(now);
        let wait = (oldest + window - now).num_seconds().max(1);
        return Some(wait as u64);
    }
    world.calls.entry((tenant, app)).or_default().push_back(now);
    None
}
