//! `/admin/v1/subscriptions`: subscriptions across tenants, and a forced renewal.

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    DomainError,
    operator::admin::{self, SubscriptionFilter},
    platform::entities::subscription::{self, DueAction, SubscriptionStatus},
    platform::ids::{ConnectionId, SubscriptionId, TenantId},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    annotations::{IdPath, OperatorTargetRefusals, QueryRefusals},
    error::{ApiError, ErrorBody, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

/// A subscription as operators see it: its tenant's name and its upkeep state included.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    #[schema(value_type = String, example = "sub_0194c1a27b3c7d4e8f90123456789abc")]
    id: SubscriptionId,
    #[schema(value_type = String, example = "ten_0194c1a27b3c7d4e8f90123456789abc")]
    tenant_id: TenantId,
    /// The tenant's name: in the list across tenants and a renewal's answer (left out where
    /// the tenant is the page's subject, as in a tenant's detail).
    #[schema(example = "Contoso")]
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_name: Option<String>,
    /// The resource kind (`message`, `user`, …).
    kind: String,
    resource: String,
    /// `creating`, `active`, `paused`, `failed` or `deleted`.
    #[schema(value_type = String, example = "active")]
    status: SubscriptionStatus,
    /// When Graph deletes it unless renewed.
    expires_at: Option<DateTime<Utc>>,
    /// When the due action is taken next.
    renews_at: Option<DateTime<Utc>>,
    last_renewed_at: Option<DateTime<Utc>>,
    /// What the next upkeep does: `renew`, `reauthorize`, `recreate` or `resume`.
    #[schema(value_type = String, example = "renew")]
    due_action: DueAction,
    /// Failed attempts at the due action in a row.
    failures: i32,
    last_error: Option<String>,
    /// Graph's id, once Graph created it.
    graph_subscription_id: Option<String>,
    /// The connected user whose delegated token holds it; `null`: app-only.
    #[schema(value_type = Option<String>)]
    connection_id: Option<ConnectionId>,
}

impl From<&subscription::Model> for SubscriptionView {
    fn from(s: &subscription::Model) -> Self {
        Self::new(s, None)
    }
}

impl SubscriptionView {
    fn new(s: &subscription::Model, tenant_name: Option<String>) -> Self {
        Self {
            id: s.id.into(),
            tenant_id: s.tenant_id.into(),
            tenant_name,
            kind: s.kind.clone(),
            resource: s.resource.clone(),
            status: s.status,
            expires_at: s.expires_at,
            renews_at: s.due_at,
            last_renewed_at: s.last_renewed_at,
            due_action: s.due_action,
            failures: s.failures,
            last_error: s.last_error.clone(),
            graph_subscription_id: s.graph_id.clone(),
            connection_id: s.connection_id.map(ConnectionId::from),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    data: Vec<SubscriptionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<SubscriptionId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this tenant's (`ten_…`).
    #[param(value_type = Option<String>)]
    tenant_id: Option<TenantId>,
    /// `creating`, `active`, `paused`, `failed` or `deleted`; without it, all but `deleted`.
    #[param(value_type = Option<String>)]
    status: Option<SubscriptionStatus>,
    /// Only those expiring within this many hours (0 to 8760, a year).
    expiring_within_hours: Option<u32>,
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>)]
    cursor: Option<SubscriptionId>,
    /// 1 to 200, default 50.
    limit: Option<u16>,
}

/// The widest `expiring_within_hours`: a year, far beyond any Graph subscription's lifetime,
/// and small enough that adding it to now stays a valid time.
const MAX_EXPIRING_WITHIN_HOURS: u32 = 24 * 365;

/// Lists subscriptions across tenants, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/subscriptions",
    operation_id = "admin_subscriptions_list",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionList),
        OperatorRefusals,
        QueryRefusals,
        (status = 422, description = "`limit` is not between 1 and 200, or `expiring_within_hours` above 8760", body = ErrorBody),
    ),
)]
pub async fn list(
    _operator: Operator,
    state: web::Data<Services>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::pagination::limit(query.limit)?;
    let within = query
        .expiring_within_hours
        .map(|hours| {
            if hours <= MAX_EXPIRING_WITHIN_HOURS {
                Ok(chrono::Duration::hours(i64::from(hours)))
            } else {
                Err(DomainError::invalid_field(
                    "expiring_within_hours",
                    format!(
                        "expiring_within_hours must be between 0 and {MAX_EXPIRING_WITHIN_HOURS} (a year)"
                    ),
                ))
            }
        })
        .transpose()?;
    let filter = SubscriptionFilter {
        tenant: query.tenant_id,
        status: query.status,
        expiring_before: within.map(|within| state.clock.now() + within),
        after: query.cursor.map(|c| c.uuid()),
    };
    let rows = admin::list_subscriptions(&state.db, &filter, limit).await?;
    let (data, next_cursor) = crate::pagination::page(
        rows,
        limit,
        |r| SubscriptionId::from(r.subscription.id),
        |r| SubscriptionView::new(&r.subscription, r.tenant_name),
    );
    Ok(HttpResponse::Ok().json(SubscriptionList { data, next_cursor }))
}

/// Renews an active subscription now (the next upkeep tick hands it to a worker).
#[utoipa::path(
    post,
    path = "/admin/v1/subscriptions/{id}/renew",
    operation_id = "admin_subscriptions_renew",
    params(IdPath<SubscriptionId>),
    responses(
        (status = 202, description = "The renewal is due now", body = SubscriptionView),
        OperatorTargetRefusals<SubscriptionId>,
        (status = 409, description = "The subscription is not active", body = ErrorBody),
    ),
)]
pub async fn renew(
    operator: Operator,
    state: web::Data<Services>,
    _body: NoBody,
    id: web::Path<SubscriptionId>,
) -> Result<HttpResponse, ApiError> {
    let sub = admin::force_renew(
        &state.db,
        &state.clock,
        id.into_inner(),
        operator.actor(),
        operator.request_id,
    )
    .await?;
    let tenant_name = admin::tenant_names(&state.db, [sub.tenant_id])
        .await?
        .remove(&sub.tenant_id);
    Ok(HttpResponse::Accepted().json(SubscriptionView::new(&sub, tenant_name)))
}
