//! Keys and certificates: the emulated Entra's token-signing key (with its self-signed
//! certificate, as Entra publishes in its JWKS), and the certificates apps register for client
//! assertions or send for rich notifications.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use x509_cert::der::Decode;

const SIGNING_KEY_PEM: &str = include_str!("keys/entra_signing_key.pem");
const SIGNING_CERT_PEM: &str = include_str!("keys/entra_signing_cert.pem");
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("not PEM or base64: {0}")]
    Encoding(String),
    #[error("not an X.509 certificate: {0}")]
    Parse(String),
    #[error("the certificate's key is not RSA")]
    NotRsa,
}

/// Decodes the first `-----BEGIN …-----` block of a PEM text, or plain base64 DER.
pub fn pem_or_base64_to_der(text: &str) -> Result<Vec<u8>, CertError> {
    let trimmed = text.trim();
    let body: String = if trimmed.starts_with("-----BEGIN") {
        trimmed
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect()
    } else {
        trimmed.chars().filter(|c| !c.is_whitespace()).collect()
    };
    STANDARD
        .decode(body)
        .map_err(|e| CertError::Encoding(e.to_string()))
}

/// What the emulator needs to know about an RSA certificate.
#[derive(Clone)]
pub struct CertInfo {
    pub der: Vec<u8>,
    /// base64url(SHA-1(DER)): Entra's `x5t` and `kid`.
    pub thumbprint: String,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl std::fmt::Debug for CertInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertInfo")
            .field("thumbprint", &self.thumbprint)
            .field("bits", &self.key_bits())
            .finish()
    }
}

impl CertInfo {
    pub fn from_text(text: &str) -> Result<Self, CertError> {
        Self::from_der(pem_or_base64_to_der(text)?)
    }

    pub fn from_der(der: Vec<u8>) -> Result<Self, CertError> {
        let cert =
            x509_cert::Certificate::from_der(&der).map_err(|e| CertError::Parse(e.to_string()))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid.to_string() != RSA_ENCRYPTION_OID {
            return Err(CertError::NotRsa);
        }
        let pkcs1 = spki.subject_public_key.raw_bytes();
        let (modulus, exponent) = rsa_public_components(pkcs1).ok_or(CertError::NotRsa)?;
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha1::digest(&der));
        Ok(Self {
            der,
            thumbprint,
            modulus,
            exponent,
        })
    }

    pub fn key_bits(&self) -> usize {
        let leading = self
            .modulus
            .first()
            .map(|b| b.leading_zeros() as usize)
            .unwrap_or(8);
        self.modulus.len() * 8 - leading
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_rsa_raw_components(&self.modulus, &self.exponent)
    }
}

/// Reads `SEQUENCE { INTEGER n, INTEGER e }` (PKCS#1 RSAPublicKey).
fn rsa_public_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    fn header(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    let (sequence, _) = header(der, 0x30)?;
    let (n, rest) = header(sequence, 0x02)?;
    let (e, _) = header(rest, 0x02)?;
    let strip = |v: &[u8]| {
        v.iter()
            .skip_while(|b| **b == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    Some((strip(n), strip(e)))
}

/// The emulated Entra's token-signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub encoding: EncodingKey,
    pub cert: CertInfo,
}

impl SigningKey {
    /// The built-in key. It signs tokens for a fake identity provider and protects nothing, so
    /// it ships with the code.
    pub fn builtin() -> anyhow::Result<Self> {
        let encoding = EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes())?;
        let cert = CertInfo::from_text(SIGNING_CERT_PEM)?;
        Ok(Self { encoding, cert })
    }

    pub fn kid(&self) -> &str {
        &self.cert.thumbprint
    }

    /// The key as Entra publishes it in `discovery/keys`; `issuer` only on v2 key sets.
    pub fn jwk(&self, issuer: Option<&str>) -> Value {
        let mut key = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid(),
            "x5t": self.kid(),
            "n": URL_SAFE_NO_PAD.encode(&self.cert.modulus),
            "e": URL_SAFE_NO_PAD.encode(&self.cert.exponent),
            "x5c": [STANDARD.encode(&self.cert.der)],
        });
        if let (Some(issuer), Some(map)) = (issuer, key.as_object_mut()) {
            map.insert("issuer".into(), Value::String(issuer.to_owned()));
        }
        key
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_builtin_key_publishes_a_sha1_thumbprint_as_kid_and_x5t() {
        let key = SigningKey::builtin().unwrap();
        assert_eq!(key.kid().len(), 27, "base64url of 20 bytes");
        assert_eq!(key.cert.key_bits(), 2048);
        let jwk = key.jwk(None);
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], jwk["x5t"]);
        assert!(jwk.get("alg").is_none());
        assert!(jwk.get("issuer").is_none());
    }
}
