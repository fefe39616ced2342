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

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration as StdDuration, Instant},
};

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use rsa010::{Oaep, PrivateKey, pkcs8::DecodePrivateKey};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    config::MicrosoftSettings,
    entities::encryption_certificate,
    error::{DomainError, DomainResult},
    webhooks::crypt::SecretBox,
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

// ---------------------------------------------------------------------------------------------
// encryptedContent

/// An item's `encryptedContent` (§5.2). All base64 is standard, with padding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedContent {
    pub data: String,
    pub data_signature: String,
    pub data_key: String,
    /// The `encryptionCertificateId` the subscription was created with: our certificate's label.
    pub encryption_certificate_id: String,
    /// Upper-case hex SHA-1 of the certificate's DER.
    pub encryption_certificate_thumbprint: String,
}

/// A certificate's private key, parsed once, with the certificate's thumbprint. Parse it once
/// per certificate and reuse it: parsing an RSA key costs more than decrypting an item.
pub struct DecryptionKey {
    key: PrivateKey,
    thumbprint: String,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// From the PKCS#8 DER private key and the DER certificate, as `encryption_certificates`
    /// holds them (the key once opened with the `SecretBox`).
    pub fn new(private_key_pkcs8_der: &[u8], certificate_der: &[u8]) -> Result<Self, RichError> {
        let key =
            PrivateKey::from_pkcs8_der(private_key_pkcs8_der).map_err(|_| RichError::PrivateKey)?;
        Ok(Self {
            key,
            thumbprint: thumbprint(certificate_der),
        })
    }

    /// The key of the certificate labelled `label` (an item's `encryptionCertificateId`), or
    /// `None` when we have no such certificate.
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        secret_box: &SecretBox,
        label: &str,
    ) -> DomainResult<Option<Self>> {
        let Some(model) = encryption_certificate::Entity::find()
            .filter(encryption_certificate::Column::Label.eq(label))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(pkcs8) = super::certificates::private_key(db, secret_box, label).await? else {
            return Ok(None);
        };
        Self::new(&pkcs8, &model.certificate)
            .map(Some)
            .map_err(|e| DomainError::internal("reading an encryption certificate key", e))
    }

    /// Upper-case hex SHA-1 of the certificate, as Graph puts it in
    /// `encryptionCertificateThumbprint`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Decrypts `content` exactly as §5.3 says:
    /// 1. `K` = RSA-OAEP(SHA-1 for the hash and MGF1, empty label) of `dataKey`, 32 bytes;
    /// 2. HMAC-SHA256(K, decoded `data`) must equal decoded `dataSignature` (constant time);
    /// 3. AES-256-CBC with IV = K[0..16], PKCS#7; 4. UTF-8 JSON.
    ///
    /// The thumbprint is checked first, so a payload for another certificate fails cleanly.
    pub fn decrypt(&self, content: &EncryptedContent) -> Result<serde_json::Value, RichError> {
        let got = content.encryption_certificate_thumbprint.trim();
        if !got.eq_ignore_ascii_case(&self.thumbprint) {
            return Err(RichError::Thumbprint {
                expected: self.thumbprint.clone(),
                got: got.to_owned(),
            });
        }
        let data_key = decode(&content.data_key, "dataKey")?;
        let signature = decode(&content.data_signature, "dataSignature")?;
        let data = decode(&content.data, "data")?;

        let k = self
            .key
            .decrypt(Oaep::<Sha1>::new(), &data_key)
            .map_err(|_| RichError::KeyUnwrap)?;
        let k: [u8; 32] = k
            .as_slice()
            .try_into()
            .map_err(|_| RichError::KeyLength(k.len()))?;

        // Encrypt-then-MAC over the ciphertext bytes; `verify_slice` compares in constant time.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&k)
            .map_err(|_| RichError::DataSignature)?
            .chain_update(&data)
            .verify_slice(&signature)
            .map_err(|_| RichError::DataSignature)?;

        let mut iv = [0u8; 16];
        iv.copy_from_slice(&k[..16]);
        let plaintext = cbc::Decryptor::<aes::Aes256>::new(&k.into(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(&data)
            .map_err(|_| RichError::Padding)?;
        // Only the error's category and position: its text could quote the plaintext.
        serde_json::from_slice(&plaintext).map_err(|e| {
            RichError::Json(format!(
                "{:?} at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// [`DecryptionKey::decrypt`] with a key parsed for this one call.
pub fn decrypt(
    content: &EncryptedContent,
    private_key_pkcs8_der: &[u8],
    certificate_der: &[u8],
) -> Result<serde_json::Value, RichError> {
    DecryptionKey::new(private_key_pkcs8_der, certificate_der)?.decrypt(content)
}

/// Upper-case hex SHA-1 of a DER certificate (§5.2).
pub fn thumbprint(certificate_der: &[u8]) -> String {
    Sha1::digest(certificate_der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn decode(text: &str, field: &'static str) -> Result<Vec<u8>, RichError> {
    STANDARD
        .decode(text.trim())
        .map_err(|_| RichError::Base64(field))
}

// ---------------------------------------------------------------------------------------------
// validationTokens

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
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| RichError::MalformedToken(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(RichError::Algorithm(header.alg));
    }
    let kid = header
        .kid
        .ok_or_else(|| RichError::MalformedToken("no kid in the header".into()))?;
    let key = keys
        .keys
        .get(&kid)
        .ok_or_else(|| RichError::UnknownKid(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Every claim is checked below, against the caller's clock rather than the wall clock.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => RichError::Signature,
            _ => RichError::MalformedToken(e.to_string()),
        })?
        .claims;

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
    if let Some(key_issuer) = &key.issuer
        && !v2_issuers.contains(&key_issuer.replace("{tenantid}", &tid))
    {
        return Err(RichError::KeyIssuer(key_issuer.clone()));
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

struct Fetched {
    keys: Arc<Jwks>,
    at: Instant,
}

/// Entra's signing keys, fetched from `{authority}/common/discovery/v2.0/keys` and
/// `{authority}/common/discovery/keys` (merged; v2 first, for its per-key issuers) and kept in
/// memory. Keys are fetched on first use, again when older than [`JWKS_MAX_AGE`], and again
/// when a token names an unknown `kid`, but never twice within [`JWKS_MIN_REFRESH`]: forged
/// kids cannot make us hammer Entra. Concurrent callers share one fetch. Share one cache per
/// process (it is `Send + Sync`; wrap it in an `Arc`).
pub struct JwksCache {
    http: reqwest::Client,
    urls: Vec<String>,
    min_refresh: StdDuration,
    max_age: StdDuration,
    current: tokio::sync::RwLock<Option<Fetched>>,
    /// The last fetch attempt; held while fetching, so one caller fetches and the others wait.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// For `settings.authority_url` (production `https://login.microsoftonline.com`, or the
    /// emulator's base URL).
    pub fn new(settings: &MicrosoftSettings) -> anyhow::Result<Self> {
        let authority = settings.authority_url.trim_end_matches('/');
        Self::with_urls(
            vec![
                format!("{authority}/common/discovery/v2.0/keys"),
                format!("{authority}/common/discovery/keys"),
            ],
            JWKS_MIN_REFRESH,
        )
    }

    /// Keys from `urls`, fetched again on an unknown kid at most every `min_refresh`.
    pub fn with_urls(urls: Vec<String>, min_refresh: StdDuration) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(StdDuration::from_secs(5))
            .timeout(StdDuration::from_secs(15))
            .build()?;
        Ok(Self {
            http,
            urls,
            min_refresh,
            max_age: JWKS_MAX_AGE,
            current: tokio::sync::RwLock::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
        })
    }

    /// [`validate_tokens`] with the cached keys; on an unknown kid, the keys are refreshed (rate
    /// limited) and the tokens validated once more. No tokens: no fetch, an empty list.
    pub async fn validate(
        &self,
        tokens: &[String],
        expected: &Expected,
        now: DateTime<Utc>,
    ) -> Result<Vec<ValidatedToken>, RichError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys().await?;
        match validate_tokens(tokens, &keys, expected, now) {
            Err(e) if e.is_unknown_kid() => {
                let keys = self.refresh().await?;
                validate_tokens(tokens, &keys, expected, now)
            }
            other => other,
        }
    }

    /// The cached keys, fetched first if there are none or they are older than the maximum age.
    pub async fn keys(&self) -> Result<Arc<Jwks>, RichError> {
        if let Some(fetched) = self.current.read().await.as_ref()
            && fetched.at.elapsed() < self.max_age
        {
            return Ok(fetched.keys.clone());
        }
        self.refresh().await
    }

    /// Fetches the keys again, unless the last attempt was less than the minimum interval ago:
    /// then the cached keys are returned as they are (an error if there are none). A failed
    /// fetch keeps the keys already held.
    pub async fn refresh(&self) -> Result<Arc<Jwks>, RichError> {
        let mut last = self.last_attempt.lock().await;
        if let Some(at) = *last
            && at.elapsed() < self.min_refresh
        {
            return self
                .cached()
                .await
                .ok_or_else(|| RichError::Jwks("the last fetch failed; not retrying yet".into()));
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(jwks) => {
                let keys = Arc::new(jwks);
                *self.current.write().await = Some(Fetched {
                    keys: keys.clone(),
                    at: Instant::now(),
                });
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching Entra's signing keys failed");
                self.cached().await.ok_or(e)
            }
        }
    }

    async fn cached(&self) -> Option<Arc<Jwks>> {
        self.current.read().await.as_ref().map(|f| f.keys.clone())
    }

    /// Every URL, merged; one failing is tolerated when another answers.
    #[tracing::instrument(skip(self))]
    async fn fetch(&self) -> Result<Jwks, RichError> {
        let mut merged = Jwks::default();
        let mut problems = Vec::new();
        for url in &self.urls {
            match self.fetch_one(url).await {
                Ok(jwks) => merged.merge(jwks),
                Err(e) => {
                    tracing::warn!(%url, error = %e, "a JWKS endpoint failed");
                    problems.push(format!("{url}: {e}"));
                }
            }
        }
        if merged.is_empty() {
            return Err(RichError::Jwks(if problems.is_empty() {
                "no usable keys".into()
            } else {
                problems.join("; ")
            }));
        }
        tracing::debug!(keys = merged.len(), "fetched Entra's signing keys");
        Ok(merged)
    }

    async fn fetch_one(&self, url: &str) -> Result<Jwks, RichError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| RichError::Jwks(e.to_string()))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| RichError::Jwks(e.to_string()))?;
        Jwks::from_json(&body)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        LazyLock, Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use aes::cipher::BlockModeEncrypt;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
    const TENANT: &str = "2f4a9838-26b7-47ee-be60-ccc1fdec5953";
    const OTHER_TENANT: &str = "7a1b0d2c-3e4f-4a5b-8c6d-9e0f1a2b3c4d";
    const AUTHORITY: &str = "http://127.0.0.1:8090";
    const KID: &str = "emulator-key";

    /// One RSA key pair with a certificate (as `certificates::generate` makes them), which both
    /// receives rich payloads and signs tokens, and a second key that is not Entra's.
    struct Keys {
        certificate_der: Vec<u8>,
        pkcs8_der: Vec<u8>,
        signing: EncodingKey,
        n: String,
        e: String,
        impostor: EncodingKey,
    }

    fn pem_of(key: &rsa::RsaPrivateKey) -> EncodingKey {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
    }

    static KEYS: LazyLock<Keys> = LazyLock::new(|| {
        use rsa::{pkcs8::DecodePrivateKey, traits::PublicKeyParts};
        let (certificate_der, pkcs8_der) = super::super::certificates::generate().unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&pkcs8_der).unwrap();
        let impostor = rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048).unwrap();
        Keys {
            signing: pem_of(&key),
            n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            impostor: pem_of(&impostor),
            certificate_der,
            pkcs8_der,
        }
    });

    // -- encryptedContent, built as Graph builds it (§5.3 inverted) ------------------------------

    fn wrap_sha1(k: &[u8]) -> Vec<u8> {
        let public = PrivateKey::from_pkcs8_der(&KEYS.pkcs8_der)
            .unwrap()
            .to_public_key();
        public
            .encrypt(&mut getrandom::SysRng, Oaep::<Sha1>::new(), k)
            .unwrap()
    }

    fn wrap_sha256(k: &[u8]) -> Vec<u8> {
        let public = PrivateKey::from_pkcs8_der(&KEYS.pkcs8_der)
            .unwrap()
            .to_public_key();
        public
            .encrypt(&mut getrandom::SysRng, Oaep::<Sha256>::new(), k)
            .unwrap()
    }

    /// A fresh random K; data = AES-256-CBC(K, iv = K[0..16], PKCS#7); dataSignature =
    /// HMAC-SHA256(K, data); dataKey = `wrap(K)`; the certificate's upper-hex SHA-1.
    fn encrypt_as_graph(resource: &Value, wrap: fn(&[u8]) -> Vec<u8>) -> EncryptedContent {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).unwrap();
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&k[..16]);
        let plaintext = serde_json::to_vec(resource).unwrap();
        let data = cbc::Encryptor::<aes::Aes256>::new(&k.into(), &iv.into())
            .encrypt_padded_vec::<Pkcs7>(&plaintext);
        let signature = <Hmac<Sha256> as KeyInit>::new_from_slice(&k)
            .unwrap()
            .chain_update(&data)
            .finalize()
            .into_bytes();
        let thumbprint: String = Sha1::digest(&KEYS.certificate_der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        EncryptedContent {
            data: STANDARD.encode(&data),
            data_signature: STANDARD.encode(signature),
            data_key: STANDARD.encode(wrap(&k)),
            encryption_certificate_id: "ghc-20261201-0a1b2c3d".into(),
            encryption_certificate_thumbprint: thumbprint,
        }
    }

    fn message() -> Value {
        json!({
            "@odata.type": "#Microsoft.Graph.Message",
            "id": "AAMkAGUwNjQ4ZjIxAAA=",
            "subject": "Board minutes — Q4 ✓",
            "receivedDateTime": "2026-12-01T09:00:00Z",
            "receivedDateTime@odata.type": "#DateTimeOffset",
        })
    }

    fn flip_one_byte(base64: &str) -> String {
        let mut bytes = STANDARD.decode(base64).unwrap();
        bytes[5] ^= 0x01;
        STANDARD.encode(bytes)
    }

    fn decrypted(content: &EncryptedContent) -> Result<Value, RichError> {
        decrypt(content, &KEYS.pkcs8_der, &KEYS.certificate_der)
    }

    #[test]
    fn a_payload_encrypted_as_graph_does_decrypts_to_the_resource() {
        let content = encrypt_as_graph(&message(), wrap_sha1);
        assert_eq!(decrypted(&content).unwrap(), message());

        // The camelCase field names of §5.2.
        let parsed: EncryptedContent =
            serde_json::from_value(serde_json::to_value(&content).unwrap()).unwrap();
        assert_eq!(parsed, content);
        assert!(
            serde_json::to_value(&content).unwrap()["encryptionCertificateThumbprint"].is_string()
        );
    }

    #[test]
    fn one_parsed_key_decrypts_many_items_each_with_its_own_k() {
        let key = DecryptionKey::new(&KEYS.pkcs8_der, &KEYS.certificate_der).unwrap();
        assert_eq!(key.thumbprint(), thumbprint(&KEYS.certificate_der));
        assert_eq!(key.thumbprint().len(), 40);
        for i in 0..3 {
            let resource = json!({"id": i, "body": "x".repeat(i * 40)});
            let content = encrypt_as_graph(&resource, wrap_sha1);
            assert_eq!(key.decrypt(&content).unwrap(), resource);
        }
        assert!(!format!("{key:?}").contains("PrivateKey {"));
    }

    #[test]
    fn a_thumbprint_in_lower_case_is_the_same_certificate() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.encryption_certificate_thumbprint =
            content.encryption_certificate_thumbprint.to_lowercase();
        assert_eq!(decrypted(&content).unwrap(), message());
    }

    #[test]
    fn tampered_data_fails_the_signature_check() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data = flip_one_byte(&content.data);
        assert!(matches!(decrypted(&content), Err(RichError::DataSignature)));
    }

    #[test]
    fn a_tampered_data_signature_fails() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data_signature = flip_one_byte(&content.data_signature);
        assert!(matches!(decrypted(&content), Err(RichError::DataSignature)));
    }

    #[test]
    fn a_signature_of_another_item_fails() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data_signature = encrypt_as_graph(&message(), wrap_sha1).data_signature;
        assert!(matches!(decrypted(&content), Err(RichError::DataSignature)));
    }

    #[test]
    fn a_tampered_data_key_does_not_unwrap() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data_key = flip_one_byte(&content.data_key);
        assert!(matches!(decrypted(&content), Err(RichError::KeyUnwrap)));
    }

    #[test]
    fn a_key_wrapped_with_oaep_sha256_does_not_unwrap() {
        let content = encrypt_as_graph(&message(), wrap_sha256);
        assert!(matches!(decrypted(&content), Err(RichError::KeyUnwrap)));
    }

    #[test]
    fn a_wrapped_key_that_is_not_32_bytes_is_refused() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data_key = STANDARD.encode(wrap_sha1(&[7u8; 16]));
        assert!(matches!(decrypted(&content), Err(RichError::KeyLength(16))));
    }

    #[test]
    fn another_certificates_thumbprint_is_refused_before_any_decryption() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.encryption_certificate_thumbprint =
            "4B95353E086AD37196606ACF834A14532F03E6DB".into();
        let err = decrypted(&content).unwrap_err();
        assert!(matches!(err, RichError::Thumbprint { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("4B95353E086AD37196606ACF834A14532F03E6DB")
        );
    }

    #[test]
    fn url_safe_or_broken_base64_is_refused_naming_the_field() {
        let mut content = encrypt_as_graph(&message(), wrap_sha1);
        content.data_signature = "-_8=".into();
        assert!(matches!(
            decrypted(&content),
            Err(RichError::Base64("dataSignature"))
        ));
    }

    #[test]
    fn a_key_that_is_not_pkcs8_is_refused() {
        let content = encrypt_as_graph(&message(), wrap_sha1);
        assert!(matches!(
            decrypt(&content, b"not a key", &KEYS.certificate_der),
            Err(RichError::PrivateKey)
        ));
    }

    // -- validationTokens ----------------------------------------------------------------------

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).unwrap()
    }

    fn expected() -> Expected {
        Expected {
            client_ids: vec![CLIENT_ID.into()],
            authorities: vec![AUTHORITY.into()],
        }
    }

    fn jwk(kid: &str, issuer: Option<&str>) -> Value {
        let mut key = json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                             "n": KEYS.n, "e": KEYS.e, "x5c": ["MIIB"]});
        if let Some(issuer) = issuer {
            key["issuer"] = json!(issuer);
        }
        key
    }

    /// The emulator's v2 key set: the key with its `{tenantid}` issuer template.
    fn jwks() -> Jwks {
        let body = json!({"keys": [jwk(KID, Some(&format!("{AUTHORITY}/{{tenantid}}/v2.0")))]});
        Jwks::from_json(body.to_string().as_bytes()).unwrap()
    }

    fn v2_claims(tenant: &str) -> Value {
        let iat = now().timestamp() - 60;
        json!({"aud": CLIENT_ID, "iss": format!("{AUTHORITY}/{tenant}/v2.0"), "iat": iat,
               "nbf": iat, "exp": iat + 29_100, "aio": "x", "azp": CHANGE_TRACKING_APP_ID,
               "azpacr": "2", "tid": tenant, "uti": "y", "ver": "2.0"})
    }

    fn v1_claims(tenant: &str) -> Value {
        let iat = now().timestamp() - 60;
        let iss = format!("https://sts.windows.net/{tenant}/");
        json!({"aud": CLIENT_ID, "iss": iss, "idp": iss, "iat": iat, "nbf": iat,
               "exp": iat + 29_100, "aio": "x", "appid": CHANGE_TRACKING_APP_ID,
               "appidacr": "2", "tid": tenant, "uti": "y", "ver": "1.0"})
    }

    fn sign_with(claims: &Value, kid: &str, key: &EncodingKey) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(kid.into());
        header.x5t = Some(kid.into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn sign(claims: &Value) -> String {
        sign_with(claims, KID, &KEYS.signing)
    }

    fn check(claims: Value) -> Result<Vec<ValidatedToken>, RichError> {
        validate_tokens(&[sign(&claims)], &jwks(), &expected(), now())
    }

    #[test]
    fn v2_and_v1_tokens_verify_and_name_their_tenants() {
        let tokens = [sign(&v2_claims(TENANT)), sign(&v1_claims(OTHER_TENANT))];
        let validated = validate_tokens(&tokens, &jwks(), &expected(), now()).unwrap();
        assert_eq!(
            validated,
            vec![
                ValidatedToken {
                    tenant_id: TENANT.parse().unwrap(),
                    audience: CLIENT_ID.into(),
                    version: "2.0".into(),
                },
                ValidatedToken {
                    tenant_id: OTHER_TENANT.parse().unwrap(),
                    audience: CLIENT_ID.into(),
                    version: "1.0".into(),
                },
            ]
        );
    }

    #[test]
    fn production_issuers_verify_when_the_authority_is_microsofts() {
        let mut claims = v2_claims(TENANT);
        claims["iss"] = json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0"));
        let settings = MicrosoftSettings {
            client_id: Some(CLIENT_ID.into()),
            ..MicrosoftSettings::default()
        };
        let expected = Expected::from_settings(&settings).unwrap();
        assert_eq!(
            expected.authorities,
            vec!["https://login.microsoftonline.com"]
        );
        let body =
            json!({"keys": [jwk(KID, Some("https://login.microsoftonline.com/{tenantid}/v2.0"))]});
        let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
        assert!(validate_tokens(&[sign(&claims)], &keys, &expected, now()).is_ok());
        assert!(validate_tokens(&[sign(&v1_claims(TENANT))], &keys, &expected, now()).is_ok());
        // Without a client id there is nothing to check `aud` against.
        assert!(Expected::from_settings(&MicrosoftSettings::default()).is_none());
    }

    #[test]
    fn no_tokens_validate_to_no_tenants() {
        assert_eq!(
            validate_tokens(&[], &jwks(), &expected(), now()).unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_token_for_another_app_is_refused() {
        let mut claims = v2_claims(TENANT);
        claims["aud"] = json!("00000003-0000-0000-c000-000000000000");
        let err = check(claims).unwrap_err();
        assert!(
            matches!(err, RichError::Audience(ref a) if a.starts_with("00000003")),
            "{err}"
        );
    }

    #[test]
    fn an_issuer_that_is_not_entras_for_the_tokens_tenant_is_refused() {
        for iss in [
            format!("https://evil.example/{TENANT}/v2.0"),
            format!("{AUTHORITY}/{OTHER_TENANT}/v2.0"),
            format!("https://sts.windows.net/{OTHER_TENANT}/"),
            format!("https://sts.windows.net/{TENANT}"),
        ] {
            let mut claims = v2_claims(TENANT);
            claims["iss"] = json!(iss);
            assert!(
                matches!(check(claims), Err(RichError::Issuer(ref got)) if *got == iss),
                "{iss}"
            );
        }
    }

    #[test]
    fn a_token_not_published_by_graph_change_tracking_is_refused() {
        let mut claims = v2_claims(TENANT);
        claims["azp"] = json!(CLIENT_ID);
        assert!(matches!(
            check(claims),
            Err(RichError::Publisher { claim: "azp", .. })
        ));
        let mut claims = v1_claims(TENANT);
        claims["appid"] = json!("11111111-2222-3333-4444-555555555555");
        assert!(matches!(
            check(claims),
            Err(RichError::Publisher { claim: "appid", .. })
        ));
        // The claim that counts follows `ver`: a v2 token's `appid` is not its publisher.
        let mut claims = v2_claims(TENANT);
        claims.as_object_mut().unwrap().remove("azp");
        claims["appid"] = json!(CHANGE_TRACKING_APP_ID);
        assert!(matches!(
            check(claims),
            Err(RichError::Publisher { claim: "azp", .. })
        ));
    }

    #[test]
    fn an_expired_token_is_refused_beyond_the_leeway() {
        let mut claims = v2_claims(TENANT);
        claims["exp"] = json!(now().timestamp() - LEEWAY_SECS + 10);
        assert!(check(claims.clone()).is_ok(), "within the leeway");
        claims["exp"] = json!(now().timestamp() - LEEWAY_SECS - 10);
        assert!(matches!(check(claims), Err(RichError::Expired(_))));
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_leeway() {
        let mut claims = v2_claims(TENANT);
        claims["nbf"] = json!(now().timestamp() + LEEWAY_SECS + 10);
        assert!(matches!(check(claims), Err(RichError::NotYetValid(_))));
    }

    #[test]
    fn a_token_without_exp_is_refused() {
        let mut claims = v2_claims(TENANT);
        claims.as_object_mut().unwrap().remove("exp");
        assert!(matches!(check(claims), Err(RichError::MalformedToken(_))));
    }

    #[test]
    fn an_unknown_kid_is_reported_as_such() {
        let token = sign_with(&v2_claims(TENANT), "rotated-key", &KEYS.signing);
        let err = validate_tokens(&[token], &jwks(), &expected(), now()).unwrap_err();
        assert!(err.is_unknown_kid(), "{err}");
        assert!(matches!(err, RichError::UnknownKid(ref kid) if kid == "rotated-key"));
    }

    #[test]
    fn a_token_signed_with_another_key_under_a_known_kid_is_refused() {
        let token = sign_with(&v2_claims(TENANT), KID, &KEYS.impostor);
        assert!(matches!(
            validate_tokens(&[token], &jwks(), &expected(), now()),
            Err(RichError::Signature)
        ));
        // Claims edited after signing.
        let token = sign(&v2_claims(TENANT));
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut claims = v2_claims(TENANT);
        claims["tid"] = json!(OTHER_TENANT);
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts[1] = &forged;
        assert!(matches!(
            validate_tokens(&[parts.join(".")], &jwks(), &expected(), now()),
            Err(RichError::Signature)
        ));
    }

    #[test]
    fn a_token_signed_with_an_hmac_is_refused() {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.into());
        let key = EncodingKey::from_secret(KEYS.n.as_bytes()).unwrap();
        let token = jsonwebtoken::encode(&header, &v2_claims(TENANT), &key).unwrap();
        assert!(matches!(
            validate_tokens(&[token], &jwks(), &expected(), now()),
            Err(RichError::Algorithm(Algorithm::HS256))
        ));
    }

    #[test]
    fn one_bad_token_among_good_ones_fails_the_lot() {
        let mut bad = v1_claims(OTHER_TENANT);
        bad["aud"] = json!("someone-else");
        let tokens = [sign(&v2_claims(TENANT)), sign(&bad)];
        assert!(matches!(
            validate_tokens(&tokens, &jwks(), &expected(), now()),
            Err(RichError::Audience(_))
        ));
        assert!(matches!(
            validate_tokens(&["garbage".into()], &jwks(), &expected(), now()),
            Err(RichError::MalformedToken(_))
        ));
    }

    #[test]
    fn a_key_published_for_a_single_other_tenant_vouches_for_no_one_else() {
        // Like the personal-accounts keys, issued for the 9188040d-… tenant only.
        let msa = format!("{AUTHORITY}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0");
        let body = json!({"keys": [jwk(KID, Some(&msa))]});
        let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
        let token = sign(&v2_claims(TENANT));
        assert!(matches!(
            validate_tokens(&[token], &keys, &expected(), now()),
            Err(RichError::KeyIssuer(_))
        ));
        // A v1 key set carries no issuer: only `iss` is checked.
        let body = json!({"keys": [jwk(KID, None)]});
        let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
        let token = sign(&v1_claims(TENANT));
        assert!(validate_tokens(&[token], &keys, &expected(), now()).is_ok());
    }

    #[test]
    fn a_jwks_keeps_only_rsa_signing_keys() {
        let body = json!({"keys": [
            jwk("a", None),
            {"kty": "EC", "kid": "b", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "use": "enc", "kid": "c", "n": KEYS.n, "e": KEYS.e},
            {"kty": "RSA", "use": "sig", "n": KEYS.n, "e": KEYS.e},
        ]});
        let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains("a"));
        assert!(Jwks::from_json(b"<html>").is_err());
    }

    // -- JwksCache against a local key server ------------------------------------------------

    /// A tiny HTTP server: 200 with the body set for a path, 404 otherwise; counts requests.
    struct KeyServer {
        base: String,
        bodies: Arc<Mutex<HashMap<String, String>>>,
        hits: Arc<AtomicUsize>,
    }

    impl KeyServer {
        async fn start() -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let bodies: Arc<Mutex<HashMap<String, String>>> = Arc::default();
            let hits = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (bodies.clone(), hits.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        return;
                    };
                    let (served, counted) = (served.clone(), counted.clone());
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        counted.fetch_add(1, Ordering::SeqCst);
                        let text = String::from_utf8_lossy(&request);
                        let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                        let body = served.lock().unwrap().get(&path).cloned();
                        let response = match body {
                            Some(body) => format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            ),
                            None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\
                                     connection: close\r\n\r\n"
                                .to_owned(),
                        };
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    });
                }
            });
            Self { base, bodies, hits }
        }

        fn serve(&self, path: &str, kids: &[&str]) {
            let keys: Vec<Value> = kids.iter().map(|kid| jwk(kid, None)).collect();
            self.bodies
                .lock()
                .unwrap()
                .insert(path.into(), json!({"keys": keys}).to_string());
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }

        fn settings(&self) -> MicrosoftSettings {
            MicrosoftSettings {
                authority_url: format!("{}/", self.base),
                client_id: Some(CLIENT_ID.into()),
                ..MicrosoftSettings::default()
            }
        }
    }

    const V2_KEYS: &str = "/common/discovery/v2.0/keys";
    const V1_KEYS: &str = "/common/discovery/keys";

    fn v1_token_with(kid: &str) -> Vec<String> {
        vec![sign_with(&v1_claims(TENANT), kid, &KEYS.signing)]
    }

    fn expected_for(server: &KeyServer) -> Expected {
        Expected::from_settings(&server.settings()).unwrap()
    }

    #[tokio::test]
    async fn the_cache_merges_both_key_sets_of_the_authority() {
        let server = KeyServer::start().await;
        server.serve(V2_KEYS, &["both", "v2-only"]);
        server.serve(V1_KEYS, &["both", "v1-only"]);
        let cache = JwksCache::new(&server.settings()).unwrap();
        let keys = cache.keys().await.unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(server.hits(), 2);
        cache.keys().await.unwrap();
        assert_eq!(server.hits(), 2, "served from memory");
    }

    #[tokio::test]
    async fn one_key_set_missing_is_tolerated_and_none_is_an_error() {
        let server = KeyServer::start().await;
        server.serve(V1_KEYS, &[KID]);
        let cache = JwksCache::new(&server.settings()).unwrap();
        assert!(cache.keys().await.unwrap().contains(KID));

        let empty = KeyServer::start().await;
        let cache = JwksCache::new(&empty.settings()).unwrap();
        assert!(matches!(cache.keys().await, Err(RichError::Jwks(_))));
        let err = cache
            .validate(&v1_token_with(KID), &expected_for(&empty), now())
            .await
            .unwrap_err();
        assert!(matches!(err, RichError::Jwks(_)), "{err}");
        assert_eq!(
            empty.hits(),
            2,
            "the failed fetch is not retried within the minute"
        );
    }

    #[tokio::test]
    async fn an_unknown_kid_refreshes_the_keys_and_validates_again() {
        let server = KeyServer::start().await;
        server.serve(V1_KEYS, &["old"]);
        let cache =
            JwksCache::with_urls(vec![format!("{}{V1_KEYS}", server.base)], StdDuration::ZERO)
                .unwrap();
        let expected = expected_for(&server);
        assert!(cache.keys().await.unwrap().contains("old"));
        assert_eq!(server.hits(), 1);

        server.serve(V1_KEYS, &["old", "rotated"]);
        let validated = cache
            .validate(&v1_token_with("rotated"), &expected, now())
            .await
            .unwrap();
        assert_eq!(validated[0].tenant_id.to_string(), TENANT);
        assert_eq!(server.hits(), 2, "one refresh");
        cache
            .validate(&v1_token_with("rotated"), &expected, now())
            .await
            .unwrap();
        assert_eq!(server.hits(), 2, "the rotated key is now cached");
        assert!(
            cache
                .validate(&[], &expected, now())
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn forged_kids_refresh_the_keys_at_most_once_a_minute() {
        let server = KeyServer::start().await;
        server.serve(V1_KEYS, &[KID]);
        let cache = JwksCache::new(&server.settings()).unwrap();
        let expected = expected_for(&server);
        cache
            .validate(&v1_token_with(KID), &expected, now())
            .await
            .unwrap();
        let after_first_fetch = server.hits();

        for i in 0..20 {
            let err = cache
                .validate(&v1_token_with(&format!("forged-{i}")), &expected, now())
                .await
                .unwrap_err();
            assert!(err.is_unknown_kid(), "{err}");
        }
        assert_eq!(
            server.hits(),
            after_first_fetch,
            "no fetch within the minute"
        );
        // The known key still verifies meanwhile.
        cache
            .validate(&v1_token_with(KID), &expected, now())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let server = KeyServer::start().await;
        server.serve(V2_KEYS, &[KID]);
        server.serve(V1_KEYS, &[KID]);
        let cache = Arc::new(JwksCache::new(&server.settings()).unwrap());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.keys().await.map(|k| k.len()) })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 1);
        }
        assert_eq!(server.hits(), 2, "one fetch of each key set");
    }
}
