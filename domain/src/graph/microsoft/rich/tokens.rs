//! `validationTokens` (§5.4) and Entra's signing keys to check them against (§8.4).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use uuid::Uuid;

use super::{CHANGE_TRACKING_APP_ID, LEEWAY_SECS, RichError};
use crate::platform::config::MicrosoftSettings;

/// What a validation token must say, beyond being signed by Entra.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Our app registration's client ids: `aud` must be one of them.
    pub client_ids: Vec<String>,
    /// Entra authorities, e.g. `https://login.microsoftonline.com` (or the emulator's base URL):
    /// a v2 `iss` is `{authority}/{tid}/v2.0` for one of them. The v1 form
    /// `https://sts.windows.net/{tid}/` is accepted whatever the authority.
    pub authorities: Vec<String>,
}

impl Expected {
    /// Our client id and authority from the settings; `None` without a client id.
    pub fn from_settings(settings: &MicrosoftSettings) -> Option<Self> {
        Some(Self {
            client_ids: vec![settings.client_id.clone()?],
            authorities: vec![settings.authority_url.trim_end_matches('/').to_owned()],
        })
    }

    /// `{authority}/{tid}/v2.0` for each authority.
    fn v2_issuers(&self, tid: &str) -> Vec<String> {
        self.authorities
            .iter()
            .map(|a| format!("{}/{tid}/v2.0", a.trim_end_matches('/')))
            .collect()
    }
}

fn v1_issuer(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

/// A token that passed every check of §5.4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedToken {
    /// `tid`: the tenant the token vouches for. Every item's `tenantId` must be one of these.
    pub tenant_id: Uuid,
    /// `aud`: which of our client ids it was issued to.
    pub audience: String,
    /// `ver`: "1.0" or "2.0".
    pub version: String,
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
    ver: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

/// Validates EVERY token (§5.4: if one fails, the whole POST is suspect), in the order of the
/// spec: RS256 signature with the key named by `kid`; `exp`/`nbf` against `now` with
/// [`LEEWAY_SECS`]; `aud`; `iss` in the v1 or v2 form for the token's own `tid`; `azp` (ver 2.0)
/// or `appid` (otherwise) = [`CHANGE_TRACKING_APP_ID`]. A key published with an `issuer` (v2
/// key sets) must also be Entra's for that tenant. Returns one [`ValidatedToken`] per token, in
/// order; the first failure is the error. An empty slice validates to an empty list: the caller
/// decides whether a POST with encrypted items but no tokens is acceptable (it is not).
pub fn validate_tokens(
    tokens: &[String],
    keys: &Jwks,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Result<Vec<ValidatedToken>, RichError> {
    tokens
        .iter()
        .map(|token| validate_token(token, keys, expected, now))
        .collect()
}

fn validate_token(
    token: &str,
    keys: &Jwks,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Result<ValidatedToken, RichError> {
    // 1. Signature.
    let (claims, key_issuer) = decode_rs256::<Claims>(token, keys).map_err(|e| match e {
        SignedTokenError::Malformed(m) => RichError::MalformedToken(m),
        SignedTokenError::Algorithm(a) => RichError::Algorithm(a),
        SignedTokenError::UnknownKid(k) => RichError::UnknownKid(k),
        SignedTokenError::Signature => RichError::Signature,
    })?;

    // 2. Lifetime.
    let now = now.timestamp();
    let exp = claims
        .exp
        .ok_or_else(|| RichError::MalformedToken("no exp".into()))?;
    if now > exp + LEEWAY_SECS {
        return Err(RichError::Expired(exp));
    }
    if let Some(nbf) = claims.nbf
        && now + LEEWAY_SECS < nbf
    {
        return Err(RichError::NotYetValid(nbf));
    }

    // 3. Audience: one of our client ids.
    let audience = match &claims.aud {
        Some(serde_json::Value::String(aud)) => aud.clone(),
        Some(other) => return Err(RichError::Audience(other.to_string())),
        None => return Err(RichError::Audience("(none)".into())),
    };
    if !expected
        .client_ids
        .iter()
        .any(|id| id.eq_ignore_ascii_case(&audience))
    {
        return Err(RichError::Audience(audience));
    }

    // 4. Issuer: Entra's, v1 or v2, for the token's own tenant.
    let tid = claims
        .tid
        .ok_or_else(|| RichError::MalformedToken("no tid".into()))?;
    let tenant_id = Uuid::parse_str(&tid)
        .map_err(|_| RichError::MalformedToken(format!("tid {tid:?} is not a GUID")))?;
    let iss = claims.iss.unwrap_or_default();
    let v2_issuers = expected.v2_issuers(&tid);
    if iss != v1_issuer(&tid) && !v2_issuers.contains(&iss) {
        return Err(RichError::Issuer(iss));
    }
    // Entra's "signing-key issuer" check: a key published for one issuer (say, the personal
    // accounts tenant) does not vouch for another tenant's tokens.
    if let Some(key_issuer) = key_issuer
        && !v2_issuers.contains(&key_issuer.replace("{tenantid}", &tid))
    {
        return Err(RichError::KeyIssuer(key_issuer.to_owned()));
    }

    // 5. Publisher: Microsoft Graph Change Tracking.
    let version = claims.ver.unwrap_or_else(|| "1.0".to_owned());
    let (claim, value) = if version == "2.0" {
        ("azp", claims.azp)
    } else {
        ("appid", claims.appid)
    };
    let value = value.unwrap_or_default();
    if value != CHANGE_TRACKING_APP_ID {
        return Err(RichError::Publisher { claim, value });
    }

    Ok(ValidatedToken {
        tenant_id,
        audience,
        version,
    })
}

/// Why an RS256 token's signature could not be checked.
#[derive(Debug)]
pub(crate) enum SignedTokenError {
    Malformed(String),
    Algorithm(Algorithm),
    UnknownKid(String),
    Signature,
}

/// Decodes an RS256 JWT whose signature verifies with the key its `kid` names, and returns its
/// claims with the issuer that key was published for. No claim is checked: every caller checks
/// lifetime, audience and issuer itself, against its own clock.
pub(crate) fn decode_rs256<'k, C: serde::de::DeserializeOwned>(
    token: &str,
    keys: &'k Jwks,
) -> Result<(C, Option<&'k str>), SignedTokenError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| SignedTokenError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(SignedTokenError::Algorithm(header.alg));
    }
    let kid = header
        .kid
        .ok_or_else(|| SignedTokenError::Malformed("no kid in the header".into()))?;
    let key = keys
        .keys
        .get(&kid)
        .ok_or_else(|| SignedTokenError::UnknownKid(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<C>(token, &key.decoding, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => SignedTokenError::Signature,
            _ => SignedTokenError::Malformed(e.to_string()),
        })?
        .claims;
    Ok((claims, key.issuer.as_deref()))
}

// ---------------------------------------------------------------------------------------------
// Signing keys

/// Entra's signing keys by `kid` (a JWKS, §8.4).
#[derive(Clone, Default)]
pub struct Jwks {
    keys: HashMap<String, SigningKey>,
}

#[derive(Clone)]
struct SigningKey {
    decoding: DecodingKey,
    /// The per-key `issuer` of v2 key sets, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`.
    issuer: Option<String>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
}

impl Jwks {
    /// Parses `{"keys": [...]}`. Keys other than RSA signing keys with a `kid`, `n` and `e` are
    /// skipped.
    pub fn from_json(body: &[u8]) -> Result<Self, RichError> {
        let raw: RawJwks = serde_json::from_slice(body)
            .map_err(|e| RichError::Jwks(format!("not a JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in raw.keys {
            if jwk.kty != "RSA" || jwk.usage.as_deref().is_some_and(|u| u != "sig") {
                continue;
            }
            let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
                continue;
            };
            let Ok(decoding) = DecodingKey::from_rsa_components(&n, &e) else {
                continue;
            };
            keys.entry(kid).or_insert(SigningKey {
                decoding,
                issuer: jwk.issuer,
            });
        }
        Ok(Self { keys })
    }

    /// Adds the keys of `other` whose `kid` is not here yet.
    pub fn merge(&mut self, other: Jwks) {
        for (kid, key) in other.keys {
            self.keys.entry(kid).or_insert(key);
        }
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
