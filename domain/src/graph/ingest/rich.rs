//! What processing needs to accept rich notifications (items carrying their resource's
//! encrypted content) and to drop Graph's re-deliveries. Built once per process, beside the
//! other shared parts (see [`crate::services`]), so it names nothing that uses them.

use std::sync::Arc;

use crate::{
    graph::microsoft::rich::{Expected, JwksCache},
    platform::config::{IngestSettings, Settings},
};

/// What verifying rich notifications needs: Entra's signing keys (cached) and who we are; and
/// how long items are remembered.
pub struct Rich {
    pub jwks: Arc<JwksCache>,
    /// `None` without a configured client id: rich items cannot be verified, so are dropped.
    pub expected: Option<Expected>,
    pub dedup: Dedup,
}

/// How long an item is remembered, so that Graph's re-delivery of it is dropped: an item that
/// carries an identity for Graph's retry horizon, one without only briefly (a second real
/// change can be byte for byte the same as the first).
#[derive(Clone, Copy, Debug)]
pub struct Dedup {
    pub identified: chrono::Duration,
    pub anonymous: chrono::Duration,
}

impl Dedup {
    pub fn from_settings(settings: &IngestSettings) -> Self {
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            identified: secs(settings.dedup_hours.saturating_mul(3600)),
            anonymous: secs(settings.dedup_anonymous_secs),
        }
    }
}

impl Rich {
    /// The deployment's: who we are and how long items are remembered, checking tokens with
    /// `jwks` (the process's cache of Entra's signing keys).
    pub fn from_settings(settings: &Settings, jwks: Arc<JwksCache>) -> Self {
        Self {
            jwks,
            expected: Expected::from_settings(&settings.microsoft),
            dedup: Dedup::from_settings(&settings.ingest),
        }
    }
}
