//! Tenant API keys: `ghk_<id>_<secret>`, random, shown once, stored as a public prefix
//! (`ghk_<id>`) and a SHA-256 hash of the whole key; a presented key is compared in constant
//! time.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    platform::clock::Clock,
    platform::entities::{api_key, tenant},
    platform::error::{DomainError, DomainResult},
    platform::ids::{ApiKeyId, TenantId},
    platform::quota::{self, Quota},
};

const PREFIX: &str = "ghk_";
const ID_CHARS: usize = 12;
/// `last_used_at` is written at most this often per key, so reads do not turn into writes.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// A key as created: the row and the whole key, which is shown once and never again.
pub struct NewKey {
    pub model: api_key::Model,
    pub key: SecretString,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Creates a key named `name` for the tenant, unless it already holds `limit` keys that are
/// neither revoked nor expired.
pub async fn create(
    db: &DatabaseConnection,
    clock: &Clock,
    tenant: TenantId,
    name: &str,
    limit: u32,
) -> DomainResult<NewKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid_field(
            "name",
            "name must be 1 to 100 characters on one line",
        ));
    }
    // The id part avoids `_` and `-` so the key splits unambiguously.
    let id_part: String = random_token(24)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(ID_CHARS)
        .collect();
    let prefix = format!("{PREFIX}{id_part}");
    let key = format!("{prefix}_{}", random_token(32));
    let now = clock.now();
    let txn = db.begin().await?;
    let held = api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.uuid()))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(api_key::Column::ExpiresAt.is_null())
                .add(api_key::Column::ExpiresAt.gt(now)),
        );
    quota::reserve(&txn, tenant, Quota::ApiKeys, limit, held).await?;
    let model = api_key::ActiveModel {
        id: Set(ApiKeyId::new().uuid()),
        tenant_id: Set(tenant.uuid()),
        name: Set(name.to_owned()),
        prefix: Set(prefix),
        secret_hash: Set(hash(&key)),
        created_at: Set(now),
        last_used_at: Set(None),
        expires_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(NewKey {
        model,
        key: SecretString::from(key),
    })
}

/// The tenant's keys, newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> DomainResult<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.uuid()))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?)
}

/// Revokes one of the tenant's keys; `NotFound` for a key of another tenant.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    tenant: TenantId,
    id: ApiKeyId,
) -> DomainResult<api_key::Model> {
    let key = api_key::Entity::find_by_id(id.uuid())
        .filter(api_key::Column::TenantId.eq(tenant.uuid()))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("api key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active = key.into_active_model();
    active.revoked_at = Set(Some(clock.now()));
    Ok(active.update(db).await?)
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the API key is malformed")]
    Malformed,
    #[error("the API key is not valid")]
    Unknown,
    #[error("the API key was revoked")]
    Revoked,
    #[error("the API key expired")]
    Expired,
}

impl KeyError {
    /// The stable name of the refusal, for clients to act on.
    pub fn rule(&self) -> &'static str {
        match self {
            KeyError::Malformed => "malformed",
            KeyError::Unknown => "unknown",
            KeyError::Revoked => "revoked",
            KeyError::Expired => "expired",
        }
    }
}

/// Finds the key and its tenant for a presented key.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    presented: &str,
) -> DomainResult<Result<(api_key::Model, tenant::Model), KeyError>> {
    let Some(rest) = presented.strip_prefix(PREFIX) else {
        return Ok(Err(KeyError::Malformed));
    };
    let Some((id_part, secret)) = rest.split_once('_') else {
        return Ok(Err(KeyError::Malformed));
    };
    // The id part is looked up, so it must be what `create` writes: ASCII letters and digits.
    if id_part.len() != ID_CHARS
        || !id_part.bytes().all(|b| b.is_ascii_alphanumeric())
        || secret.is_empty()
        || presented.len() > 200
    {
        return Ok(Err(KeyError::Malformed));
    }
    let prefix = format!("{PREFIX}{id_part}");
    let found = api_key::Entity::find()
        .filter(api_key::Column::Prefix.eq(prefix))
        .find_also_related(tenant::Entity)
        .one(db)
        .await?;
    let Some((key, Some(tenant))) = found else {
        return Ok(Err(KeyError::Unknown));
    };
    if !bool::from(hash(presented).ct_eq(&key.secret_hash)) {
        return Ok(Err(KeyError::Unknown));
    }
    let now = clock.now();
    if key.revoked_at.is_some() {
        return Ok(Err(KeyError::Revoked));
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(KeyError::Expired));
    }
    let stale = key
        .last_used_at
        .is_none_or(|at| now - at >= Duration::seconds(LAST_USED_GRANULARITY_SECS));
    let key = if stale {
        let mut active = key.clone().into_active_model();
        active.last_used_at = Set(Some(now));
        active.update(db).await?
    } else {
        key
    };
    Ok(Ok((key, tenant)))
}

/// A portal session: a short-lived token the portal gets for an API key (the key itself stays
/// out of the browser's storage). It is an HS256 JWT naming the key; every request checks
/// that the key is still valid, so revoking the key ends its sessions.
pub mod sessions {
    use chrono::{DateTime, Duration, Utc};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    use sea_orm::{ConnectionTrait, EntityTrait};
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Serialize};

    use super::KeyError;
    use crate::{
        platform::clock::Clock,
        platform::entities::{api_key, tenant},
        platform::error::DomainResult,
    };

    const AUDIENCE: &str = "graphhook-portal";
    /// How long a portal session lasts.
    pub const LIFETIME: Duration = Duration::minutes(30);

    #[derive(Debug, Serialize, Deserialize)]
    struct Claims {
        /// The API key's id.
        sub: uuid::Uuid,
        aud: String,
        exp: i64,
        iat: i64,
    }

    /// The portal's key, derived from the operator signing key so that neither token can pass
    /// for the other.
    fn key(signing_key: &SecretString) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        Sha256::new()
            .chain_update(b"graphhook portal session\0")
            .chain_update(signing_key.expose_secret().as_bytes())
            .finalize()
            .to_vec()
    }

    /// A session token for an authenticated key, and when it expires.
    pub fn mint(
        signing_key: &SecretString,
        api_key: &api_key::Model,
        now: DateTime<Utc>,
    ) -> Option<(String, DateTime<Utc>)> {
        let expires_at = now + LIFETIME;
        let claims = Claims {
            sub: api_key.id,
            aud: AUDIENCE.into(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
        };
        let key = EncodingKey::from_secret(&key(signing_key)).ok()?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).ok()?;
        Some((token, expires_at))
    }

    /// The key and tenant of a valid session token.
    pub async fn authenticate<C: ConnectionTrait>(
        db: &C,
        clock: &Clock,
        signing_key: &SecretString,
        token: &str,
    ) -> DomainResult<Result<(api_key::Model, tenant::Model), KeyError>> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_exp = false;
        let Ok(decoding) = DecodingKey::from_secret(&key(signing_key)) else {
            return Ok(Err(KeyError::Unknown));
        };
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &decoding, &validation) else {
            return Ok(Err(KeyError::Malformed));
        };
        let now = clock.now();
        if data.claims.exp <= now.timestamp() {
            return Ok(Err(KeyError::Expired));
        }
        let found = api_key::Entity::find_by_id(data.claims.sub)
            .find_also_related(tenant::Entity)
            .one(db)
            .await?;
        let Some((key, Some(tenant))) = found else {
            return Ok(Err(KeyError::Unknown));
        };
        if key.revoked_at.is_some() {
            return Ok(Err(KeyError::Revoked));
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Ok(Err(KeyError::Expired));
        }
        Ok(Ok((key, tenant)))
    }
}
