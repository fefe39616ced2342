//! Endpoint secrets as tenants see them: `whsec_` + base64 of 24–64 random bytes (we generate
//! 32); Ed25519 keys as `whsk_` (secret) and `whpk_` (public) + base64.

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;

pub const HMAC_PREFIX: &str = "whsec_";
pub const ED25519_SECRET_PREFIX: &str = "whsk_";
pub const ED25519_PUBLIC_PREFIX: &str = "whpk_";

/// An HMAC signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacSecret(Vec<u8>);

impl std::fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSecret(***)")
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a secret must start with whsec_")]
    Prefix,
    #[error("a secret must be whsec_ followed by standard base64")]
    Base64,
    #[error("a secret must decode to 24 to 64 bytes")]
    Length,
}

impl HmacSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A tenant's own secret, `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(HMAC_PREFIX).ok_or(SecretError::Prefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The form shown to the tenant.
    pub fn expose(&self) -> String {
        format!("{HMAC_PREFIX}{}", STANDARD.encode(&self.0))
    }
}

/// A new Ed25519 signing key.
pub fn generate_ed25519() -> ed25519_dalek::SigningKey {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

pub fn ed25519_public(key: &ed25519_dalek::SigningKey) -> String {
    format!(
        "{ED25519_PUBLIC_PREFIX}{}",
        STANDARD.encode(key.verifying_key().to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_bad_ones_say_why() {
        let secret = HmacSecret::generate();
        assert_eq!(secret.key().len(), 32);
        assert_eq!(HmacSecret::parse(&secret.expose()), Ok(secret.clone()));
        assert_eq!(
            HmacSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(HmacSecret::parse("whsec_!!!"), Err(SecretError::Base64));
        assert_eq!(
            HmacSecret::parse("whsec_c2hvcnQ="),
            Err(SecretError::Length)
        );
        assert!(!format!("{secret:?}").contains(&secret.expose()[6..]));
    }
}
