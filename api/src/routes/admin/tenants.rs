//! `/admin/v1/tenants`: find tenants; suspend, resume and offboard them. One tenant in detail
//! is `tenant_detail`'s.

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    DomainError,
    operator::admin::{self, Offboarded, TenantFilter},
    operator::audit::Actor,
    platform::entities::tenant::{self, TenantStatus},
    platform::ids::TenantId,
    tenancy::tenants,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    annotations::{IdPath, OperatorTargetRefusals, QueryRefusals},
    bounded::FilterText,
    error::{ApiError, ErrorBody, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

/// A tenant as operators see it.
#[derive(Serialize, ToSchema)]
pub struct TenantView {
    #[schema(value_type = String, example = "ten_0194c1a27b3c7d4e8f90123456789abc")]
    id: TenantId,
    #[schema(value_type = String, example = "c0a7e5d2-3b1f-4e6a-9d8c-7f2b1a0e9c34")]
    entra_tenant_id: uuid::Uuid,
    name: String,
    /// `pending`, `active`, `consent_revoked`, `suspended` or `offboarded`.
    #[schema(value_type = String, example = "active")]
    status: TenantStatus,
    /// Why it is not `active` (a suspension's reason, for one).
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

/// A tenant in the list, with its counts.
#[derive(Serialize, ToSchema)]
pub struct TenantSummaryView {
    #[serde(flatten)]
    tenant: TenantView,
    /// Its subscriptions, `deleted` ones aside.
    subscriptions: u64,
    endpoints: u64,
}

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    data: Vec<TenantSummaryView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Part of the name (any case), or the exact Entra tenant id.
    #[param(value_type = Option<String>)]
    search: Option<FilterText>,
    /// `pending`, `active`, `consent_revoked`, `suspended` or `offboarded`.
    #[param(value_type = Option<String>)]
    status: Option<TenantStatus>,
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>)]
    cursor: Option<TenantId>,
    /// 1 to 200, default 50.
    limit: Option<u16>,
}

/// Finds tenants by name, Entra tenant id or status.
#[utoipa::path(
    get,
    path = "/admin/v1/tenants",
    operation_id = "admin_tenants_list",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of tenants, each with its counts of subscriptions and endpoints", body = TenantList),
        OperatorRefusals,
        QueryRefusals,
    ),
)]
pub async fn list(
    _operator: Operator,
    state: web::Data<Services>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let filter = TenantFilter {
        search: query.search.clone().map(FilterText::into_inner),
        status: query.status,
        after: query.cursor.map(|c| c.uuid()),
    };
    let rows = admin::list_tenants(&state.db, &filter, limit).await?;
    let id = |r: &admin::TenantSummary| TenantId::from(r.tenant.id);
    let (data, next_cursor) = crate::pagination::page(rows, limit, id, |r| TenantSummaryView {
        tenant: TenantView::from(&r.tenant),
        subscriptions: r.subscriptions,
        endpoints: r.endpoints,
    });
    Ok(HttpResponse::Ok().json(TenantList { data, next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Unpaid invoices since March"}))]
pub struct Suspend {
    /// Why (1 to 500 characters, on one line); shown to the tenant in its 403s and recorded in
    /// the audit log.
    reason: String,
}

/// Suspends a tenant: its api calls get 403 and its deliveries wait.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{id}/suspend",
    operation_id = "admin_tenants_suspend",
    params(IdPath<TenantId>),
    request_body = Suspend,
    responses(
        (status = 200, description = "Suspended", body = TenantView),
        OperatorTargetRefusals<TenantId>,
        (status = 400, description = "Malformed id or JSON", body = ErrorBody),
        (status = 409, description = "The tenant is already suspended, or offboarded", body = ErrorBody),
        (status = 422, description = "The reason is empty, longer than 500 characters or not on one line", body = ErrorBody),
    ),
)]
pub async fn suspend(
    operator: Operator,
    state: web::Data<Services>,
    id: web::Path<TenantId>,
    body: web::Json<Suspend>,
) -> Result<HttpResponse, ApiError> {
    let tenant = admin::suspend(
        &state.db,
        &state.clock,
        id.into_inner(),
        operator.actor(),
        &body.reason,
        operator.request_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

/// Resumes a suspended tenant; its held deliveries are due at once.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{id}/resume",
    operation_id = "admin_tenants_resume",
    params(IdPath<TenantId>),
    responses(
        (status = 200, description = "`active` again, or `consent_revoked` when no consent is in force", body = TenantView),
        OperatorTargetRefusals<TenantId>,
        (status = 409, description = "The tenant is not suspended", body = ErrorBody),
    ),
)]
pub async fn resume(
    operator: Operator,
    state: web::Data<Services>,
    _body: NoBody,
    id: web::Path<TenantId>,
) -> Result<HttpResponse, ApiError> {
    let tenant = admin::resume(
        &state.db,
        &state.clock,
        id.into_inner(),
        operator.actor(),
        operator.request_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TenantView::from(&tenant)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"confirm": "Contoso"}))]
pub struct Offboard {
    /// The tenant's name, exactly, to confirm.
    confirm: String,
}

/// What an offboarding did.
#[derive(Serialize, ToSchema)]
pub struct OffboardedView {
    deleted_subscriptions: usize,
    /// Subscriptions Graph could not be asked to delete (they expire there by themselves).
    subscriptions_left_at_graph: usize,
    revoked_keys: u64,
    /// Connected users whose connections ended (their tokens forgotten).
    deleted_connections: u64,
    /// When the tenant's data is removed.
    data_removed_after: Option<DateTime<Utc>>,
}

impl From<Offboarded> for OffboardedView {
    fn from(o: Offboarded) -> Self {
        Self {
            deleted_subscriptions: o.deleted_subscriptions,
            subscriptions_left_at_graph: o.subscriptions_left_at_graph,
            revoked_keys: o.revoked_keys,
            deleted_connections: o.deleted_connections,
            data_removed_after: o.data_removed_after,
        }
    }
}

pub(super) async fn find(state: &Services, id: TenantId) -> Result<tenant::Model, DomainError> {
    tenants::find(&state.db, id)
        .await?
        .ok_or_else(|| DomainError::NotFound("tenant"))
}

/// Checks the confirmation and offboards; shared with the tenant's own `DELETE /api/v1/tenant`.
pub(crate) async fn offboard_confirmed(
    state: &Services,
    tenant: &tenant::Model,
    confirm: &str,
    actor: Actor,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    if confirm != tenant.name {
        return Err(DomainError::invalid_field(
            "confirm",
            "to offboard, confirm with the tenant's name exactly as shown",
        )
        .into());
    }
    let retention =
        chrono::Duration::days(i64::from(state.settings.admin.offboarded_retention_days));
    let report = admin::offboard(state, tenant.id.into(), actor, retention, request_id).await?;
    Ok(HttpResponse::Ok().json(OffboardedView::from(report)))
}

/// Offboards a tenant: its Graph subscriptions deleted, its keys revoked, its data removed
/// after the retention window.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{id}/offboard",
    operation_id = "admin_tenants_offboard",
    params(IdPath<TenantId>),
    request_body = Offboard,
    responses(
        (status = 200, description = "Offboarded: what was done, and when the data goes", body = OffboardedView),
        OperatorTargetRefusals<TenantId>,
        (status = 400, description = "Malformed id or JSON", body = ErrorBody),
        (status = 409, description = "The tenant is already offboarded", body = ErrorBody),
        (status = 422, description = "The confirmation does not match the tenant's name", body = ErrorBody),
    ),
)]
pub async fn offboard(
    operator: Operator,
    state: web::Data<Services>,
    id: web::Path<TenantId>,
    body: web::Json<Offboard>,
) -> Result<HttpResponse, ApiError> {
    let tenant = find(&state, id.into_inner()).await?;
    offboard_confirmed(
        &state,
        &tenant,
        &body.confirm,
        operator.actor(),
        operator.request_id,
    )
    .await
}
