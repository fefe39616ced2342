//! Rich notifications (§5): the resource travels encrypted with the subscriber's certificate
//! (`encryptedContent`, §5.2 and the inverse of §5.3), and every POST that carries one also
//! carries `validationTokens`: one JWT per (app, tenant) pair, issued to the subscriber's app by
//! "Microsoft Graph Change Tracking" and signed with the emulated Entra's key (§5.4).

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, Header};
use rsa::{BoxedUint, Oaep, PublicKey};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    config::TokenVersion,
    crypto::{CertInfo, SigningKey},
};

/// The first-party app that publishes change notifications (`appid`/`azp` of its tokens).
pub const CHANGE_TRACKING_APP_ID: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// The lifetime of a validation token: `exp − iat` of the docs example (§5.4).
const TOKEN_LIFETIME_SECS: i64 = 29_100;

#[derive(Debug, thiserror::Error)]
pub enum RichError {
    #[error("the subscription's certificate: {0}")]
    Certificate(#[from] crate::crypto::CertError),
    #[error("RSA: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("no randomness: {0}")]
    Random(getrandom::Error),
}

/// `encryptedContent` for `plaintext` (§5.3, inverted): a fresh 32-byte key `K` per item,
/// `data` = AES-256-CBC(K, iv = K[0..16], PKCS#7), `dataSignature` = HMAC-SHA256(K, data),
/// `dataKey` = RSA-OAEP-SHA1(certificate, K), the thumbprint the certificate's SHA-1 in upper hex.
pub fn encrypted_content(
    certificate: &str,
    certificate_id: Option<&str>,
    plaintext: &[u8],
) -> Result<Value, RichError> {
    let cert = CertInfo::from_text(certificate)?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(RichError::Random)?;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let data = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(plaintext);
    // HMAC takes keys of any length: this cannot fail.
    let signature = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .map(|mac| mac.chain_update(&data).finalize().into_bytes().to_vec())
        .unwrap_or_default();
    let public = PublicKey::new(
        BoxedUint::from_be_slice_vartime(&cert.modulus),
        BoxedUint::from_be_slice_vartime(&cert.exponent),
    )?;
    let data_key = public.encrypt(&mut getrandom::SysRng, Oaep::<Sha1>::new(), &key)?;
    let thumbprint: String = Sha1::digest(&cert.der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(json!({
        "data": STANDARD.encode(&data),
        "dataSignature": STANDARD.encode(&signature),
        "dataKey": STANDARD.encode(&data_key),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": thumbprint,
    }))
}

/// A validation token for `app` in `tenant` (§5.4), signed by the emulated Entra.
pub fn validation_token(
    key: &SigningKey,
    version: TokenVersion,
    authority: &str,
    app: Uuid,
    tenant: Uuid,
    now: DateTime<Utc>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let iat = now.timestamp();
    let mut claims = json!({
        "aud": app.to_string(),
        "iat": iat,
        "nbf": iat,
        "exp": iat + TOKEN_LIFETIME_SECS,
        "aio": Uuid::new_v4().simple().to_string(),
        "tid": tenant.to_string(),
        "uti": Uuid::new_v4().simple().to_string(),
    });
    let extra = match version {
        TokenVersion::V1 => {
            let issuer = format!("https://sts.windows.net/{tenant}/");
            json!({"iss": issuer, "idp": issuer, "appid": CHANGE_TRACKING_APP_ID,
                   "appidacr": "2", "ver": "1.0"})
        }
        TokenVersion::V2 => json!({
            "iss": format!("{authority}/{tenant}/v2.0"),
            "azp": CHANGE_TRACKING_APP_ID, "azpacr": "2", "ver": "2.0"}),
    };
    if let (Some(map), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        map.extend(extra);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid().to_owned());
    header.x5t = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, &key.encoding)
}
