//! A connection's Graph access token, shared by every process.
//!
//! Entra rotates refresh tokens, and a strict deployment (or a lost rotation after a crash)
//! makes a used one worthless, so two refreshes of one connection must never run at once:
//! - in a process, one task per connection asks (the broker's per-connection slot);
//! - across processes, the refresh runs holding the connection's row lock (`FOR UPDATE`), and
//!   the new refresh token is written in the same transaction before the access token is
//!   handed out. A process that waited on the lock finds the fresh access token in the row
//!   (sealed) and uses it instead of refreshing again.
//!
//! When Entra says only the user can fix it (`invalid_grant`, `interaction_required`), the
//! connection becomes `reauthorization_required` in that same transaction
//! ([`super::lifecycle::reauthorization_required`]).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set, TransactionTrait};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{callback_url, lifecycle, seal_context, seal_token};
use crate::{
    graph::microsoft::{
        claims::GraphTokenClaims,
        delegated::{DelegatedError, DelegatedTokens},
        tokens::AccessToken,
    },
    platform::entities::connection::{self, ConnectionStatus},
    platform::error::DomainError,
    platform::ids::ConnectionId,
    services::Services,
    tenancy::tenants::AccessError,
};

fn reauthorize(id: Uuid, reason: impl Into<String>) -> AccessError {
    AccessError::Reauthorize {
        connection: ConnectionId::from(id),
        reason: reason.into(),
    }
}

fn open(
    services: &Services,
    id: Uuid,
    what: &str,
    sealed: &[u8],
) -> Result<SecretString, AccessError> {
    let internal = |source: anyhow::Error| {
        AccessError::Domain(DomainError::Internal {
            context: format!("a connection's sealed {what} token could not be opened"),
            source,
        })
    };
    let plain = services
        .secret_box
        .open(sealed, &seal_context(id, what))
        .map_err(|e| internal(e.into()))?;
    String::from_utf8(plain)
        .map(SecretString::from)
        .map_err(|e| internal(e.into()))
}

fn token(
    found: &connection::Model,
    secret: SecretString,
    expires_at: DateTime<Utc>,
) -> AccessToken {
    AccessToken {
        token: secret,
        expires_at,
        // Personal accounts' Graph tokens are opaque: what matters is known from the row.
        claims: GraphTokenClaims {
            tid: found
                .user_tenant_id
                .map(|t| t.to_string())
                .unwrap_or_default(),
            roles: Vec::new(),
            exp: expires_at.timestamp(),
            oid: found.user_object_id.map(|o| o.to_string()),
        },
    }
}

/// Counts a refresh by its outcome (`graphhook_connection_refreshes_total`).
fn count_refresh(outcome: &'static str) {
    metrics::counter!("graphhook_connection_refreshes_total", "outcome" => outcome).increment(1);
}

/// Writes a refresh's answer under the row lock: the rotated refresh token and the new access
/// token (both sealed), the granted scopes.
async fn store_refreshed<C: ConnectionTrait>(
    services: &Services,
    txn: &C,
    found: &connection::Model,
    tokens: &DelegatedTokens,
    now: DateTime<Utc>,
) -> Result<(), AccessError> {
    let id = found.id;
    let mut active: connection::ActiveModel = found.clone().into();
    if let Some(rotated) = &tokens.refresh_token {
        let sealed = seal_token(services, id, "refresh", rotated.expose_secret());
        active.refresh_token = Set(Some(sealed));
    }
    let access = seal_token(services, id, "access", tokens.access_token.expose_secret());
    active.access_token = Set(Some(access));
    active.access_expires_at = Set(Some(tokens.expires_at));
    active.refreshed_at = Set(Some(now));
    if !tokens.scopes.is_empty() {
        active.granted_scopes = Set(Some(tokens.scopes.join(" ")));
    }
    active.last_error = Set(None);
    active.updated_at = Set(now);
    active.update(txn).await.map_err(DomainError::from)?;
    Ok(())
}

/// The connection's access token: from this process's memory, else from the row, else
/// refreshed (`fresh`: refreshed whatever is cached, e.g. for Graph's reauthorization).
#[tracing::instrument(skip(services), fields(connection = %ConnectionId::from(id)))]
pub async fn access_token(
    services: &Services,
    id: Uuid,
    fresh: bool,
) -> Result<AccessToken, AccessError> {
    let margin = services.broker.margin();
    let slot = services.broker.connection_slot(id);
    let mut cached = slot.lock().await;
    let now = services.clock.now();
    if !fresh
        && let Some(token) = cached.as_ref()
        && token.expires_at - margin > now
    {
        return Ok(token.clone());
    }
    let txn = services.db.begin().await.map_err(DomainError::from)?;
    let found = connection::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await
        .map_err(DomainError::from)?
        .ok_or(DomainError::NotFound("connection"))?;
    if found.status != ConnectionStatus::Active {
        txn.rollback().await.map_err(DomainError::from)?;
        *cached = None;
        let reason = found
            .last_error
            .clone()
            .unwrap_or_else(|| format!("the connection is {}", found.status.as_str()));
        return Err(reauthorize(id, reason));
    }
    // Another process may have refreshed while this one waited for the lock.
    if !fresh
        && let (Some(sealed), Some(expires_at)) = (&found.access_token, found.access_expires_at)
        && expires_at - margin > now
    {
        txn.rollback().await.map_err(DomainError::from)?;
        let shared = token(&found, open(services, id, "access", sealed)?, expires_at);
        *cached = Some(shared.clone());
        return Ok(shared);
    }
    let Some(sealed_refresh) = &found.refresh_token else {
        txn.rollback().await.map_err(DomainError::from)?;
        return Err(reauthorize(id, "the connection holds no refresh token"));
    };
    let refresh = open(services, id, "refresh", sealed_refresh)?;
    let scopes: Vec<String> = found.scopes.split_whitespace().map(str::to_owned).collect();
    let answer = services
        .broker
        .refresh_connection(
            found.account.authority_segment(),
            &callback_url(&services.settings),
            &refresh,
            &scopes,
        )
        .await;
    match answer {
        Ok(tokens) => {
            store_refreshed(services, &txn, &found, &tokens, now).await?;
            txn.commit().await.map_err(DomainError::from)?;
            count_refresh("ok");
            let fresh = token(&found, tokens.access_token, tokens.expires_at);
            *cached = Some(fresh.clone());
            Ok(fresh)
        }
        Err(DelegatedError::Reauthorize {
            error,
            code,
            message,
        }) => {
            let reason = format!("{error}, AADSTS{code}: {message}");
            lifecycle::reauthorization_required(&txn, &services.clock, &found, &reason).await?;
            txn.commit().await.map_err(DomainError::from)?;
            count_refresh("reauthorize");
            *cached = None;
            Err(reauthorize(id, reason))
        }
        Err(DelegatedError::Token(error)) => {
            txn.rollback().await.map_err(DomainError::from)?;
            count_refresh("error");
            Err(AccessError::Token(error))
        }
    }
}
