//! Admin-consent onboarding: the signed, expiring, single-use `state` bound to the browser, and
//! completing a consent once a token proves it.
//!
//! `state` is an HS256 JWT carrying the company name, a nonce and a binding: the SHA-256 of a
//! random value the browser holds in an HttpOnly cookie. The nonce is stored in Redis at start
//! and deleted at the callback, so a `state` works once.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{clock::Clock, redis_conn};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateClaims {
    pub company: String,
    pub nonce: String,
    /// base64url(SHA-256(cookie value)).
    pub binding: String,
    pub iat: i64,
    pub exp: i64,
}

/// What starting an onboarding produces: the `state` for the URL and the value for the cookie.
pub struct Started {
    pub state: String,
    pub cookie: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the sign-in link is not valid")]
    Invalid,
    #[error("the sign-in link has expired")]
    Expired,
    #[error("this sign-in was started in another browser")]
    WrongBrowser,
    #[error("this sign-in link was already used")]
    Replayed,
}

fn random() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn binding(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(cookie.as_bytes()))
}

fn nonce_key(prefix: &str, nonce: &str) -> String {
    format!("{prefix}:onboarding:nonce:{nonce}")
}

/// Issues a `state` and stores its nonce.
pub async fn start(
    redis: &ConnectionManager,
    prefix: &str,
    key: &SecretString,
    clock: &Clock,
    ttl: Duration,
    company: &str,
) -> anyhow::Result<Started> {
    let cookie = random();
    let nonce = random();
    let now = clock.now();
    let claims = StateClaims {
        company: company.to_owned(),
        nonce: nonce.clone(),
        binding: binding(&cookie),
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    let state = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.expose_secret().as_bytes())?,
    )?;
    let redis_key = nonce_key(prefix, &nonce);
    let ttl_secs = ttl.num_seconds().max(1) as u64;
    redis_conn::retry(|| {
        let mut conn = redis.clone();
        let redis_key = redis_key.clone();
        async move {
            redis::cmd("SET")
                .arg(redis_key)
                .arg(1)
                .arg("EX")
                .arg(ttl_secs)
                .query_async::<()>(&mut conn)
                .await
        }
    })
    .await?;
    Ok(Started { state, cookie })
}

/// Checks a `state`: signature, expiry (by the clock), the browser's cookie, then uses up its
/// nonce. Each failure says which check failed.
pub async fn verify(
    redis: &ConnectionManager,
    prefix: &str,
    key: &SecretString,
    clock: &Clock,
    state: &str,
    cookie: Option<&str>,
) -> anyhow::Result<Result<StateClaims, StateError>> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked against the shared clock below, not the system clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let decoding = DecodingKey::from_secret(key.expose_secret().as_bytes())?;
    let Ok(data) = jsonwebtoken::decode::<StateClaims>(state, &decoding, &validation) else {
        return Ok(Err(StateError::Invalid));
    };
    let claims = data.claims;
    if claims.exp <= clock.now().timestamp() {
        return Ok(Err(StateError::Expired));
    }
    let Some(cookie) = cookie else {
        return Ok(Err(StateError::WrongBrowser));
    };
    if !bool::from(binding(cookie).as_bytes().ct_eq(claims.binding.as_bytes())) {
        return Ok(Err(StateError::WrongBrowser));
    }
    let redis_key = nonce_key(prefix, &claims.nonce);
    let deleted: u64 = redis_conn::retry(|| {
        let mut conn = redis.clone();
        let redis_key = redis_key.clone();
        async move {
            redis::cmd("DEL")
                .arg(redis_key)
                .query_async::<u64>(&mut conn)
                .await
        }
    })
    .await?;
    if deleted == 0 {
        return Ok(Err(StateError::Replayed));
    }
    Ok(Ok(claims))
}
