//! The audit log: who did what, recorded in the same database as the change, read newest first.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use crate::{
    platform::clock::Clock,
    platform::entities::{
        audit_log::{self, ActorKind},
        tenant,
    },
    platform::error::DomainResult,
    platform::ids::{AuditId, TenantId},
};

/// Who acted.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    /// A readable name beside the id (an administrator's username), kept in the entry's
    /// details as `actor_name`.
    pub name: Option<String>,
}

impl Actor {
    /// An operator, by the name their token carries.
    pub fn operator(name: &str) -> Self {
        Self {
            kind: ActorKind::Operator,
            id: Some(name.to_owned()),
            name: None,
        }
    }

    /// A Microsoft 365 administrator who signed in, by their Entra object id.
    pub fn administrator(person: &crate::tenancy::onboarding::Person) -> Self {
        Self {
            kind: ActorKind::Administrator,
            id: Some(person.oid.to_string()),
            name: Some(person.label()),
        }
    }

    /// A Microsoft user who connected their account to a tenant, by their Entra object id.
    pub fn user(person: &crate::tenancy::onboarding::Person) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(person.oid.to_string()),
            name: Some(person.label()),
        }
    }

    /// A tenant, by the API key it used.
    pub fn api_key(key: crate::platform::ids::ApiKeyId) -> Self {
        Self {
            kind: ActorKind::Tenant,
            id: Some(key.to_string()),
            name: None,
        }
    }

    pub fn system(component: &str) -> Self {
        Self {
            kind: ActorKind::System,
            id: Some(component.to_owned()),
            name: None,
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
    let mut details = entry.details;
    if let (Some(name), Value::Object(map)) = (entry.actor.name, &mut details) {
        map.insert("actor_name".to_owned(), Value::String(name));
    }
    audit_log::ActiveModel {
        id: Set(id.uuid()),
        tenant_id: Set(entry.tenant_id.map(|t| t.uuid())),
        actor_kind: Set(entry.actor.kind),
        actor_id: Set(entry.actor.id),
        action: Set(entry.action),
        target_kind: Set(entry.target_kind),
        target_id: Set(entry.target_id),
        details: Set(details),
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

/// Which actions to list: one exactly, or every one under a prefix (`tenant.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionFilter {
    Exact(String),
    /// The prefix, its final dot included (`tenant.`).
    Prefix(String),
}

impl ActionFilter {
    /// Longest an action filter may be.
    pub const MAX_LEN: usize = 100;

    /// `tenant.suspended` (exact) or `tenant.*` (prefix): dot-separated words of lower-case
    /// letters, digits and underscores, the prefix form ending in `.*`. `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > Self::MAX_LEN {
            return None;
        }
        let (words, prefix) = match text.strip_suffix(".*") {
            Some(words) => (words, true),
            None => (text, false),
        };
        let valid = !words.is_empty()
            && words.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        valid.then(|| match prefix {
            true => Self::Prefix(format!("{words}.")),
            false => Self::Exact(words.to_owned()),
        })
    }
}

/// Which entries operators list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub tenant: Option<TenantId>,
    pub action: Option<ActionFilter>,
    /// The actor's id exactly (an operator's name, a `key_…`, a system component).
    pub actor: Option<String>,
}

/// An entry as operators see it: with the name of its tenant, while the tenant's data exists.
#[derive(Clone, Debug)]
pub struct AuditRow {
    pub entry: audit_log::Model,
    pub tenant_name: Option<String>,
}

/// Every entry, for operators: the tenant's name joined in, one query a page.
pub async fn list_all<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
    page: &Page,
) -> DomainResult<Vec<AuditRow>> {
    let mut query = audit_log::Entity::find();
    if let Some(tenant) = filter.tenant {
        query = query.filter(audit_log::Column::TenantId.eq(tenant.uuid()));
    }
    match &filter.action {
        Some(ActionFilter::Exact(action)) => {
            query = query.filter(audit_log::Column::Action.eq(action.as_str()));
        }
        Some(ActionFilter::Prefix(prefix)) => {
            let pattern = format!("{}%", crate::platform::paging::escape_like(prefix));
            query = query.filter(audit_log::Column::Action.like(pattern));
        }
        None => {}
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::Column::ActorId.eq(actor.as_str()));
    }
    if let Some(before) = page.before {
        query = query.filter(audit_log::Column::Id.lt(before.uuid()));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(page.limit.clamp(1, 200))
        .find_also_related(tenant::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(entry, tenant)| AuditRow {
            entry,
            tenant_name: tenant.map(|t| t.name),
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::ActionFilter;

    #[test]
    fn action_filters_are_exact_or_a_prefix_ending_in_dot_star() {
        assert_eq!(
            ActionFilter::parse("tenant.suspended"),
            Some(ActionFilter::Exact("tenant.suspended".into()))
        );
        assert_eq!(
            ActionFilter::parse("operator_token.*"),
            Some(ActionFilter::Prefix("operator_token.".into()))
        );
        assert_eq!(
            ActionFilter::parse("a.b.*"),
            Some(ActionFilter::Prefix("a.b.".into()))
        );
        for bad in [
            "",
            "*",
            ".*",
            "tenant*",
            "tenant.",
            "tenant..x",
            "Tenant.x",
            "tenant.*.x",
            "ten ant",
            "tenant.%",
            "tenant.**",
        ] {
            assert_eq!(ActionFilter::parse(bad), None, "{bad:?}");
        }
        assert_eq!(ActionFilter::parse(&"a".repeat(101)), None);
    }
}
