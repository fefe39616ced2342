//! The delivery engine. An event for a tenant becomes a message and one delivery per endpoint
//! that wants it ([`messages`]); Postgres holds every delivery and when its next attempt is
//! due. Workers take a tenant's due deliveries in batches, each endpoint's share admitted, sent
//! and recorded on its own and all at once, one file per step:
//!
//! 1. [`enqueue`]: one job per tenant and lane asks a worker for a batch (live first
//!    attempts, retries, replays; each lane its own queue and capacity); a sweeper pushes the
//!    job of anything due whose job went missing (Redis flushed, worker killed);
//! 2. [`claim`]: many due deliveries of the tenant claimed in one statement, with their
//!    messages;
//! 3. [`flow`]: flow control asked once per endpoint of the batch (circuit, in-flight cap, rate
//!    limit);
//! 4. [`send`]: signed with the endpoint's cached material and sent concurrently over pooled
//!    connections;
//! 5. [`record`]: outcomes recorded (plain successes of the batch in one statement), with the
//!    retry [`schedule`], the failing period, auto-disable and events;
//!
//! [`batch`] runs the steps in order.

pub mod batch;
pub mod claim;
pub mod enqueue;
pub mod flow;
pub mod history;
pub mod messages;
mod outcome;
mod record;
pub mod retention;
pub mod schedule;
pub mod send;
pub mod signing_cache;

use serde_json::Value;

pub use batch::HELD_WHILE_SUSPENDED;
pub use enqueue::{due_in_lane, push_deliveries, sweep_due};
pub use flow::{FlowControl, Hold, Lane};
pub use messages::{
    TestSent, create_message, create_messages, publish_operational_events, send_test,
};
pub(crate) use messages::{write_message, write_messages};
pub use record::FAILING_AFTER;
pub use signing_cache::SigningCache;

use crate::{
    delivery::webhooks::sender::Outcome,
    platform::entities::delivery,
    platform::error::DomainResult,
    platform::ids::{EndpointId, TenantId},
    services::Services,
};

/// An event for a tenant.
#[derive(Debug)]
pub struct NewMessage {
    pub tenant: TenantId,
    pub event_type: String,
    pub data: Value,
    /// Members of `data` written exactly as they came (Graph's `resourceData` and decrypted
    /// `content`: its key order, number formats and escapes), after `data`'s own.
    pub verbatim: Vec<(&'static str, Box<serde_json::value::RawValue>)>,
    /// Only these endpoints; `None`: every active endpoint whose filter matches.
    pub endpoint_ids: Option<Vec<EndpointId>>,
}

/// Why an attempt was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Scheduled,
    Manual,
    Recovery,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Recovery => "recovery",
        }
    }
}

impl Lane {
    /// The lane a delivery's next attempt runs in.
    pub fn of(delivery: &delivery::Model) -> Lane {
        Lane::next(&delivery.next_trigger, delivery.attempt_count)
    }

    /// The lane of an attempt for `trigger` after `attempts` earlier ones: a replay's own
    /// (anything not on schedule), a retry, or the first try.
    pub fn next(trigger: &str, attempts: i32) -> Lane {
        if trigger != Trigger::Scheduled.as_str() {
            Lane::Replay
        } else if attempts > 0 {
            Lane::Retry
        } else {
            Lane::Live
        }
    }
}

/// What an attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempted {
    Delivered,
    /// Failed; the next attempt is due then.
    Retrying(chrono::DateTime<chrono::Utc>),
    Exhausted,
    /// The endpoint answered 410: it is disabled.
    Gone,
    /// Nothing was sent: not due, already done, or its endpoint is not active.
    Skipped,
    /// Nothing was sent and no retry was spent: flow control holds the attempt back. For an
    /// open circuit the delivery is due again when the circuit's wait ends (the sweeper picks
    /// it up); otherwise the caller should try again after `retry_in`.
    Held {
        hold: Hold,
        retry_in: Option<std::time::Duration>,
    },
}

impl Attempted {
    pub fn label(&self) -> &'static str {
        match self {
            Attempted::Delivered => "delivered",
            Attempted::Retrying(_) => "retrying",
            Attempted::Exhausted => "exhausted",
            Attempted::Gone => "gone",
            Attempted::Skipped | Attempted::Held { .. } => "skipped",
        }
    }
}

/// Makes one attempt of one delivery, if it is due and flow control admits it, and records it:
/// a batch of one.
pub async fn attempt(
    services: &Services,
    delivery_id: uuid::Uuid,
    trigger: Trigger,
) -> DomainResult<Attempted> {
    debug_assert_eq!(trigger, Trigger::Scheduled, "attempts are made when due");
    Ok(
        attempt_one(services, claim::Selector::Delivery(delivery_id), true)
            .await?
            .0,
    )
}

/// [`attempt`], with the endpoint's answer when something was sent; `controlled: false` skips
/// flow control.
async fn attempt_one(
    services: &Services,
    selector: claim::Selector,
    controlled: bool,
) -> DomainResult<(Attempted, Option<Outcome>)> {
    let options = batch::Options {
        controlled,
        limit: 1,
    };
    let done = batch::run(services, selector, options).await?;
    Ok(done
        .results
        .into_iter()
        .next()
        .map_or((Attempted::Skipped, None), |(_, attempted, outcome)| {
            (attempted, outcome)
        }))
}

/// Claims, sends and records one batch of a tenant's due deliveries on `lane`: up to
/// [`batch::MAX_BATCH`] for first attempts, half that for retries and replays (which may use
/// only half of an endpoint's in-flight cap).
pub async fn deliver_batch(
    services: &Services,
    tenant: uuid::Uuid,
    lane: Lane,
) -> DomainResult<batch::Batch> {
    let limit = match lane {
        Lane::Live => batch::MAX_BATCH,
        Lane::Retry | Lane::Replay => batch::MAX_BATCH / 2,
    };
    batch::run(
        services,
        claim::Selector::Tenant { tenant, lane },
        batch::Options {
            controlled: true,
            limit,
        },
    )
    .await
}
