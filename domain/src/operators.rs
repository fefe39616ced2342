//! Operator tokens: HS256 JWTs signed with `admin.signing_key`, minted by
//! `graphhook admin token --name … --ttl …`, carrying the operator's name (`sub`). Every admin
//! action is audited under that name. Expiry is checked against the [`Clock`], not the system
//! time, so tests can move it.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::Statement;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::DomainResult;

const ISSUER: &str = "graphhook";
const AUDIENCE: &str = "graphhook-admin";
/// The longest a token may live.
pub const MAX_TTL: Duration = Duration::days(90);

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
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is the Clock's business (below).
    validation.validate_exp = false;
    let key = DecodingKey::from_secret(key.expose_secret().as_bytes())
        .map_err(|_| TokenError::Invalid)?;
    let data = jsonwebtoken::decode::<OperatorClaims>(token, &key, &validation)
        .map_err(|_| TokenError::Invalid)?;
    if data.claims.exp <= now.timestamp() {
        return Err(TokenError::Expired);
    }
    if !valid_name(&data.claims.sub) {
        return Err(TokenError::Invalid);
    }
    Ok(data.claims)
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

/// Parses a lifetime such as `30m`, `8h`, `7d` or `3600s`.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok()?;
    match unit {
        "s" => Some(Duration::seconds(n)),
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
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
        assert_eq!(parse_ttl("8h"), Some(Duration::hours(8)));
        assert_eq!(parse_ttl("30m"), Some(Duration::minutes(30)));
        assert_eq!(parse_ttl("7d"), Some(Duration::days(7)));
        assert_eq!(parse_ttl("h"), None);
        assert_eq!(parse_ttl("12x"), None);
    }
}
