//! `GET /admin/v1/audit-log`: the audit log, newest first, one page at a time, filtered by
//! tenant, action (exact or a `prefix.*`) and actor.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    DomainError,
    operator::audit::{self, ActionFilter, AuditFilter, Page},
    platform::entities::audit_log,
    platform::ids::{AuditId, TenantId},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    annotations::QueryRefusals,
    error::{ApiError, ErrorBody, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only what concerned this tenant (`ten_…`).
    #[param(value_type = Option<String>)]
    tenant_id: Option<TenantId>,
    /// Only this action (`tenant.suspended`), or every action under a prefix ending in `.*`
    /// (`tenant.*`).
    #[param(example = "tenant.*")]
    action: Option<String>,
    /// Only what this actor did: its `actor_id` exactly (an operator's name, a `key_…`, a
    /// system component).
    #[param(example = "alice")]
    actor: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<String>)]
    cursor: Option<AuditId>,
    /// 1 to 200, default 50.
    limit: Option<u16>,
}

/// One audited action.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = String, example = "aud_0194c1a27b3c7d4e8f90123456789abc")]
    id: AuditId,
    /// The tenant the action concerned; `null` for deployment-wide actions.
    #[schema(value_type = Option<String>)]
    tenant_id: Option<TenantId>,
    /// The tenant's name; `null` for deployment-wide actions and once the tenant's data was
    /// removed.
    #[schema(example = "Contoso")]
    tenant_name: Option<String>,
    /// `operator`, `tenant`, `administrator` (a Microsoft 365 administrator who signed in to
    /// onboard) or `system`.
    #[schema(value_type = String, example = "operator")]
    actor_kind: audit_log::ActorKind,
    /// The operator's name, the tenant's API key id (`key_…`), the administrator's Entra object
    /// id, or the system component.
    #[schema(example = "alice")]
    actor_id: Option<String>,
    #[schema(example = "tenant.suspended")]
    action: String,
    #[schema(example = "tenant")]
    target_kind: Option<String>,
    target_id: Option<String>,
    /// What the action was about, by action.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    request_id: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<audit::AuditRow> for AuditEntry {
    fn from(row: audit::AuditRow) -> Self {
        let r = row.entry;
        Self {
            id: r.id.into(),
            tenant_id: r.tenant_id.map(Into::into),
            tenant_name: row.tenant_name,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            details: r.details,
            request_id: r.request_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditLogPage {
    data: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<AuditId>,
}

/// The longest `actor` filter.
const MAX_ACTOR_LEN: usize = 200;

/// The filters of a query, checked.
fn filter(query: &ListQuery) -> Result<AuditFilter, DomainError> {
    let action = match query.action.as_deref() {
        None => None,
        Some(text) => Some(ActionFilter::parse(text).ok_or_else(|| {
            DomainError::invalid_field(
                "action",
                "action must be an action (tenant.suspended) or a prefix ending in .* (tenant.*)",
            )
        })?),
    };
    let actor = match query.actor.as_deref() {
        None => None,
        Some(actor)
            if actor.trim().is_empty()
                || actor.len() > MAX_ACTOR_LEN
                || actor.chars().any(char::is_control) =>
        {
            return Err(DomainError::invalid_field(
                "actor",
                format!("actor must be an actor id of 1 to {MAX_ACTOR_LEN} characters"),
            ));
        }
        Some(actor) => Some(actor.to_owned()),
    };
    Ok(AuditFilter {
        tenant: query.tenant_id,
        action,
        actor,
    })
}

/// Lists the audit log, newest first; filtered by tenant, action and actor.
#[utoipa::path(
    get,
    path = "/admin/v1/audit-log",
    operation_id = "admin_audit_log",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditLogPage),
        OperatorRefusals,
        QueryRefusals,
        (status = 422, description = "`limit` out of range, or an invalid `action` or `actor`", body = ErrorBody),
    ),
)]
pub async fn list(
    _operator: Operator,
    state: web::Data<Services>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let filter = filter(&query)?;
    let page = Page {
        before: query.cursor,
        limit,
    };
    let rows = audit::list_all(&state.db, &filter, &page).await?;
    let id = |r: &audit::AuditRow| AuditId::from(r.entry.id);
    let (data, next_cursor) = crate::pagination::page(rows, limit, id, AuditEntry::from);
    Ok(HttpResponse::Ok().json(AuditLogPage { data, next_cursor }))
}
