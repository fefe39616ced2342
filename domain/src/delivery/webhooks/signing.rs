//! Standard Webhooks signing (https://www.standardwebhooks.com/, webhooks.md).
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, with `body` exactly the
//! bytes sent. `v1` is HMAC-SHA256 keyed with the secret's decoded bytes, base64-encoded;
//! `v1a` is Ed25519 over the same content. Every live secret signs, and the signatures are
//! separated by single spaces: `v1,<sig> v1,<sig> v1a,<sig>`.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::Signer;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The bytes every signature covers.
pub fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(msg_id.len() + body.len() + 24);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// `v1,<base64 HMAC-SHA256>` with one secret's key bytes.
pub fn sign_v1(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&signed_content(msg_id, timestamp, body));
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// `v1a,<base64 Ed25519 signature>`.
pub fn sign_v1a(
    key: &ed25519_dalek::SigningKey,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let signature = key.sign(&signed_content(msg_id, timestamp, body));
    format!("v1a,{}", STANDARD.encode(signature.to_bytes()))
}

/// The `webhook-signature` value: a `v1` signature per live secret, then `v1a` if any.
pub fn signature_header(
    hmac_keys: &[Vec<u8>],
    ed25519: Option<&ed25519_dalek::SigningKey>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut parts: Vec<String> = hmac_keys
        .iter()
        .map(|k| sign_v1(k, msg_id, timestamp, body))
        .collect();
    if let Some(key) = ed25519 {
        parts.push(sign_v1a(key, msg_id, timestamp, body));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::webhooks::secrets::HmacSecret;

    #[test]
    fn the_public_test_vector_is_reproduced() {
        // webhooks.md: the specification's reference vector.
        let secret = HmacSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign_v1(
            secret.key(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_live_secret_signs_separated_by_single_spaces() {
        let a = vec![1u8; 32];
        let b = vec![2u8; 32];
        let ed = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let header = signature_header(&[a.clone(), b], Some(&ed), "msg_1", 10, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], sign_v1(&a, "msg_1", 10, b"{}"));
        assert!(parts[2].starts_with("v1a,"));
        let signature = STANDARD.decode(&parts[2][4..]).unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
        assert!(
            ed.verifying_key()
                .verify_strict(&signed_content("msg_1", 10, b"{}"), &signature)
                .is_ok()
        );
    }
}
