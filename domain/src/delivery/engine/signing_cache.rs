//! Endpoints' decrypted signing material, kept per process between batches (what it holds
//! and when it is read again: [`super::send`]). Its own file because every process holds one
//! (see [`crate::services`]) while loading it needs the endpoints' code.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

/// How long signing material is kept without being used again under the same version.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Endpoints whose material is kept at most; beyond, the cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// One endpoint's decrypted signing material.
pub(super) struct Material {
    pub(super) version: String,
    pub(super) loaded: Instant,
    pub(super) url: url::Url,
    pub(super) headers: Vec<(String, String)>,
    /// HMAC keys, the current one first, with the end of their grace.
    pub(super) hmac: Vec<(Vec<u8>, Option<DateTime<Utc>>)>,
    pub(super) ed25519: Option<ed25519_dalek::SigningKey>,
}

/// Signing material per endpoint, shared by a process's batches.
#[derive(Default)]
pub struct SigningCache {
    entries: Mutex<HashMap<uuid::Uuid, Arc<Material>>>,
}

impl std::fmt::Debug for SigningCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCache").finish_non_exhaustive()
    }
}

impl SigningCache {
    pub(super) fn get(&self, id: uuid::Uuid, version: &str) -> Option<Arc<Material>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&id)
            .filter(|m| m.version == version && m.loaded.elapsed() < MAX_AGE)
            .cloned()
    }

    pub(super) fn put(&self, id: uuid::Uuid, material: Arc<Material>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(id, material);
    }
}
