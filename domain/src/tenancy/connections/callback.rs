//! Where a connecting user comes back from Entra (`GET /connections/callback`). Nothing in
//! the browser's request is believed until it is proven: the `state` must be one this
//! deployment issued, unused and unexpired (it is taken once, whatever happens next); the code
//! is redeemed with that sign-in's PKCE verifier and our own credential; the id_token is
//! validated against Entra's keys with that sign-in's nonce; and its person must be one the
//! connection may hold: a work/school account of the tenant's own Entra tenant, a personal
//! account for a personal connection, and on a reconnect the same user as before.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, FromQueryResult, Set, Statement, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{lifecycle, seal_context, seal_token, state_hash};
use crate::{
    graph::microsoft::{
        delegated::{CONSUMERS_TENANT, DelegatedError, DelegatedTokens},
        id_token::{self, Expected},
    },
    operator::audit::{self, Actor, NewEntry},
    platform::entities::{
        connection::{self, Account, ConnectionStatus},
        tenant::TenantStatus,
    },
    platform::error::DomainError,
    platform::ids::{ConnectionId, TenantId},
    services::Services,
    tenancy::onboarding::Person,
    tenancy::tenants,
};

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("this link is unknown, was already used, or expired; ask for a new one")]
    UnknownState,
    #[error("the organization this connection belongs to is no longer served")]
    TenantGone,
    #[error("Microsoft refused to sign the user in: {0}")]
    Refused(String),
    #[error("Microsoft's answer could not be verified: {0}")]
    Unverified(String),
    #[error(
        "{0} belongs to another organization; only accounts of the organization this connection is for can connect"
    )]
    OtherOrganization(String),
    #[error("{0} is a work or school account; this connection is for a personal Microsoft account")]
    NotPersonal(String),
    #[error("{0} is a personal Microsoft account; this connection is for a work or school account")]
    NotWork(String),
    #[error("{0} is not the account this connection was made with ({1}); sign in as {1}")]
    OtherUser(String, String),
    #[error("Entra returned no refresh token (offline_access was not granted)")]
    NoRefreshToken,
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// A connection the user has just connected (or reconnected).
#[derive(Debug)]
pub struct Completed {
    pub connection: connection::Model,
    pub person: Person,
    /// The subscriptions resumed because the connection was `reauthorization_required`.
    pub resumed: Option<usize>,
}

/// Takes a sign-in's `state` once: the connection waiting for it, if it has not expired.
async fn take_state<C: ConnectionTrait>(
    db: &C,
    state: &str,
    now: DateTime<Utc>,
) -> Result<connection::Model, CallbackError> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        r"UPDATE connections SET auth_state_hash = NULL
           WHERE auth_state_hash = $1 AND auth_expires_at > $2 AND status <> 'deleted'
       RETURNING *",
        [state_hash(state).into(), now.into()],
    );
    let row = db
        .query_one_raw(statement)
        .await
        .map_err(DomainError::from)?
        .ok_or(CallbackError::UnknownState)?;
    Ok(connection::Model::from_query_result(&row, "").map_err(DomainError::from)?)
}

/// Whether this person may complete this connection: a personal connection takes a personal
/// account, a work one an account of the tenant's own organization, and a reconnection the same
/// user as before.
fn may_connect(
    pending: &connection::Model,
    organization: uuid::Uuid,
    person: &Person,
) -> Result<(), CallbackError> {
    let label = person.label();
    match pending.account {
        Account::Personal if person.tid != CONSUMERS_TENANT => {
            return Err(CallbackError::NotPersonal(label));
        }
        Account::Work if person.tid == CONSUMERS_TENANT => {
            return Err(CallbackError::NotWork(label));
        }
        Account::Work if person.tid != organization => {
            tracing::warn!(tid = %person.tid, "a user of another organization tried to connect");
            return Err(CallbackError::OtherOrganization(label));
        }
        _ => {}
    }
    if let Some(before) = pending.user_object_id
        && before != person.oid
    {
        let expected_user = pending
            .username
            .clone()
            .unwrap_or_else(|| before.to_string());
        return Err(CallbackError::OtherUser(label, expected_user));
    }
    Ok(())
}

/// The person the `id_token` names, once it is validated like onboarding's (signature, issuer,
/// audience, this sign-in's nonce, lifetime).
async fn signed_in_person(
    services: &Services,
    pending: &connection::Model,
    id_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Person, CallbackError> {
    let id_token = id_token.ok_or_else(|| CallbackError::Unverified("no id_token".into()))?;
    let client_id = services
        .settings
        .microsoft
        .client_id
        .as_deref()
        .unwrap_or_default();
    let authorities = [services.settings.microsoft.authority_url.clone()];
    let nonce = pending.auth_nonce.clone().unwrap_or_default();
    let expected = Expected {
        client_id,
        authorities: &authorities,
        nonce: &nonce,
    };
    Ok(
        id_token::validate_with(&services.jwks, id_token, &expected, now)
            .await
            .map_err(|e| CallbackError::Unverified(e.to_string()))?
            .person,
    )
}

/// The connection, active: the user's identity, the granted scopes, the tokens sealed, the
/// sign-in's one-time values gone.
fn activated(
    services: &Services,
    pending: connection::Model,
    person: &Person,
    tokens: &DelegatedTokens,
    refresh: &SecretString,
    now: DateTime<Utc>,
) -> connection::ActiveModel {
    let id = pending.id;
    let previous_was_pending = pending.status == ConnectionStatus::Pending;
    let mut active: connection::ActiveModel = pending.into();
    active.status = Set(ConnectionStatus::Active);
    active.user_object_id = Set(Some(person.oid));
    active.user_tenant_id = Set(Some(person.tid));
    active.username = Set(person.username.clone());
    active.display_name = Set(person.name.clone());
    active.granted_scopes = Set(Some(tokens.scopes.join(" ")));
    let refresh = seal_token(services, id, "refresh", refresh.expose_secret());
    let access = seal_token(services, id, "access", tokens.access_token.expose_secret());
    active.refresh_token = Set(Some(refresh));
    active.access_token = Set(Some(access));
    active.access_expires_at = Set(Some(tokens.expires_at));
    active.refreshed_at = Set(Some(now));
    active.auth_verifier = Set(None);
    active.auth_nonce = Set(None);
    active.auth_expires_at = Set(None);
    active.last_error = Set(None);
    active.updated_at = Set(now);
    if previous_was_pending {
        active.connected_at = Set(Some(now));
    }
    active
}

/// Completes a connection from Entra's answer (see the module documentation).
#[tracing::instrument(skip_all)]
pub async fn complete(
    services: &Services,
    state: &str,
    code: &str,
) -> Result<Completed, CallbackError> {
    let now = services.clock.now();
    let pending = take_state(&services.db, state, now).await?;
    let id = pending.id;
    let tenant = tenants::find(&services.db, TenantId::from(pending.tenant_id))
        .await?
        .filter(|t| t.status != TenantStatus::Offboarded)
        .ok_or(CallbackError::TenantGone)?;
    let verifier = pending
        .auth_verifier
        .as_deref()
        .and_then(|sealed| {
            services
                .secret_box
                .open(sealed, &seal_context(id, "verifier"))
                .ok()
        })
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or(CallbackError::UnknownState)?;
    let segment = pending.account.authority_segment();
    let tokens = services
        .broker
        .redeem_connection_code(
            segment,
            code,
            &super::callback_url(&services.settings),
            &verifier,
        )
        .await
        .map_err(|e| match e {
            DelegatedError::Reauthorize { .. } => CallbackError::Refused(e.to_string()),
            DelegatedError::Token(e) => CallbackError::Refused(e.to_string()),
        })?;
    let person = signed_in_person(services, &pending, tokens.id_token.as_deref(), now).await?;
    may_connect(&pending, tenant.entra_tenant_id, &person)?;
    let refresh = tokens
        .refresh_token
        .as_ref()
        .ok_or(CallbackError::NoRefreshToken)?;

    let txn = services.db.begin().await.map_err(DomainError::from)?;
    let previous = pending.status;
    let active = activated(services, pending, &person, &tokens, refresh, now);
    let model = active.update(&txn).await.map_err(DomainError::from)?;
    let resumed = match previous {
        ConnectionStatus::ReauthorizationRequired => {
            Some(lifecycle::restored(&txn, &services.clock, &model).await?)
        }
        _ => None,
    };
    let action = match previous {
        ConnectionStatus::Pending => "connection.connected",
        _ => "connection.reconnected",
    };
    let entry = NewEntry::new(Actor::user(&person), action)
        .tenant(TenantId::from(tenant.id))
        .target("connection", ConnectionId::from(id))
        .details(json!({
            "account": model.account,
            "username": person.username,
            "scopes": tokens.scopes,
            "resumed_subscriptions": resumed,
        }));
    audit::record(&txn, &services.clock, entry).await?;
    txn.commit().await.map_err(DomainError::from)?;
    services.broker.forget_connection(id);
    Ok(Completed {
        connection: model,
        person,
        resumed,
    })
}

#[cfg(test)]
mod tests;
