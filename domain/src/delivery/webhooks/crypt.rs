//! Encryption at rest of endpoint secrets: ChaCha20-Poly1305 with a configured 32-byte key.
//! A stored value is `version (1 byte) || nonce (12 bytes) || ciphertext+tag`; the endpoint id
//! is bound as associated data, so a ciphertext cannot be moved to another endpoint.

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const VERSION: u8 = 1;

#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("the encryption key must be 32 bytes, base64-encoded")]
    Key,
    #[error("a stored secret could not be decrypted (wrong key or damaged data)")]
    Decrypt,
}

impl SecretBox {
    /// From the configured key: standard base64 of 32 bytes.
    pub fn new(key: &SecretString) -> Result<Self, CryptError> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| CryptError::Key)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptError::Key)?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&Key::from(bytes)),
        })
    }

    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap_or_else(|_| unreachable!("encryption with a valid key and nonce cannot fail"));
        let mut out = Vec::with_capacity(1 + 12 + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, stored: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptError> {
        if stored.len() < 13 || stored[0] != VERSION {
            return Err(CryptError::Decrypt);
        }
        let nonce: [u8; 12] = stored[1..13].try_into().map_err(|_| CryptError::Decrypt)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &stored[13..],
                    aad: context,
                },
            )
            .map_err(|_| CryptError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let key = SecretString::from(STANDARD.encode([9u8; 32]));
        let other = SecretString::from(STANDARD.encode([8u8; 32]));
        let sealed = SecretBox::new(&key)
            .unwrap()
            .seal(b"whsec_x", b"endpoint-1");
        assert!(!sealed.windows(7).any(|w| w == b"whsec_x"));
        assert_eq!(
            SecretBox::new(&key)
                .unwrap()
                .open(&sealed, b"endpoint-1")
                .unwrap(),
            b"whsec_x"
        );
        assert!(
            SecretBox::new(&key)
                .unwrap()
                .open(&sealed, b"endpoint-2")
                .is_err()
        );
        assert!(
            SecretBox::new(&other)
                .unwrap()
                .open(&sealed, b"endpoint-1")
                .is_err()
        );
        assert!(SecretBox::new(&SecretString::from("short")).is_err());
    }
}
