//! `GET /admin/v1/audit-log`: the audit log, newest first, one page at a time.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    audit::{self, Page},
    entities::audit_log,
    ids::{AuditId, TenantId},
};
use serde::{Deserialize, Serialize};

use crate::{error::ApiError, extractors::Operator, state::AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    tenant_id: Option<TenantId>,
    /// The `next_cursor` of the previous page.
    cursor: Option<AuditId>,
    limit: Option<u16>,
}

#[derive(Serialize)]
struct Entry {
    id: AuditId,
    tenant_id: Option<TenantId>,
    actor_kind: audit_log::ActorKind,
    actor_id: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    details: serde_json::Value,
    request_id: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize)]
struct ListResponse {
    data: Vec<Entry>,
    next_cursor: Option<AuditId>,
}

pub async fn list(
    _operator: Operator,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let page = Page {
        before: query.cursor,
        limit,
    };
    let rows = audit::list_all(&state.db, query.tenant_id, &page).await?;
    let next_cursor = crate::pagination::next_cursor(&rows, limit, |r| AuditId::from(r.id));
    let data = rows
        .into_iter()
        .map(|r| Entry {
            id: r.id.into(),
            tenant_id: r.tenant_id.map(Into::into),
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            details: r.details,
            request_id: r.request_id,
            created_at: r.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListResponse { data, next_cursor }))
}
