//! Delegated connections: a Microsoft user connected to a tenant, so Graphhook can hold the
//! subscriptions Graph allows only in a signed-in user's name (graph-protocol.md §6.2): group
//! conversations, personal OneDrive folders, and the `me/…` forms of mail, calendar and
//! contacts.
//!
//! 1. [`start`] (or [`reconnect`]) writes a `pending` row holding a single-use sign-in: the
//!    SHA-256 of its `state`, its PKCE verifier (sealed) and nonce, for an hour; the caller
//!    hands the authorization URL to the user.
//! 2. [`callback::complete`] takes the `state` once, redeems the code, validates the id_token,
//!    checks whose account it is (a work/school account of the tenant's own organization, or
//!    a personal account), and stores the refresh and access tokens sealed.
//! 3. [`tokens::access_token`] keeps the connection's token fresh for every process (one
//!    refresh at a time, under the row's lock, so a rotated refresh token is never lost), and
//!    moves the connection to `reauthorization_required` when only the user can fix it;
//!    [`lifecycle`] pauses and resumes the connection's subscriptions.

pub mod callback;
pub mod deletion;
pub mod lifecycle;
pub mod tokens;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select, Set,
    TransactionSession, TransactionTrait,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::platform::owned::TenantOwned;
/// The tenant's connection (not deleted), and a page of them, oldest first.
pub use crate::platform::owned::{find, page as list};
use crate::{
    Clock, Settings,
    graph::microsoft::{delegated, sign_in::SignInRequest},
    graph::resources,
    operator::audit::{self, Actor, NewEntry},
    platform::entities::{
        connection::{self, Account, ConnectionStatus},
        tenant,
    },
    platform::error::DomainError,
    platform::ids::{ConnectionId, TenantId},
    platform::quota::{self, Quota},
    services::Services,
};

/// How long an authorization URL can be used.
pub const LINK_TTL_SECS: i64 = 3600;
/// The most resource kinds one connection asks for.
const MAX_KINDS: usize = 5;
/// The longest `login_hint` passed on to Entra.
const MAX_LOGIN_HINT: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// A bad input: the field, the rule it broke, and the message.
    #[error("{2}")]
    Invalid(&'static str, &'static str, String),
    #[error(
        "this Graphhook deployment is not enabled for personal Microsoft accounts: its app registration must accept them (signInAudience AzureADandPersonalMicrosoftAccount) and its operator must set microsoft.personal_accounts"
    )]
    PersonalAccountsDisabled,
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<ConnectionError> for DomainError {
    fn from(error: ConnectionError) -> Self {
        match error {
            ConnectionError::Invalid(field, rule, message) => {
                DomainError::invalid_rule(field, rule, message)
            }
            e @ ConnectionError::PersonalAccountsDisabled => {
                DomainError::invalid_rule("account", "personal_accounts_disabled", e.to_string())
            }
            ConnectionError::NotConfigured(message) => DomainError::Unavailable {
                message: format!("the deployment's Microsoft settings are incomplete: {message}"),
                source: None,
            },
            ConnectionError::Domain(e) => e,
        }
    }
}

/// What `POST /api/v1/connections` asks for.
#[derive(Debug)]
pub struct StartRequest {
    pub account: Account,
    /// Resource kinds the connection will be used for (`conversation`, `drive_item`, …).
    pub kinds: Vec<String>,
    pub login_hint: Option<String>,
}

/// A connection waiting for its user, and the URL to send them to.
#[derive(Debug)]
pub struct Started {
    pub connection: connection::Model,
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The Graph permissions `kinds` need for this kind of account.
pub fn scopes_for(account: Account, kinds: &[String]) -> Result<Vec<String>, ConnectionError> {
    if kinds.is_empty() {
        return Err(ConnectionError::Invalid(
            "kinds",
            "required",
            "kinds must name at least one resource kind: conversation, drive_item, message, event or contact".into(),
        ));
    }
    if kinds.len() > MAX_KINDS {
        return Err(ConnectionError::Invalid(
            "kinds",
            "too_many",
            format!("kinds may name at most {MAX_KINDS} resource kinds"),
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for name in kinds {
        let spec = resources::TABLE
            .iter()
            .find(|s| s.name == name.trim())
            .ok_or_else(|| {
                // Named back only in part: the input is the caller's and unbounded.
                let shown: String = name.chars().take(40).collect();
                ConnectionError::Invalid(
                    "kinds",
                    "unknown_kind",
                    format!(
                        "kinds: unknown resource kind '{shown}'; use conversation, drive_item, message, event or contact"
                    ),
                )
            })?;
        let scope = match account {
            Account::Work => spec.delegated,
            Account::Personal => spec.personal,
        };
        let Some(scope) = scope else {
            let app_only = spec.application.is_some();
            return Err(ConnectionError::Invalid(
                "kinds",
                if app_only {
                    "app_only"
                } else {
                    "not_for_account"
                },
                format!(
                    "kinds: {} cannot be subscribed to through a {} account{}",
                    spec.name,
                    account.as_str(),
                    if app_only {
                        "; subscribe to it app-only (without connection_id)"
                    } else {
                        ""
                    }
                ),
            ));
        };
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(scopes)
}

fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

pub(crate) fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// The context a connection's sealed values are bound to.
pub(crate) fn seal_context(id: uuid::Uuid, what: &str) -> Vec<u8> {
    format!("connection:{id}:{what}").into_bytes()
}

/// A connection's token sealed for its row, bound to the connection and to `what` it is.
pub(crate) fn seal_token(services: &Services, id: uuid::Uuid, what: &str, token: &str) -> Vec<u8> {
    services
        .secret_box
        .seal(token.as_bytes(), &seal_context(id, what))
}

/// Where Entra sends the user back.
pub fn callback_url(settings: &crate::platform::config::Settings) -> String {
    format!(
        "{}/connections/callback",
        settings.api.public_base_url.trim_end_matches('/')
    )
}

/// A fresh single-use sign-in for a connection: the values to store and the URL.
struct SignIn {
    state_hash: Vec<u8>,
    verifier: Vec<u8>,
    nonce: String,
    url: String,
    expires_at: DateTime<Utc>,
}

fn sign_in(
    services: &Services,
    id: uuid::Uuid,
    account: Account,
    scopes: &[String],
    login_hint: Option<&str>,
) -> Result<SignIn, ConnectionError> {
    let microsoft = &services.settings.microsoft;
    let client_id = microsoft.client_id.as_deref().ok_or_else(|| {
        ConnectionError::NotConfigured("microsoft.client_id is not set".to_owned())
    })?;
    let state = random_token(32);
    let verifier = random_token(32);
    let nonce = random_token(16);
    let browser = microsoft
        .browser_authority_url
        .as_deref()
        .unwrap_or(&microsoft.authority_url);
    let redirect = callback_url(&services.settings);
    let url = delegated::authorize_url(
        browser,
        account.authority_segment(),
        client_id,
        SignInRequest {
            redirect_uri: &redirect,
            state: &state,
            nonce: &nonce,
            pkce_verifier: &verifier,
        },
        scopes,
        login_hint,
    )
    .map_err(|e| ConnectionError::NotConfigured(e.to_string()))?;
    Ok(SignIn {
        state_hash: state_hash(&state),
        verifier: services
            .secret_box
            .seal(verifier.as_bytes(), &seal_context(id, "verifier")),
        nonce,
        url,
        expires_at: services.clock.now() + Duration::seconds(LINK_TTL_SECS),
    })
}

/// Audits `entry` with the connection now waiting for a sign-in, commits, and tells where its
/// user signs in (until `expires_at`).
async fn audited<T: ConnectionTrait + TransactionSession>(
    txn: T,
    clock: &Clock,
    entry: NewEntry,
    connection: connection::Model,
    authorization_url: String,
    expires_at: DateTime<Utc>,
) -> Result<Started, ConnectionError> {
    audit::record(&txn, clock, entry).await?;
    txn.commit().await.map_err(DomainError::from)?;
    Ok(Started {
        connection,
        authorization_url,
        expires_at,
    })
}

/// Personal accounts connect only where the deployment allows them.
fn allowed(settings: &Settings, account: Account) -> Result<(), ConnectionError> {
    if account == Account::Personal && !settings.microsoft.personal_accounts {
        return Err(ConnectionError::PersonalAccountsDisabled);
    }
    Ok(())
}

fn login_hint(hint: Option<String>) -> Result<Option<String>, ConnectionError> {
    let hint = hint.map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
    if let Some(h) = &hint
        && (h.len() > MAX_LOGIN_HINT || h.chars().any(char::is_control))
    {
        return Err(ConnectionError::Invalid(
            "login_hint",
            "invalid",
            format!(
                "login_hint must be at most {MAX_LOGIN_HINT} characters without control characters"
            ),
        ));
    }
    Ok(hint)
}

/// Starts connecting a user: a `pending` connection and the URL its user signs in at.
#[tracing::instrument(skip_all, fields(tenant = %tenant.id))]
pub async fn start(
    services: &Services,
    tenant: &tenant::Model,
    request: StartRequest,
    actor: Actor,
) -> Result<Started, ConnectionError> {
    allowed(&services.settings, request.account)?;
    let scopes = scopes_for(request.account, &request.kinds)?;
    let hint = login_hint(request.login_hint)?;
    let id = ConnectionId::new();
    let signing_in = sign_in(
        services,
        id.uuid(),
        request.account,
        &scopes,
        hint.as_deref(),
    )?;
    let now = services.clock.now();
    let txn = services.db.begin().await.map_err(DomainError::from)?;
    let held = connection::Entity::find()
        .filter(connection::Column::TenantId.eq(tenant.id))
        .filter(connection::Column::Status.ne(ConnectionStatus::Deleted));
    let limit = services.settings.api.max_connections_per_tenant;
    quota::reserve(
        &txn,
        TenantId::from(tenant.id),
        Quota::Connections,
        limit,
        held,
    )
    .await?;
    let model = connection::ActiveModel {
        id: Set(id.uuid()),
        tenant_id: Set(tenant.id),
        account: Set(request.account),
        status: Set(ConnectionStatus::Pending),
        scopes: Set(scopes.join(" ")),
        granted_scopes: Set(None),
        user_object_id: Set(None),
        user_tenant_id: Set(None),
        username: Set(None),
        display_name: Set(None),
        refresh_token: Set(None),
        access_token: Set(None),
        access_expires_at: Set(None),
        refreshed_at: Set(None),
        auth_state_hash: Set(Some(signing_in.state_hash)),
        auth_verifier: Set(Some(signing_in.verifier)),
        auth_nonce: Set(Some(signing_in.nonce)),
        auth_expires_at: Set(Some(signing_in.expires_at)),
        login_hint: Set(hint),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        connected_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(DomainError::from)?;
    let entry = NewEntry::new(actor, "connection.started")
        .tenant(TenantId::from(tenant.id))
        .target("connection", id)
        .details(json!({"account": request.account, "scopes": scopes}));
    let (url, expires_at) = (signing_in.url, signing_in.expires_at);
    audited(txn, &services.clock, entry, model, url, expires_at).await
}

/// A new authorization URL for an existing connection (its user must sign in as the same
/// account): after `reauthorization_required`, or when the first link expired.
#[tracing::instrument(skip_all, fields(tenant = %tenant.id, connection = %id))]
pub async fn reconnect(
    services: &Services,
    tenant: &tenant::Model,
    id: ConnectionId,
    actor: Actor,
) -> Result<Started, ConnectionError> {
    let found = find(&services.db, TenantId::from(tenant.id), id).await?;
    allowed(&services.settings, found.account)?;
    let scopes: Vec<String> = found.scopes.split_whitespace().map(str::to_owned).collect();
    let hint = found.login_hint.clone().or_else(|| found.username.clone());
    let signing_in = sign_in(services, id.uuid(), found.account, &scopes, hint.as_deref())?;
    let now = services.clock.now();
    let txn = services.db.begin().await.map_err(DomainError::from)?;
    let mut active: connection::ActiveModel = found.into();
    active.auth_state_hash = Set(Some(signing_in.state_hash));
    active.auth_verifier = Set(Some(signing_in.verifier));
    active.auth_nonce = Set(Some(signing_in.nonce));
    active.auth_expires_at = Set(Some(signing_in.expires_at));
    active.updated_at = Set(now);
    let model = active.update(&txn).await.map_err(DomainError::from)?;
    let entry = NewEntry::new(actor, "connection.reconnect_started")
        .tenant(TenantId::from(tenant.id))
        .target("connection", id);
    let (url, expires_at) = (signing_in.url, signing_in.expires_at);
    audited(txn, &services.clock, entry, model, url, expires_at).await
}

/// A tenant sees its connections until they are deleted.
impl TenantOwned for connection::Entity {
    const NAME: &'static str = "connection";

    const TENANT_ID: connection::Column = connection::Column::TenantId;
    const ID: connection::Column = connection::Column::Id;

    fn visible(query: Select<Self>) -> Select<Self> {
        query.filter(connection::Column::Status.ne(ConnectionStatus::Deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_asks_for_the_permission_its_account_type_needs() {
        let kinds = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            scopes_for(
                Account::Work,
                &kinds(&["conversation", "drive_item", "message"])
            )
            .ok(),
            Some(kinds(&[
                "Group.Read.All",
                "Files.ReadWrite.All",
                "Mail.Read"
            ]))
        );
        assert_eq!(
            scopes_for(Account::Personal, &kinds(&["drive_item", "drive_item"])).ok(),
            Some(kinds(&["Files.ReadWrite"]))
        );
        for (account, refused) in [
            (Account::Personal, "conversation"),
            (Account::Work, "user"),
            (Account::Work, "nothing"),
        ] {
            assert!(matches!(
                scopes_for(account, &kinds(&[refused])),
                Err(ConnectionError::Invalid(..))
            ));
        }
        assert!(scopes_for(Account::Work, &[]).is_err());
        let long = scopes_for(Account::Work, &["x".repeat(100_000)]).unwrap_err();
        assert!(
            long.to_string().len() < 200,
            "the input is not echoed whole"
        );
    }

    #[test]
    fn a_login_hint_is_bounded() {
        assert_eq!(login_hint(Some("  ".into())).ok(), Some(None));
        assert!(login_hint(Some("a\u{0}b".into())).is_err());
        assert!(login_hint(Some("x".repeat(300))).is_err());
    }
}
