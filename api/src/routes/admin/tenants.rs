//! `/admin/v1/tenants` and `/admin/v1/subscriptions`: find tenants and see their state,
//! suspend, resume and offboard them; subscriptions across tenants, and a forced renewal.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    admin::{self, SubscriptionFilter, TenantFilter},
    audit::Actor,
    endpoints,
    entities::{subscription::SubscriptionStatus, tenant, tenant::TenantStatus},
    ids::{ApiKeyId, EndpointId, SubscriptionId, TenantId},
    subscriptions, tenants,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{error::ApiError, extractors::Operator, state::AppState};

/// A tenant as operators see it.
#[derive(Serialize)]
pub struct TenantView {
    id: TenantId,
    entra_tenant_id: uuid::Uuid,
    name: String,
    status: TenantStatus,
    status_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    offboarded_at: Option<DateTime<Utc>>,
}

impl From<&tenant::Model> for TenantView {
    fn from(t: &tenant::Model) -> Self {
        Self {
            id: t.id.into(),
            entra_tenant_id: t.entra_tenant_id,
            name: t.name.clone(),
            status: t.status,
            status_reason: t.status_reason.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            offboarded_at: t.offboarded_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Part of the name, or the exact Entra tenant id.
    search: Option<String>,
    status: Option<TenantStatus>,
    cursor: Option<TenantId>,
    limit: Option<u16>,
}

pub async fn list(
    _operator: Operator,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let filter = TenantFilter {
        search: query.search.clone(),
        status: query.status,
        after: query.cursor.map(|c| c.uuid()),
    };
    let rows = admin::list_tenants(&state.db, &filter, limit).await?;
    let next_cursor = crate::pagination::next_cursor(&rows, limit, |r| TenantId::from(r.tenant.id));
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut view = json!(TenantView::from(&r.tenant));
            view["subscriptions"] = json!(r.subscriptions);
            view["endpoints"] = json!(r.endpoints);
            view
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_cursor": next_cursor})))
}

async fn find(state: &AppState, id: TenantId) -> Result<tenant::Model, ApiError> {
    tenants::find(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

pub async fn show(
    _operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let tenant = find(&state, id).await?;
    let consent = tenants::current_consent(&state.db, id).await?;
    let keys = admin::api_keys(&state.db, id).await?;
    let endpoint_rows = endpoints::list(&state.db, id, None, 200).await?;
    let subscription_rows = subscriptions::list(&state.db, id, None, 200).await?;
    let health = admin::delivery_health(&state.db, id, state.clock.now()).await?;
    let body = json!({
        "tenant": TenantView::from(&tenant),
        "consent": consent.as_ref().map(|c| json!({
            "roles": tenants::granted_roles(c),
            "granted_at": c.granted_at,
        })),
        "api_keys": keys.iter().map(|k| json!({
            "id": ApiKeyId::from(k.id),
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "expires_at": k.expires_at,
            "revoked_at": k.revoked_at,
        })).collect::<Vec<_>>(),
        "endpoints": endpoint_rows.iter().map(|e| json!({
            "id": EndpointId::from(e.id),
            "url": e.url,
            "status": e.status,
            "disabled_reason": e.disabled_reason,
            "failing_since": e.failing_since,
        })).collect::<Vec<_>>(),
        "subscriptions": subscription_rows.iter().map(subscription_view).collect::<Vec<_>>(),
        "delivery_health": health,
    });
    Ok(HttpResponse::Ok().json(body))
}

fn subscription_view(s: &graphhook_domain::entities::subscription::Model) -> Value {
    json!({
        "id": SubscriptionId::from(s.id),
        "tenant_id": TenantId::from(s.tenant_id),
        "kind": s.kind,
        "resource": s.resource,
        "status": s.status,
        "expires_at": s.expires_at,
        "renews_at": s.due_at,
        "last_renewed_at": s.last_renewed_at,
        "due_action": s.due_action,
        "failures": s.failures,
        "last_error": s.last_error,
        "graph_subscription_id": s.graph_id,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Why; shown to the tenant in its 403s and recorded in the audit log.
    reason: String,
}

pub async fn suspend(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<Suspend>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(ApiError::validation("reason must be 1 to 500 characters"));
    }
    let tenant = admin::suspend(
        &state.db,
        &state.clock,
        id.into_inner(),
        Actor::operator(&operator.name),
        reason,
        operator.request_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

pub async fn resume(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, ApiError> {
    let tenant = admin::resume(
        &state.db,
        &state.clock,
        id.into_inner(),
        Actor::operator(&operator.name),
        operator.request_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offboard {
    /// The tenant's name, exactly, to confirm.
    confirm: String,
}

/// Checks the confirmation and offboards; shared with the tenant's own `DELETE /api/v1/tenant`.
pub(crate) async fn offboard_confirmed(
    state: &AppState,
    tenant: &tenant::Model,
    confirm: &str,
    actor: Actor,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    if confirm != tenant.name {
        return Err(ApiError::validation(
            "to offboard, confirm with the tenant's name exactly as shown",
        ));
    }
    let retention =
        chrono::Duration::days(i64::from(state.settings.admin.offboarded_retention_days));
    let report = admin::offboard(
        &state.subscription_deps(),
        tenant.id.into(),
        actor,
        retention,
        request_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

pub async fn offboard(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<TenantId>,
    body: web::Json<Offboard>,
) -> Result<HttpResponse, ApiError> {
    let tenant = find(&state, id.into_inner()).await?;
    offboard_confirmed(
        &state,
        &tenant,
        &body.confirm,
        Actor::operator(&operator.name),
        operator.request_id,
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionQuery {
    tenant_id: Option<TenantId>,
    status: Option<SubscriptionStatus>,
    /// Only those expiring within this many hours.
    expiring_within_hours: Option<u32>,
    cursor: Option<SubscriptionId>,
    limit: Option<u16>,
}

pub async fn subscriptions(
    _operator: Operator,
    state: web::Data<AppState>,
    query: web::Query<SubscriptionQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let filter = SubscriptionFilter {
        tenant: query.tenant_id,
        status: query.status,
        expiring_before: query
            .expiring_within_hours
            .map(|h| state.clock.now() + chrono::Duration::hours(i64::from(h))),
        after: query.cursor.map(|c| c.uuid()),
    };
    let rows = admin::list_subscriptions(&state.db, &filter, limit).await?;
    let next_cursor = crate::pagination::next_cursor(&rows, limit, |r| SubscriptionId::from(r.id));
    let data: Vec<Value> = rows.iter().map(subscription_view).collect();
    Ok(HttpResponse::Ok().json(json!({"data": data, "next_cursor": next_cursor})))
}

pub async fn renew(
    operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<SubscriptionId>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin::force_renew(
        &state.db,
        &state.clock,
        id.into_inner(),
        Actor::operator(&operator.name),
        operator.request_id,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(subscription_view(&sub)))
}
