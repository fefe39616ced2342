//! Refresh tokens: what Entra remembers about a delegated grant so the app can get new access
//! tokens without the user. A refresh token is an opaque random string (never a JWT); it
//! expires after the configured lifetime from its issue, is revoked with the user's sessions,
//! and is rotated on every use (the old one stays valid unless `strict_refresh_tokens`).

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{DelegatedGrant, World};

/// An issued refresh token's grant (saved as it is in the emulator's state file).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshToken {
    /// The sign-in's grant, which every refresh token issued from it keeps.
    #[serde(flatten)]
    pub delegated: DelegatedGrant,
    pub issued_at: DateTime<Utc>,
    /// The user's session generation when issued (see `User::session_generation`).
    pub generation: u64,
    /// Set once it was redeemed.
    pub used: bool,
}

/// A fresh refresh token: `0.A` and 96 random bytes, base64url (130 characters, no dots).
pub fn new_refresh_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 96];
    getrandom::fill(&mut bytes)?;
    Ok(format!("0.A{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// How many refresh-token grants were asked for, and for whom.
#[derive(Clone, Debug, Default)]
pub struct RefreshStats {
    pub total: u64,
    pub succeeded: u64,
    /// Requests by the user their token belonged to (unknown tokens are not counted here).
    pub by_user: BTreeMap<Uuid, u64>,
}

impl RefreshStats {
    pub fn to_json(&self) -> Value {
        json!({
            "refresh_token_grants": self.total,
            "refresh_token_grants_succeeded": self.succeeded,
            "refresh_token_grants_by_user": self
                .by_user
                .iter()
                .map(|(user, n)| (user.to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

impl World {
    /// Remembers a refresh token. Tokens expired for longer than their lifetime are dropped.
    pub fn store_refresh_token(&mut self, token: String, grant: RefreshToken, now: DateTime<Utc>) {
        let lifetime = Duration::seconds(
            i64::try_from(self.behaviour.refresh_token_lifetime_secs).unwrap_or(i64::MAX / 4_000),
        );
        self.refresh_tokens
            .retain(|_, t| now < t.issued_at + lifetime + lifetime);
        self.refresh_tokens.insert(token, grant);
    }
}
