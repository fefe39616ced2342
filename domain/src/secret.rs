//! Secret values and how they are compared.
//!
//! Secrets travel as [`SecretString`] so that `Debug` and logs never show them; comparisons of a
//! presented secret with a stored one are constant-time.

pub use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Compares two secrets in constant time with respect to their contents and lengths: both are
/// hashed first, so the comparison always looks at 32 bytes.
pub fn constant_time_eq(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// A URL that may carry a password, shown with the password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_compare_equal_and_others_do_not() {
        assert!(constant_time_eq("s3cret", "s3cret"));
        assert!(!constant_time_eq("s3cret", "s3cres"));
        assert!(!constant_time_eq("s3cret", "s3cret-longer"));
        assert!(!constant_time_eq("", "x"));
    }

    #[test]
    fn redacted_urls_hide_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.internal:5432/graphhook"),
            "postgres://app:***@db.internal:5432/graphhook"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
