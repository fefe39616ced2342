//! Fixtures shared by the tests of each concern: one RSA key pair with its certificate, and
//! validation tokens signed with it.

use std::sync::LazyLock;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

mod decrypt;
mod jwks;
mod tokens;

pub(crate) const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
pub(crate) const TENANT: &str = "2f4a9838-26b7-47ee-be60-ccc1fdec5953";
pub(crate) const OTHER_TENANT: &str = "7a1b0d2c-3e4f-4a5b-8c6d-9e0f1a2b3c4d";
pub(crate) const AUTHORITY: &str = "http://127.0.0.1:8090";
pub(crate) const KID: &str = "emulator-key";

/// One RSA key pair with a certificate (as `certificates::generate` makes them), which both
/// receives rich payloads and signs tokens, and a second key that is not Entra's.
pub(crate) struct Keys {
    pub(crate) certificate_der: Vec<u8>,
    pub(crate) pkcs8_der: Vec<u8>,
    pub(crate) signing: EncodingKey,
    pub(crate) n: String,
    pub(crate) e: String,
    pub(crate) impostor: EncodingKey,
}

fn pem_of(key: &rsa::RsaPrivateKey) -> EncodingKey {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

pub(crate) static KEYS: LazyLock<Keys> = LazyLock::new(|| {
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

// -- validationTokens ----------------------------------------------------------------------

pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap()
}

fn expected() -> Expected {
    Expected {
        client_ids: vec![CLIENT_ID.into()],
        authorities: vec![AUTHORITY.into()],
    }
}

pub(crate) fn jwk(kid: &str, issuer: Option<&str>) -> Value {
    let mut key = json!({"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                         "n": KEYS.n, "e": KEYS.e, "x5c": ["MIIB"]});
    if let Some(issuer) = issuer {
        key["issuer"] = json!(issuer);
    }
    key
}

/// The emulator's v2 key set: the key with its `{tenantid}` issuer template.
pub(crate) fn jwks() -> Jwks {
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

pub(crate) fn sign_with(claims: &Value, kid: &str, key: &EncodingKey) -> String {
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
