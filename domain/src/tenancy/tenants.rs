//! Tenants and their consent: the finders every tenant-facing path uses, and the state changes
//! consent brings (created, roles updated, consent revoked, consent restored).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

mod on_consent;

use crate::{
    graph::microsoft::{TokenBroker, TokenError, roles, tokens::AccessToken},
    operator::audit::{self, Actor, NewEntry},
    platform::clock::Clock,
    platform::entities::{
        consent,
        tenant::{self, TenantStatus},
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{ConsentId, TenantId},
};

/// The [`DomainError::Conflict`] rule of a tenant another request is creating at the same moment:
/// the caller may try again.
pub const BEING_CREATED: &str = "tenant_being_created";

pub async fn find<C: ConnectionTrait>(db: &C, id: TenantId) -> DomainResult<Option<tenant::Model>> {
    Ok(tenant::Entity::find_by_id(id.uuid()).one(db).await?)
}

pub async fn find_by_entra_id<C: ConnectionTrait>(
    db: &C,
    entra_tenant_id: Uuid,
) -> DomainResult<Option<tenant::Model>> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::EntraTenantId.eq(entra_tenant_id))
        .one(db)
        .await?)
}

/// The tenant's consent in force (not revoked), if any.
pub async fn current_consent<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> DomainResult<Option<consent::Model>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::TenantId.eq(tenant.uuid()))
        .filter(consent::Column::RevokedAt.is_null())
        .order_by_desc(consent::Column::GrantedAt)
        .one(db)
        .await?)
}

pub fn granted_roles(consent: &consent::Model) -> Vec<String> {
    serde_json::from_value(consent.granted_roles.clone()).unwrap_or_default()
}

/// What a token proved about a tenant: its Entra id and the roles granted to our app there.
#[derive(Clone, Debug)]
pub struct ConsentProof {
    pub entra_tenant_id: Uuid,
    pub roles: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub tenant: tenant::Model,
    pub created: bool,
    /// The product's roles the consent lacks.
    pub missing_roles: Vec<&'static str>,
}

/// Records a proven consent: creates the tenant on its first consent, or updates the roles of
/// the one that exists (a tenant is never created twice). A consent whose token carries no roles
/// yet leaves a new tenant `pending`; one with roles makes it `active` (and restores a tenant
/// whose consent had been revoked). The audit entry names `actor`: the administrator who signed
/// in and consented, the tenant's key that asked for a check, or the background check.
#[tracing::instrument(skip_all, fields(entra_tenant = %proof.entra_tenant_id))]
pub async fn record_consent<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    proof: &ConsentProof,
    name: &str,
    actor: Actor,
    request_id: Option<String>,
) -> DomainResult<Recorded> {
    let txn = db.begin().await?;
    let now = clock.now();
    let existing = tenant::Entity::find()
        .filter(tenant::Column::EntraTenantId.eq(proof.entra_tenant_id))
        .lock_exclusive()
        .one(&txn)
        .await?;
    let decision = on_consent::decide(existing.as_ref().map(|t| t.status), !proof.roles.is_empty());
    let (tenant, created) = match existing {
        Some(found) => {
            let mut active = found.into_active_model();
            if let Some(status) = decision.status {
                active.status = Set(status);
                active.status_reason = Set(None);
            }
            active.updated_at = Set(now);
            (active.update(&txn).await?, false)
        }
        None => match insert_tenant(&txn, proof, name, &decision, now).await {
            Ok(tenant) => (tenant, true),
            Err(error) => {
                txn.rollback().await?;
                return Err(error);
            }
        },
    };
    let tenant_id = TenantId::from(tenant.id);
    upsert_consent(&txn, &tenant, &proof.roles, now).await?;
    if decision.resume_subscriptions {
        // Paused subscriptions come back: renewed (or recreated) by the upkeep right away.
        crate::graph::subscriptions::pause::resume_tenant(&txn, clock, tenant_id).await?;
    }
    let entry = NewEntry::new(actor, decision.action)
        .tenant(tenant_id)
        .target("tenant", tenant_id)
        .details(json!({"roles": proof.roles, "status": tenant.status}))
        .request_id(request_id);
    audit::record(&txn, clock, entry).await?;
    txn.commit().await?;
    let missing_roles = roles::missing(&proof.roles);
    Ok(Recorded {
        tenant,
        created,
        missing_roles,
    })
}

/// A tenant's first consent creates it. Another request creating it at the same moment is a
/// conflict the caller may retry.
async fn insert_tenant<C: ConnectionTrait>(
    txn: &C,
    proof: &ConsentProof,
    name: &str,
    decision: &on_consent::ConsentDecision,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<tenant::Model> {
    let id = TenantId::new();
    let model = tenant::ActiveModel {
        id: Set(id.uuid()),
        entra_tenant_id: Set(proof.entra_tenant_id),
        name: Set(name.to_owned()),
        status: Set(decision.status.unwrap_or(TenantStatus::Pending)),
        status_reason: Set(decision.status_reason.map(str::to_owned)),
        created_at: Set(now),
        updated_at: Set(now),
        offboarded_at: Set(None),
    };
    let inserted = tenant::Entity::insert(model)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(tenant::Column::EntraTenantId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        // Another request created it a moment ago: let the caller try again.
        return Err(DomainError::conflict(
            BEING_CREATED,
            "the tenant is being created by another request",
        ));
    }
    tenant::Entity::find_by_id(id.uuid())
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound("tenant"))
}

/// Records the roles the consent grants: on the tenant's consent in force, or a new one.
async fn upsert_consent<C: ConnectionTrait>(
    txn: &C,
    tenant: &tenant::Model,
    roles: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<()> {
    let roles_json = json!(roles);
    match current_consent(txn, TenantId::from(tenant.id)).await? {
        Some(consent) => {
            let mut active = consent.into_active_model();
            active.granted_roles = Set(roles_json.clone());
            active.granted_at = Set(now);
            active.update(txn).await?;
        }
        None => {
            consent::ActiveModel {
                id: Set(ConsentId::new().uuid()),
                tenant_id: Set(tenant.id),
                granted_roles: Set(roles_json.clone()),
                granted_at: Set(now),
                revoked_at: Set(None),
                revoked_reason: Set(None),
                created_at: Set(now),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// Moves a tenant to `consent_revoked`: the token endpoint said the app or consent is gone.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn mark_consent_revoked<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    tenant: TenantId,
    error: &TokenError,
) -> DomainResult<()> {
    let txn = db.begin().await?;
    let now = clock.now();
    let Some(found) = tenant::Entity::find_by_id(tenant.uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Err(DomainError::NotFound("tenant"));
    };
    if found.status == TenantStatus::ConsentRevoked {
        txn.rollback().await?;
        return Ok(());
    }
    let mut active = found.into_active_model();
    active.status = Set(TenantStatus::ConsentRevoked);
    active.status_reason = Set(Some(error.to_string()));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    if let Some(consent) = current_consent(&txn, tenant).await? {
        let mut active = consent.into_active_model();
        active.revoked_at = Set(Some(now));
        active.revoked_reason = Set(Some(error.to_string()));
        active.update(&txn).await?;
    }
    // Nothing can be asked of Graph in the tenant's name any more.
    crate::graph::subscriptions::pause::pause_tenant(&txn, clock, tenant, &error.to_string())
        .await?;
    let entry = NewEntry::new(Actor::system("token-broker"), "tenant.consent_revoked")
        .tenant(tenant)
        .target("tenant", tenant)
        .details(json!({"aadsts": error.aadsts(), "error": error.to_string()}));
    audit::record(&txn, clock, entry).await?;
    txn.commit().await?;
    tracing::warn!(%error, "tenant consent revoked");
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A connection's user must connect again (or the connection is not active).
    #[error("connection {connection} cannot be used until its user connects again: {reason}")]
    Reauthorize {
        connection: crate::platform::ids::ConnectionId,
        reason: String,
    },
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// [`access_token`] through the process's own database, clock and broker.
pub async fn app_token(
    services: &crate::services::Services,
    tenant: &tenant::Model,
    fresh: bool,
) -> Result<AccessToken, AccessError> {
    access_token(
        &services.db,
        &services.clock,
        &services.broker,
        tenant,
        fresh,
    )
    .await
}

/// A Graph token for a tenant. When the token endpoint says consent or the app is gone, the
/// tenant moves to `consent_revoked` before the error is returned.
pub async fn access_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    broker: &TokenBroker,
    tenant: &tenant::Model,
    fresh: bool,
) -> Result<AccessToken, AccessError> {
    let result = if fresh {
        broker.fresh_token(tenant.entra_tenant_id).await
    } else {
        broker.token(tenant.entra_tenant_id).await
    };
    match result {
        Err(error @ TokenError::ConsentGone { .. }) => {
            broker.forget(tenant.entra_tenant_id);
            mark_consent_revoked(db, clock, TenantId::from(tenant.id), &error).await?;
            Err(error.into())
        }
        other => Ok(other?),
    }
}
