//! The onboarding `state`: an HS256 JWT that is signed, expiring, bound to one browser and
//! usable once.
//!
//! The binding is the SHA-256 of a random value the browser holds in an HttpOnly cookie, so a
//! `state` copied out of a URL is useless elsewhere. The PKCE verifier and the OpenID nonce of
//! the sign-in are HMACs of the state's id and that cookie under the server's key: whoever sees
//! the URLs (which carry only the challenge and the nonce) cannot redeem the code, and nothing
//! has to be stored while the administrator is at Microsoft. Single use is enforced when
//! Microsoft sends the browser back, by recording the state's id in Redis until it expires.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{platform::clock::Clock, platform::redis_conn};

/// Which leg of the flow a state belongs to; a state of one leg is refused by the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sent to the sign-in (authorize) endpoint.
    SignIn,
    /// Sent to admin consent, for the signed-in person's tenant only.
    Consent,
}

/// The person a validated id_token proved: who onboards, and for which tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// `tid`: the Entra tenant the person signed in to.
    pub tid: Uuid,
    /// `oid`: the person's object id in that tenant.
    pub oid: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `preferred_username`, usually the UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Person {
    /// How audit entries and pages name the person: the username, else the name, else the oid.
    pub fn label(&self) -> String {
        self.username
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.oid.to_string())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateClaims {
    /// The state's id: what single use records.
    pub jti: String,
    pub phase: Phase,
    /// The company name typed on the start page (the new tenant's display name).
    pub company: String,
    /// base64url(SHA-256(cookie value)).
    pub binding: String,
    /// The signed-in person (consent states only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    pub iat: i64,
    pub exp: i64,
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

/// A new random value for the browser's cookie.
pub fn new_cookie() -> String {
    random()
}

fn random() -> String {
    let mut buf = [0u8; 32];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn binding(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(cookie.as_bytes()))
}

/// Signs a new state of `phase` for the browser holding `cookie`.
pub fn issue(
    key: &SecretString,
    now: DateTime<Utc>,
    ttl: Duration,
    phase: Phase,
    company: &str,
    cookie: &str,
    person: Option<Person>,
) -> anyhow::Result<(String, StateClaims)> {
    let claims = StateClaims {
        jti: random(),
        phase,
        company: company.to_owned(),
        binding: binding(cookie),
        person,
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    let state = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.expose_secret().as_bytes())?,
    )?;
    Ok((state, claims))
}

/// Checks a state without using it up: signature, leg, expiry (by the clock) and the browser's
/// cookie. Each failure says which check failed.
pub fn verify(
    key: &SecretString,
    now: DateTime<Utc>,
    state: &str,
    cookie: Option<&str>,
    phase: Phase,
) -> Result<StateClaims, StateError> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked against the shared clock below, not the system clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let decoding = DecodingKey::from_secret(key.expose_secret().as_bytes())
        .map_err(|_| StateError::Invalid)?;
    let Ok(data) = jsonwebtoken::decode::<StateClaims>(state, &decoding, &validation) else {
        return Err(StateError::Invalid);
    };
    let claims = data.claims;
    if claims.phase != phase || (phase == Phase::Consent) != claims.person.is_some() {
        return Err(StateError::Invalid);
    }
    if claims.exp <= now.timestamp() {
        return Err(StateError::Expired);
    }
    let Some(cookie) = cookie else {
        return Err(StateError::WrongBrowser);
    };
    if !bool::from(binding(cookie).as_bytes().ct_eq(claims.binding.as_bytes())) {
        return Err(StateError::WrongBrowser);
    }
    Ok(claims)
}

/// Uses a verified state up: records its id until it expires. `Ok(false)`: it was used before.
pub async fn use_once(
    redis: &ConnectionManager,
    prefix: &str,
    clock: &Clock,
    claims: &StateClaims,
) -> anyhow::Result<bool> {
    let redis_key = format!("{prefix}:onboarding:used:{}", claims.jti);
    let ttl = (claims.exp - clock.now().timestamp()).max(1);
    let set: Option<String> = redis_conn::retry(|| {
        let mut conn = redis.clone();
        let redis_key = redis_key.clone();
        async move {
            redis::cmd("SET")
                .arg(redis_key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl)
                .query_async::<Option<String>>(&mut conn)
                .await
        }
    })
    .await?;
    Ok(set.is_some())
}

/// An HMAC of the state's id and the browser's cookie under the server's key, for `purpose`.
fn derive(key: &SecretString, purpose: &str, claims: &StateClaims, cookie: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    for part in [purpose, &claims.jti, cookie] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The PKCE code verifier of a sign-in (43 characters of base64url: RFC 7636's shortest).
pub fn pkce_verifier(key: &SecretString, claims: &StateClaims, cookie: &str) -> String {
    derive(key, "pkce-verifier", claims, cookie)
}

/// The OpenID Connect nonce of a sign-in.
pub fn nonce(key: &SecretString, claims: &StateClaims, cookie: &str) -> String {
    derive(key, "oidc-nonce", claims, cookie)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn key() -> SecretString {
        SecretString::from("k".repeat(32))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn person() -> Person {
        Person {
            tid: Uuid::new_v4(),
            oid: Uuid::new_v4(),
            name: Some("Ada".into()),
            username: Some("ada@contoso.example".into()),
        }
    }

    #[test]
    fn a_state_verifies_only_for_its_leg_its_browser_and_its_lifetime() {
        let cookie = new_cookie();
        let ttl = Duration::minutes(10);
        let (signed, _) =
            issue(&key(), now(), ttl, Phase::SignIn, "Contoso", &cookie, None).unwrap();
        let claims = verify(&key(), now(), &signed, Some(&cookie), Phase::SignIn).unwrap();
        assert_eq!(claims.company, "Contoso");
        assert_eq!(
            verify(&key(), now(), &signed, Some(&cookie), Phase::Consent).unwrap_err(),
            StateError::Invalid
        );
        assert_eq!(
            verify(&key(), now(), &signed, Some("other"), Phase::SignIn).unwrap_err(),
            StateError::WrongBrowser
        );
        assert_eq!(
            verify(&key(), now(), &signed, None, Phase::SignIn).unwrap_err(),
            StateError::WrongBrowser
        );
        assert_eq!(
            verify(&key(), now() + ttl, &signed, Some(&cookie), Phase::SignIn).unwrap_err(),
            StateError::Expired
        );
        let other_key = SecretString::from("o".repeat(32));
        assert_eq!(
            verify(&other_key, now(), &signed, Some(&cookie), Phase::SignIn).unwrap_err(),
            StateError::Invalid
        );
    }

    #[test]
    fn a_consent_state_carries_the_person_and_a_sign_in_state_cannot() {
        let cookie = new_cookie();
        let ttl = Duration::minutes(10);
        let person = person();
        let (signed, _) = issue(
            &key(),
            now(),
            ttl,
            Phase::Consent,
            "Contoso",
            &cookie,
            Some(person.clone()),
        )
        .unwrap();
        let claims = verify(&key(), now(), &signed, Some(&cookie), Phase::Consent).unwrap();
        assert_eq!(claims.person, Some(person));
        let (signed, _) = issue(&key(), now(), ttl, Phase::Consent, "C", &cookie, None).unwrap();
        assert_eq!(
            verify(&key(), now(), &signed, Some(&cookie), Phase::Consent).unwrap_err(),
            StateError::Invalid,
            "a consent state without a signed-in person is not one we issue"
        );
    }

    #[test]
    fn the_verifier_and_nonce_depend_on_the_state_the_cookie_and_the_key() {
        let cookie = new_cookie();
        let ttl = Duration::minutes(10);
        let (_, a) = issue(&key(), now(), ttl, Phase::SignIn, "C", &cookie, None).unwrap();
        let (_, b) = issue(&key(), now(), ttl, Phase::SignIn, "C", &cookie, None).unwrap();
        let verifier = pkce_verifier(&key(), &a, &cookie);
        assert_eq!(verifier.len(), 43, "RFC 7636: 43 to 128 characters");
        assert_eq!(verifier, pkce_verifier(&key(), &a, &cookie));
        assert_ne!(verifier, pkce_verifier(&key(), &b, &cookie));
        assert_ne!(verifier, pkce_verifier(&key(), &a, "another cookie"));
        assert_ne!(
            verifier,
            pkce_verifier(&SecretString::from("o".repeat(32)), &a, &cookie)
        );
        assert_ne!(verifier, nonce(&key(), &a, &cookie));
    }
}
