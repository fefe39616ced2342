//! Operator tokens: HS256 JWTs signed with `admin.signing_key`, minted by
//! `graphhook admin token --name … --ttl …`, carrying the operator's name (`sub`). Every admin
//! action is audited under that name. Expiry is checked against the [`Clock`](crate::Clock), not the system
//! time, so tests can move it.
//!
//! No token lives longer than [`MAX_TTL`], whoever signed it: one whose `exp − iat` is longer,
//! that has no `iat`, or that claims to be issued in the future is refused, so a token minted
//! with the key by other means cannot outlive the rule either.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::Statement;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::platform::error::DomainResult;

const ISSUER: &str = "graphhook";
const AUDIENCE: &str = "graphhook-admin";
/// The longest a token may live.
pub const MAX_TTL: Duration = Duration::days(90);
/// How far ahead of our clock a token's `iat` may be (the minting host's clock may run ahead).
const MAX_CLOCK_SKEW_SECS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct OperatorClaims {
    /// The operator's name.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the operator token has expired")]
    Expired,
    #[error("the operator token was revoked")]
    Revoked,
    #[error("the operator token is not valid")]
    Invalid,
    #[error("{0}")]
    BadRequest(String),
}

impl TokenError {
    /// The stable name of the refusal, for clients to act on.
    pub fn rule(&self) -> &'static str {
        match self {
            TokenError::Expired => "expired",
            TokenError::Revoked => "revoked",
            TokenError::Invalid | TokenError::BadRequest(_) => "invalid",
        }
    }
}

/// Whether a token id (`jti`) is acceptable: 1 to 100 characters, none of them a control
/// character (the revocation table holds no more).
pub fn valid_token_id(jti: &str) -> bool {
    !jti.is_empty() && jti.chars().count() <= 100 && !jti.chars().any(char::is_control)
}

/// Whether a name is acceptable: 1 to 64 letters, digits, spaces and `.`, `_`, `-`, `@`.
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '@'))
}

/// Mints a token for `name`, valid for `ttl` from `now`.
pub fn mint(
    key: &SecretString,
    name: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    if !valid_name(name) {
        return Err(TokenError::BadRequest(
            "the name must be 1 to 64 letters, digits, spaces or . _ - @".into(),
        ));
    }
    if ttl <= Duration::zero() || ttl > MAX_TTL {
        return Err(TokenError::BadRequest(
            "the lifetime must be more than 0 and at most 90 days".into(),
        ));
    }
    let claims = OperatorClaims {
        sub: name.trim().to_owned(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let key = EncodingKey::from_secret(key.expose_secret().as_bytes())
        .map_err(|_| TokenError::Invalid)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|_| TokenError::Invalid)
}

/// Verifies a token's signature, issuer, audience and expiry; returns its claims.
pub fn verify(
    key: &SecretString,
    token: &str,
    now: DateTime<Utc>,
) -> Result<OperatorClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // Expiry is the Clock's business (below).
    validation.validate_exp = false;
    let key = DecodingKey::from_secret(key.expose_secret().as_bytes())
        .map_err(|_| TokenError::Invalid)?;
    let data = jsonwebtoken::decode::<OperatorClaims>(token, &key, &validation)
        .map_err(|_| TokenError::Invalid)?;
    let claims = data.claims;
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if lifetime > MAX_TTL.num_seconds()
        || claims.iat > now.timestamp().saturating_add(MAX_CLOCK_SKEW_SECS)
    {
        return Err(TokenError::Invalid);
    }
    if claims.exp <= now.timestamp() {
        return Err(TokenError::Expired);
    }
    if !valid_name(&claims.sub) || !valid_token_id(&claims.jti) {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// Whether a token (by its `jti`) was revoked.
pub async fn is_revoked<C: sea_orm::ConnectionTrait>(db: &C, jti: &str) -> DomainResult<bool> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT 1 AS revoked FROM revoked_operator_tokens WHERE jti = $1",
            [jti.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Revokes a token before it expires. Returns whether it was not revoked already.
pub async fn revoke<C: sea_orm::ConnectionTrait>(
    db: &C,
    claims: &OperatorClaims,
    revoked_by: &str,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
    let inserted = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "INSERT INTO revoked_operator_tokens (jti, operator, revoked_by, revoked_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING",
            [
                claims.jti.clone().into(),
                claims.sub.clone().into(),
                revoked_by.into(),
                now.into(),
                expires_at.into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// Forgets revocations of tokens that have expired anyway.
pub async fn prune_revoked<C: sea_orm::ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> DomainResult<u64> {
    Ok(db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "DELETE FROM revoked_operator_tokens WHERE expires_at < $1",
            [now.into()],
        ))
        .await?
        .rows_affected())
}

/// Parses a lifetime such as `30m`, `8h`, `7d` or `3600s`, more than 0 and at most
/// [`MAX_TTL`]; the error says what is wrong.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let malformed = || format!("'{text}' is not a number and a unit: s, m, h or d (e.g. 8h)");
    let split = text.char_indices().last().map_or(0, |(at, _)| at);
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| malformed())?;
    let ttl = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => return Err(malformed()),
    };
    match ttl {
        Some(ttl) if ttl > Duration::zero() && ttl <= MAX_TTL => Ok(ttl),
        _ => Err(format!(
            "--ttl {text} is out of range: a token lives more than 0 and at most 90 days (90d)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> SecretString {
        SecretString::from(k.to_owned())
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let k = key("an-operator-signing-key-0123456789abcdef");
        let now = Utc::now();
        let token = mint(&k, "alice", Duration::hours(1), now).unwrap();
        assert_eq!(verify(&k, &token, now).unwrap().sub, "alice");
        assert_eq!(
            verify(&k, &token, now + Duration::hours(1)).unwrap_err(),
            TokenError::Expired
        );
        let other = key("another-operator-signing-key-0123456789");
        assert_eq!(
            verify(&other, &token, now).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            verify(&k, "not.a.jwt", now).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn names_and_lifetimes_are_checked() {
        let k = key("an-operator-signing-key-0123456789abcdef");
        let now = Utc::now();
        assert!(mint(&k, "", Duration::hours(1), now).is_err());
        assert!(mint(&k, "<script>", Duration::hours(1), now).is_err());
        assert!(mint(&k, "bob", Duration::days(91), now).is_err());
        assert_eq!(parse_ttl("8h"), Ok(Duration::hours(8)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_ttl("90d"), Ok(MAX_TTL));
        for malformed in ["h", "12x", "", "8é", "d8"] {
            let error = parse_ttl(malformed).unwrap_err();
            assert!(
                error.contains("a number and a unit"),
                "{malformed}: {error}"
            );
        }
    }

    #[test]
    fn a_ttl_beyond_90_days_is_refused_with_the_limit_and_never_panics() {
        for ttl in [
            "91d",
            "2161h",
            "7776001s",
            "3650d",
            "0s",
            "-1d",
            "9223372036854775807d",
            "106751991167301d",
            "9223372036854775807s",
        ] {
            let error = parse_ttl(ttl).unwrap_err();
            assert!(error.contains("at most 90 days"), "{ttl}: {error}");
        }
    }

    /// A token signed with the key but with claims `mint` would never write.
    fn forged(k: &SecretString, iat: Option<i64>, exp: i64) -> String {
        let mut claims = serde_json::json!({
            "sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": exp, "jti": "j-1",
        });
        if let Some(iat) = iat {
            claims["iat"] = iat.into();
        }
        let key = EncodingKey::from_secret(k.expose_secret().as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    #[test]
    fn a_token_living_longer_than_90_days_or_without_iat_is_refused() {
        let k = key("an-operator-signing-key-0123456789abcdef");
        let now = Utc::now();
        let at = now.timestamp();
        let day = 24 * 3600;
        assert!(verify(&k, &forged(&k, Some(at), at + 90 * day), now).is_ok());
        for (what, token) in [
            ("ten years", forged(&k, Some(at), at + 3650 * day)),
            ("a second too long", forged(&k, Some(at), at + 90 * day + 1)),
            ("iat long ago", forged(&k, Some(at - 200 * day), at + day)),
            ("no iat", forged(&k, None, at + 3600)),
            ("iat ahead", forged(&k, Some(at + 3600), at + 7200)),
        ] {
            assert_eq!(
                verify(&k, &token, now).unwrap_err(),
                TokenError::Invalid,
                "{what}"
            );
        }
    }
}
