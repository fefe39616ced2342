//! An item's `encryptedContent` (§5.2, §5.3).

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use rsa010::{Oaep, PrivateKey, pkcs8::DecodePrivateKey};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::RichError;
use crate::{
    delivery::webhooks::crypt::SecretBox,
    graph::microsoft::certificates,
    platform::error::{DomainError, DomainResult},
};

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
#[derive(derive_more::Debug)]
pub struct DecryptionKey {
    #[debug(skip)]
    key: PrivateKey,
    thumbprint: String,
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
        let certificate = certificates::with_private_key(db, secret_box, label).await?;
        let Some((model, pkcs8)) = certificate else {
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
        let raw = self.decrypt_raw(content)?;
        serde_json::from_str(raw.get()).map_err(|e| RichError::Json(format!("{:?}", e.classify())))
    }

    /// [`Self::decrypt`], the JSON kept as the bytes Graph encrypted (checked to be JSON).
    pub fn decrypt_raw(
        &self,
        content: &EncryptedContent,
    ) -> Result<Box<serde_json::value::RawValue>, RichError> {
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
        let text = String::from_utf8(plaintext)
            .map_err(|_| RichError::Json("the plaintext is not UTF-8".to_owned()))?;
        serde_json::value::RawValue::from_string(text).map_err(|e| {
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
