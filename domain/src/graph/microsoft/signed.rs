//! A JWT signed by Entra, checked the way every Entra-signed token is before anything it says is
//! believed: an administrator's `id_token` ([`super::id_token`]) and the `validationTokens` of
//! rich notifications ([`super::rich`]) both pass through here, each adding its own last checks
//! (a nonce; the publishing app) and naming the failures in its own error type.
//!
//! Checks, in order: RS256 with the key named by `kid`; `exp`/`nbf` against the caller's clock
//! with the caller's leeway; `aud` is one of our client ids; `iss` is Entra's v2 issuer
//! `{authority}/{tid}/v2.0` (or, where allowed, the v1 `https://sts.windows.net/{tid}/`) for the
//! token's own `tid`; a key published for an issuer vouches only for that issuer.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::{Deserialize, de::DeserializeOwned};
use uuid::Uuid;

use super::rich::Jwks;

/// What a token must say, beyond being signed by one of Entra's keys.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules<'a> {
    /// `aud` must be one of these (compared without case).
    pub client_ids: &'a [String],
    /// Entra authorities: a v2 `iss` is `{authority}/{tid}/v2.0` for one of them.
    pub authorities: &'a [String],
    /// Whether the v1 issuer `https://sts.windows.net/{tid}/` is accepted too.
    pub v1_issuer: bool,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: i64,
}

/// Why a token failed the checks every Entra-signed token passes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SignedError {
    Malformed(String),
    Algorithm(Algorithm),
    UnknownKid(String),
    Signature,
    Expired(i64),
    NotYetValid(i64),
    Audience(String),
    Issuer(String),
    /// The token's issuer `iss` is Entra's, but the key was published for `key_issuer`.
    KeyIssuer {
        iss: String,
        key_issuer: String,
    },
}

/// A token that passed: the tenant it vouches for, the client id it was issued to, and the
/// caller's own claims.
#[derive(Debug)]
pub(crate) struct Verified<C> {
    pub tenant: Uuid,
    pub audience: String,
    pub claims: C,
}

/// The claims read for the common checks, beside the caller's own (`rest`).
#[derive(Deserialize)]
struct Envelope<C> {
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(flatten)]
    rest: C,
}

/// Decodes `token` with `keys` and runs every common check against `rules` at `now`.
pub(crate) fn verify<C: DeserializeOwned>(
    token: &str,
    keys: &Jwks,
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Result<Verified<C>, SignedError> {
    let (claims, key_issuer) = decode_rs256::<Envelope<C>>(token, keys)?;
    check_lifetime(claims.exp, claims.nbf, rules.leeway_secs, now)?;
    let audience = match claims.aud {
        Some(serde_json::Value::String(aud)) => aud,
        Some(other) => return Err(SignedError::Audience(other.to_string())),
        None => return Err(SignedError::Audience("(none)".into())),
    };
    if !rules
        .client_ids
        .iter()
        .any(|id| id.eq_ignore_ascii_case(&audience))
    {
        return Err(SignedError::Audience(audience));
    }
    let tenant = check_issuer(claims.tid, claims.iss, key_issuer, rules)?;
    Ok(Verified {
        tenant,
        audience,
        claims: claims.rest,
    })
}

fn check_lifetime(
    exp: Option<i64>,
    nbf: Option<i64>,
    leeway: i64,
    now: DateTime<Utc>,
) -> Result<(), SignedError> {
    let now = now.timestamp();
    let exp = exp.ok_or_else(|| SignedError::Malformed("no exp".into()))?;
    if now > exp + leeway {
        return Err(SignedError::Expired(exp));
    }
    if let Some(nbf) = nbf
        && now + leeway < nbf
    {
        return Err(SignedError::NotYetValid(nbf));
    }
    Ok(())
}

/// The token's tenant, once `iss` is Entra's for it and the signing key vouches for that issuer.
fn check_issuer(
    tid: Option<String>,
    iss: Option<String>,
    key_issuer: Option<&str>,
    rules: &Rules<'_>,
) -> Result<Uuid, SignedError> {
    let tid = tid.ok_or_else(|| SignedError::Malformed("no tid".into()))?;
    let tenant = Uuid::parse_str(&tid)
        .map_err(|_| SignedError::Malformed(format!("tid {tid:?} is not a GUID")))?;
    let v2_issuers: Vec<String> = rules
        .authorities
        .iter()
        .map(|a| format!("{}/{tid}/v2.0", a.trim_end_matches('/')))
        .collect();
    let iss = iss.unwrap_or_default();
    let v1 = rules.v1_issuer && iss == format!("https://sts.windows.net/{tid}/");
    if !v1 && !v2_issuers.contains(&iss) {
        return Err(SignedError::Issuer(iss));
    }
    // Entra's "signing-key issuer" check: a key published for one issuer (say, the personal
    // accounts tenant) does not vouch for another tenant's tokens.
    if let Some(key_issuer) = key_issuer
        && !v2_issuers.contains(&key_issuer.replace("{tenantid}", &tid))
    {
        return Err(SignedError::KeyIssuer {
            iss,
            key_issuer: key_issuer.to_owned(),
        });
    }
    Ok(tenant)
}

/// Decodes an RS256 JWT whose signature verifies with the key its `kid` names, and returns its
/// claims with the issuer that key was published for. No claim is checked here.
fn decode_rs256<'k, C: DeserializeOwned>(
    token: &str,
    keys: &'k Jwks,
) -> Result<(C, Option<&'k str>), SignedError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| SignedError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(SignedError::Algorithm(header.alg));
    }
    let kid = header
        .kid
        .ok_or_else(|| SignedError::Malformed("no kid in the header".into()))?;
    let (decoding, issuer) = keys
        .get(&kid)
        .ok_or_else(|| SignedError::UnknownKid(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<C>(token, decoding, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => SignedError::Signature,
            _ => SignedError::Malformed(e.to_string()),
        })?
        .claims;
    Ok((claims, issuer))
}
