//! The `id_token` of an administrator's sign-in (OpenID Connect, Entra v2): validated against
//! Entra's signing keys before anything it says is believed, and the directory roles (`wids`)
//! that decide whether its person may onboard their organization.
//!
//! Checks, in order: RS256 with the key named by `kid` (keys fetched again once on an unknown
//! kid); `exp`/`nbf` against the caller's clock with [`LEEWAY_SECS`]; `aud` is our client id;
//! `iss` is `{authority}/{tid}/v2.0` for the token's own `tid` (and a key published for an
//! issuer vouches only for that issuer); `nonce` is the one this browser's sign-in sent.

use chrono::{DateTime, Utc};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{
    rich::{Jwks, JwksCache},
    signed::{self, Rules, SignedError, Verified},
};
use crate::tenancy::onboarding::Person;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 120;

/// Built-in Entra role template ids (`wids`). Only these two can grant Microsoft Graph
/// *application* permissions tenant-wide; Cloud Application and Application Administrators
/// cannot.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";

/// What the token must say, beyond being signed by Entra.
#[derive(Clone, Debug)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// Entra authorities (production `https://login.microsoftonline.com`, or the emulator).
    pub authorities: &'a [String],
    /// The nonce the sign-in request carried.
    pub nonce: &'a str,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the id_token is malformed: {0}")]
    Malformed(String),
    #[error("the id_token is signed with {0:?}, not RS256")]
    Algorithm(Algorithm),
    #[error("the id_token's signing key {0} is not among Entra's keys")]
    UnknownKid(String),
    #[error("the id_token's signature does not verify")]
    Signature,
    #[error("the id_token expired at {0}")]
    Expired(i64),
    #[error("the id_token is not valid before {0}")]
    NotYetValid(i64),
    #[error("the id_token was issued to {0}, not to Graphhook")]
    Audience(String),
    #[error("the id_token's issuer {0} is not Entra's for its tenant")]
    Issuer(String),
    #[error("the id_token's nonce is not this sign-in's")]
    Nonce,
    #[error("Entra's signing keys could not be fetched: {0}")]
    Keys(String),
}

/// A person a valid id_token proved, with their active directory roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub person: Person,
    /// `wids`; `None` when the token has no such claim (the app registration does not ask for
    /// directory roles: `groupMembershipClaims` must include `DirectoryRole` or `All`).
    pub wids: Option<Vec<String>>,
}

impl SignedIn {
    /// Whether the person holds, actively, a role that can grant application permissions.
    pub fn may_grant_application_permissions(&self) -> bool {
        self.wids.as_ref().is_some_and(|wids| {
            wids.iter().any(|w| {
                w.eq_ignore_ascii_case(GLOBAL_ADMINISTRATOR)
                    || w.eq_ignore_ascii_case(PRIVILEGED_ROLE_ADMINISTRATOR)
            })
        })
    }
}

/// The claims of an id_token beyond those every Entra-signed token is checked on.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    wids: Option<Vec<String>>,
}

/// [`validate`] with the cached keys, fetching them again once when the token names a key the
/// cache does not hold (the fetch itself is rate limited by the cache).
pub async fn validate_with(
    cache: &JwksCache,
    token: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<SignedIn, IdTokenError> {
    let keys = cache
        .keys()
        .await
        .map_err(|e| IdTokenError::Keys(e.to_string()))?;
    match validate(token, &keys, expected, now) {
        Err(IdTokenError::UnknownKid(_)) => {
            let keys = cache
                .refresh()
                .await
                .map_err(|e| IdTokenError::Keys(e.to_string()))?;
            validate(token, &keys, expected, now)
        }
        other => other,
    }
}

pub fn validate(
    token: &str,
    keys: &Jwks,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<SignedIn, IdTokenError> {
    // Signature, lifetime, audience (our client id) and issuer (Entra's v2 issuer for the
    // token's own tenant).
    let client_ids = [expected.client_id.to_owned()];
    let rules = Rules {
        client_ids: &client_ids,
        authorities: expected.authorities,
        v1_issuer: false,
        leeway_secs: LEEWAY_SECS,
    };
    let Verified { tenant, claims, .. } = signed::verify::<Claims>(token, keys, &rules, now)?;

    // Nonce: this browser's sign-in, not a replayed token.
    let nonce = claims.nonce.unwrap_or_default();
    if nonce.is_empty() || !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(IdTokenError::Nonce);
    }

    let oid = claims
        .oid
        .as_deref()
        .and_then(|o| Uuid::parse_str(o).ok())
        .ok_or_else(|| IdTokenError::Malformed("no oid".into()))?;
    Ok(SignedIn {
        person: Person {
            tid: tenant,
            oid,
            name: claims.name.filter(|n| !n.is_empty()),
            username: claims.preferred_username.filter(|n| !n.is_empty()),
        },
        wids: claims.wids,
    })
}

impl From<SignedError> for IdTokenError {
    fn from(e: SignedError) -> Self {
        match e {
            SignedError::Malformed(m) => Self::Malformed(m),
            SignedError::Algorithm(a) => Self::Algorithm(a),
            SignedError::UnknownKid(k) => Self::UnknownKid(k),
            SignedError::Signature => Self::Signature,
            SignedError::Expired(exp) => Self::Expired(exp),
            SignedError::NotYetValid(nbf) => Self::NotYetValid(nbf),
            SignedError::Audience(aud) => Self::Audience(aud),
            SignedError::Issuer(iss) => Self::Issuer(iss),
            SignedError::KeyIssuer { iss, key_issuer } => {
                Self::Issuer(format!("{iss} (key published for {key_issuer})"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
