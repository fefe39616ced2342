//! The payload of each job type.

use serde::{Deserialize, Serialize};

use super::Job;
use crate::platform::ids::{ProbeId, TenantId};

/// A synthetic job that checks the pipeline from the api through Redis to a worker: the worker
/// records when it started and finished it (see [`crate::operator::probe`]). `hold_ms` keeps it in flight
/// for a while, which is how shutdown and recovery are exercised.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Probe {
    pub id: ProbeId,
    #[serde(default)]
    pub hold_ms: u64,
}

impl Job for Probe {
    const QUEUE: &'static str = "probe";
}

/// One tick of the periodic maintenance work: record the depth of every queue. Pushed by every
/// worker process at each tick with the idempotency key `queue_depths:{tick}`, so it runs once
/// per tick however many processes run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueDepthsTick {
    /// Unix seconds of the tick, a multiple of the tick interval.
    pub tick: i64,
}

impl Job for QueueDepthsTick {
    const QUEUE: &'static str = "maintenance.queue_depths";
}

/// After an admin consent whose token carried no roles yet, checks again (Entra takes a while
/// to grant new permissions) until the roles arrive or the attempts run out.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifyConsent {
    pub tenant: TenantId,
    pub attempt: u32,
    /// The administrator who consented: the audit entries of the check name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<crate::tenancy::onboarding::Person>,
}

impl Job for VerifyConsent {
    const QUEUE: &'static str = "onboarding.verify_consent";
}

/// A batch of a tenant's first attempts (the live lane).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deliver {
    pub tenant: uuid::Uuid,
}

impl Job for Deliver {
    const QUEUE: &'static str = "deliveries";
}

/// A batch of a tenant's retries (the retry lane).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliverRetry {
    pub tenant: uuid::Uuid,
}

impl Job for DeliverRetry {
    const QUEUE: &'static str = "deliveries.retry";
}

/// A batch of a tenant's resends and recoveries (the replay lane).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliverReplay {
    pub tenant: uuid::Uuid,
}

impl Job for DeliverReplay {
    const QUEUE: &'static str = "deliveries.replay";
}

/// Processing of inbound batches (ingest): `batch` and the others written with it, processed
/// together.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessInbound {
    pub batch: uuid::Uuid,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<uuid::Uuid>,
}

impl Job for ProcessInbound {
    const QUEUE: &'static str = "ingest.batches";
}

/// Upkeep of one subscription (renew, reauthorize, recreate, resume), held by `lease` (see
/// [`crate::graph::subscriptions::upkeep`]). A job whose lease is gone does nothing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upkeep {
    pub subscription: uuid::Uuid,
    pub lease: uuid::Uuid,
}

impl Job for Upkeep {
    const QUEUE: &'static str = "subscriptions.upkeep";
}

/// Comparison of one tenant's Graph subscriptions with its rows: orphans deleted, creates stuck
/// in `creating` given up (see [`crate::graph::subscriptions::reconcile`]). Safe to run twice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reconcile {
    pub tenant: TenantId,
}

impl Job for Reconcile {
    const QUEUE: &'static str = "subscriptions.reconcile";
}
