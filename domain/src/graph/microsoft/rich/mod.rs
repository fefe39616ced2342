//! Rich notifications (graph-protocol.md §5): decrypting an item's `encryptedContent` with the
//! private key of one of our encryption certificates (§5.2, §5.3), validating the
//! `validationTokens` that travel with them (§5.4), and an in-memory cache of Entra's signing
//! keys to validate them against (§8.4).
//!
//! Decryption and token validation are pure functions: the caller loads the key (see
//! [`DecryptionKey::load`]) and the signing keys (see [`JwksCache`]) and passes the clock's time.
//! A caller handling one POST would:
//!
//! 1. validate every token with [`JwksCache::validate`] (or [`validate_tokens`] with keys it
//!    holds), and check that every item's `tenantId` is among the returned tenants; a POST whose
//!    tokens fail, or that has encrypted items but no token for their tenant, is suspect;
//! 2. decrypt each item with the [`DecryptionKey`] named by its `encryptionCertificateId`.
//!
//! Nothing here logs or renders key material, `K` or plaintext.

use std::time::Duration as StdDuration;

use jsonwebtoken::Algorithm;

mod decrypt;
mod jwks;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod tokens;

pub use self::{
    decrypt::{DecryptionKey, EncryptedContent, decrypt, thumbprint},
    jwks::JwksCache,
    tokens::{Expected, Jwks, ValidatedToken, validate_tokens},
};

/// "Microsoft Graph Change Tracking", the first-party app that issues validation tokens: their
/// `azp` (v2) or `appid` (v1) must be this (§5.4, check 5).
pub const CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// Clock skew tolerated on a validation token's `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 300;

/// How often an unknown `kid` may make [`JwksCache`] fetch the keys again.
pub const JWKS_MIN_REFRESH: StdDuration = StdDuration::from_secs(60);

/// Cached keys older than this are fetched again before use, so retired keys stop verifying.
pub const JWKS_MAX_AGE: StdDuration = StdDuration::from_secs(24 * 3600);

/// What went wrong with a rich item or a validation token. Messages name claims and fields,
/// never key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum RichError {
    // encryptedContent (§5.3)
    #[error("encryptedContent.{0} is not standard base64")]
    Base64(&'static str),
    #[error("encryptionCertificateThumbprint {got} is not our certificate's ({expected})")]
    Thumbprint { expected: String, got: String },
    #[error("the encryption certificate's private key is not a PKCS#8 RSA key")]
    PrivateKey,
    #[error("dataKey does not unwrap with RSA-OAEP-SHA1 and this certificate's key")]
    KeyUnwrap,
    #[error("dataKey unwrapped to {0} bytes instead of 32")]
    KeyLength(usize),
    #[error("dataSignature is not the HMAC-SHA256 of data")]
    DataSignature,
    #[error("data does not decrypt with AES-256-CBC and PKCS#7 padding")]
    Padding,
    #[error("the decrypted resource is not UTF-8 JSON ({0})")]
    Json(String),

    // validationTokens (§5.4)
    #[error("a validation token is malformed: {0}")]
    MalformedToken(String),
    #[error("a validation token is signed with {0:?}, not RS256")]
    Algorithm(Algorithm),
    /// No signing key with this `kid`: fetch the keys again (at most once) and retry.
    #[error("a validation token's signing key {0} is not among Entra's keys")]
    UnknownKid(String),
    #[error("a validation token's signature does not verify")]
    Signature,
    #[error("a validation token expired at {0}")]
    Expired(i64),
    #[error("a validation token is not valid before {0}")]
    NotYetValid(i64),
    #[error("a validation token's audience {0} is not our client id")]
    Audience(String),
    #[error("a validation token's issuer {0} is not Entra's for its tenant")]
    Issuer(String),
    #[error("a validation token's {claim} is {value:?}, not Microsoft Graph Change Tracking")]
    Publisher { claim: &'static str, value: String },
    #[error("a validation token is signed with a key Entra publishes for issuer {0}")]
    KeyIssuer(String),
    #[error("Entra's signing keys are unavailable: {0}")]
    Jwks(String),
}

impl RichError {
    /// The token named a key we do not hold: the keys may have rotated.
    pub fn is_unknown_kid(&self) -> bool {
        matches!(self, RichError::UnknownKid(_))
    }
}
