//! `validationTokens` (§5.4) and Entra's signing keys to check them against (§8.4).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use uuid::Uuid;

use super::{CHANGE_TRACKING_APP_ID, LEEWAY_SECS, RichError};
use crate::graph::microsoft::signed::{self, Rules, SignedError, Verified};
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

/// The claims of a validation token beyond those every Entra-signed token is checked on.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    ver: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    appid: Option<String>,
}

/// Validates EVERY token (§5.4: if one fails, the whole POST is suspect), in the order of the
/// spec: the checks of every Entra-signed token (`microsoft::signed`: RS256
/// signature with the key named by `kid`; `exp`/`nbf` against `now` with [`LEEWAY_SECS`];
/// `aud`; `iss` in the v1 or v2 form for the token's own `tid`; a key published with an
/// `issuer` must be Entra's for that tenant), then `azp` (ver 2.0) or `appid` (otherwise) =
/// [`CHANGE_TRACKING_APP_ID`]. Returns one [`ValidatedToken`] per token, in order; the first
/// failure is the error. An empty slice validates to an empty list: the caller decides whether
/// a POST with encrypted items but no tokens is acceptable (it is not).
pub fn validate_tokens(
    tokens: &[String],
    keys: &Jwks,
    expected: &Expected,
    now: DateTime<Utc>,
) -> Result<Vec<ValidatedToken>, RichError> {
    let rules = Rules {
        client_ids: &expected.client_ids,
        authorities: &expected.authorities,
        v1_issuer: true,
        leeway_secs: LEEWAY_SECS,
    };
    tokens
        .iter()
        .map(|token| validate_token(token, keys, &rules, now))
        .collect()
}

fn validate_token(
    token: &str,
    keys: &Jwks,
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Result<ValidatedToken, RichError> {
    let Verified {
        tenant,
        audience,
        claims,
    } = signed::verify::<Claims>(token, keys, rules, now)?;
    // Publisher: Microsoft Graph Change Tracking.
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
        tenant_id: tenant,
        audience,
        version,
    })
}

impl From<SignedError> for RichError {
    fn from(e: SignedError) -> Self {
        match e {
            SignedError::Malformed(m) => Self::MalformedToken(m),
            SignedError::Algorithm(a) => Self::Algorithm(a),
            SignedError::UnknownKid(k) => Self::UnknownKid(k),
            SignedError::Signature => Self::Signature,
            SignedError::Expired(exp) => Self::Expired(exp),
            SignedError::NotYetValid(nbf) => Self::NotYetValid(nbf),
            SignedError::Audience(aud) => Self::Audience(aud),
            SignedError::Issuer(iss) => Self::Issuer(iss),
            SignedError::KeyIssuer { key_issuer, .. } => Self::KeyIssuer(key_issuer),
        }
    }
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

    /// The key named `kid`, with the issuer it was published for (v2 key sets).
    pub(crate) fn get(&self, kid: &str) -> Option<(&DecodingKey, Option<&str>)> {
        self.keys
            .get(kid)
            .map(|key| (&key.decoding, key.issuer.as_deref()))
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
