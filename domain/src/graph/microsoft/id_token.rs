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

use super::rich::{
    Jwks, JwksCache,
    tokens::{SignedTokenError, decode_rs256},
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

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    tid: Option<String>,
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
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
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
    // 1. Signature.
    let (claims, key_issuer) = decode_rs256::<Claims>(token, keys).map_err(|e| match e {
        SignedTokenError::Malformed(m) => IdTokenError::Malformed(m),
        SignedTokenError::Algorithm(a) => IdTokenError::Algorithm(a),
        SignedTokenError::UnknownKid(k) => IdTokenError::UnknownKid(k),
        SignedTokenError::Signature => IdTokenError::Signature,
    })?;

    // 2. Lifetime.
    let now = now.timestamp();
    let exp = claims
        .exp
        .ok_or_else(|| IdTokenError::Malformed("no exp".into()))?;
    if now > exp + LEEWAY_SECS {
        return Err(IdTokenError::Expired(exp));
    }
    if let Some(nbf) = claims.nbf
        && now + LEEWAY_SECS < nbf
    {
        return Err(IdTokenError::NotYetValid(nbf));
    }

    // 3. Audience: our client id.
    let audience = match &claims.aud {
        Some(serde_json::Value::String(aud)) => aud.clone(),
        Some(other) => return Err(IdTokenError::Audience(other.to_string())),
        None => return Err(IdTokenError::Audience("(none)".into())),
    };
    if !audience.eq_ignore_ascii_case(expected.client_id) {
        return Err(IdTokenError::Audience(audience));
    }

    // 4. Issuer: Entra's v2 issuer for the token's own tenant.
    let tid = claims
        .tid
        .ok_or_else(|| IdTokenError::Malformed("no tid".into()))?;
    let tenant = Uuid::parse_str(&tid)
        .map_err(|_| IdTokenError::Malformed(format!("tid {tid:?} is not a GUID")))?;
    let issuers: Vec<String> = expected
        .authorities
        .iter()
        .map(|a| format!("{}/{tid}/v2.0", a.trim_end_matches('/')))
        .collect();
    let iss = claims.iss.unwrap_or_default();
    if !issuers.contains(&iss) {
        return Err(IdTokenError::Issuer(iss));
    }
    if let Some(key_issuer) = key_issuer
        && !issuers.contains(&key_issuer.replace("{tenantid}", &tid))
    {
        return Err(IdTokenError::Issuer(format!(
            "{iss} (key published for {key_issuer})"
        )));
    }

    // 5. Nonce: this browser's sign-in, not a replayed token.
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

#[cfg(test)]
mod tests;
