//! What every token the emulated Entra signs shares: the claims it opens with (for whom, by
//! whom, when it is valid) and its RS256 header.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::crypto::SigningKey;

/// The registered claims a token opens with, in Entra's order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Issued {
    /// Who the token is for: Graph, or the client id of the app a user signed in to.
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl Issued {
    /// A token issued at `now` and valid for `lifetime`.
    pub fn new(
        aud: impl Into<String>,
        iss: String,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Self {
        Self {
            aud: aud.into(),
            iss,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + lifetime).timestamp(),
        }
    }
}

/// The header of a token `key` signs.
pub(super) fn header(key: &SigningKey) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid().to_owned());
    header
}
