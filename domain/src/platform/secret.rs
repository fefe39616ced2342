//! Secret values and how they are compared.
//!
//! Secrets travel as [`SecretString`] so that `Debug` and logs never show them; comparisons of a
//! presented secret with a stored one are constant-time.

/// Shared with the emulator, which checks client secrets and PKCE challenges the same way.
pub use graphhook_platform::secret::constant_time_eq;
pub use secrecy::{ExposeSecret, SecretString};

/// A URL that may carry a password, shown with the password replaced by `***`: the one in
/// its user information, and a `password` query parameter (PostgreSQL URLs may carry it there).
/// A URL that does not parse is not shown at all: it could be anything.
pub fn redact_url(url: &str) -> String {
    const MASK: &str = "***";
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparseable url>".to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some(MASK)).is_err() {
        return "<unparseable url>".to_owned();
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let value = if k.eq_ignore_ascii_case("password") {
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn redacted_urls_hide_redis_passwords_and_password_query_parameters() {
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("rediss://default:hunter2@cache:6380"),
            "rediss://default:***@cache:6380"
        );
        let masked =
            redact_url("postgres://app@db:5432/graphhook?sslmode=require&password=hunter2");
        assert_eq!(
            masked,
            "postgres://app@db:5432/graphhook?sslmode=require&password=***"
        );
        let masked = redact_url("postgres://db/graphhook?PASSWORD=hunter2&user=app");
        assert!(
            !masked.contains("hunter2") && masked.contains("user=app"),
            "{masked}"
        );
        assert_eq!(redact_url("not a url hunter2"), "<unparseable url>");
    }
}
