//! The audit log: who did what, recorded in the same database as the change, read newest first.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use crate::{
    clock::Clock,
    entities::audit_log::{self, ActorKind},
    error::DomainResult,
    ids::{AuditId, TenantId},
};

/// Who acted.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
}

impl Actor {
    /// An operator, by the name their token carries.
    pub fn operator(name: &str) -> Self {
        Self {
            kind: ActorKind::Operator,
            id: Some(name.to_owned()),
        }
    }

    pub fn system(component: &str) -> Self {
        Self {
            kind: ActorKind::System,
            id: Some(component.to_owned()),
        }
    }
}

/// One entry to record.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub tenant_id: Option<TenantId>,
    pub actor: Actor,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub details: Value,
    pub request_id: Option<String>,
}

impl NewEntry {
    pub fn new(actor: Actor, action: &str) -> Self {
        Self {
            tenant_id: None,
            actor,
            action: action.to_owned(),
            target_kind: None,
            target_id: None,
            details: Value::Object(Default::default()),
            request_id: None,
        }
    }

    pub fn tenant(mut self, tenant_id: TenantId) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    pub fn target(mut self, kind: &str, id: impl ToString) -> Self {
        self.target_kind = Some(kind.to_owned());
        self.target_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

#[tracing::instrument(skip_all, fields(action = %entry.action))]
pub async fn record<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    entry: NewEntry,
) -> DomainResult<AuditId> {
    let id = AuditId::new();
    audit_log::ActiveModel {
        id: Set(id.uuid()),
        tenant_id: Set(entry.tenant_id.map(|t| t.uuid())),
        actor_kind: Set(entry.actor.kind),
        actor_id: Set(entry.actor.id),
        action: Set(entry.action),
        target_kind: Set(entry.target_kind),
        target_id: Set(entry.target_id),
        details: Set(entry.details),
        request_id: Set(entry.request_id),
        created_at: Set(clock.now()),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Entries older than this one (the previous page's last id).
    pub before: Option<AuditId>,
    pub limit: u64,
}

/// Every entry, for operators.
pub async fn list_all<C: ConnectionTrait>(
    db: &C,
    tenant: Option<TenantId>,
    page: &Page,
) -> DomainResult<Vec<audit_log::Model>> {
    let mut query = audit_log::Entity::find();
    if let Some(tenant) = tenant {
        query = query.filter(audit_log::Column::TenantId.eq(tenant.uuid()));
    }
    paginate(db, query, page).await
}

/// The entries of one tenant: the finder tenant-facing code uses.
pub async fn list_for_tenant<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    page: &Page,
) -> DomainResult<Vec<audit_log::Model>> {
    let query = audit_log::Entity::find().filter(audit_log::Column::TenantId.eq(tenant.uuid()));
    paginate(db, query, page).await
}

async fn paginate<C: ConnectionTrait>(
    db: &C,
    mut query: sea_orm::Select<audit_log::Entity>,
    page: &Page,
) -> DomainResult<Vec<audit_log::Model>> {
    if let Some(before) = page.before {
        query = query.filter(audit_log::Column::Id.lt(before.uuid()));
    }
    Ok(query
        .order_by_desc(audit_log::Column::Id)
        .limit(page.limit.clamp(1, 200))
        .all(db)
        .await?)
}
