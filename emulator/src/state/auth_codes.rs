//! Authorization codes: what the authorize endpoint remembers about a sign-in until the app
//! redeems the code at the token endpoint, including the PKCE challenge (RFC 7636) the
//! redemption must answer. Codes are single use and short-lived, as Entra's are.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{DelegatedGrant, World};

/// How the code verifier is compared with the challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeChallengeMethod {
    /// The verifier is the challenge.
    Plain,
    /// The challenge is base64url-without-padding(SHA-256(verifier)).
    S256,
}

impl CodeChallengeMethod {
    /// `S256` or `plain`, as the authorize request spells them (case-sensitive, RFC 7636).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "S256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::S256 => "S256",
        }
    }

    /// Whether `verifier` answers `challenge`.
    pub fn verifies(self, challenge: &str, verifier: &str) -> bool {
        let derived = match self {
            Self::Plain => verifier.to_owned(),
            Self::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        };
        graphhook_platform::secret::constant_time_eq(&derived, challenge)
    }
}

/// An issued authorization code's grant (saved as it is in the emulator's state file).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthCode {
    /// What the sign-in granted (its `scope` is the authorize request's, as sent).
    #[serde(flatten)]
    pub delegated: DelegatedGrant,
    /// The authorize request's `redirect_uri`, which the redemption must repeat.
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, CodeChallengeMethod)>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set by the first redemption attempt that reached the code, successful or not.
    pub redeemed: bool,
}

/// A fresh code: 32 random bytes, base64url.
pub fn new_code() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl World {
    /// Remembers a code. Codes expired for longer than their lifetime are dropped, so the map
    /// stays bounded while a late redemption of a recently expired code still learns that it
    /// expired (AADSTS70008) rather than that it never existed.
    pub fn store_auth_code(&mut self, code: String, grant: AuthCode, now: DateTime<Utc>) {
        self.auth_codes
            .retain(|_, c| now < c.expires_at + (c.expires_at - c.issued_at));
        self.auth_codes.insert(code, grant);
    }
}
