//! `/api/v1/subscriptions`: the Graph subscriptions Graphhook holds for the tenant.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    graph::subscriptions::{self, CreateRequest},
    platform::entities::{
        subscription::{self, DueAction, SubscriptionStatus},
        subscription_action,
    },
    platform::ids::{ConnectionId, EndpointId, SubscriptionId},
};
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;

use crate::{
    annotations::{IdPath, PageParams, QueryRefusals, TenantRefusals},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::{Owned, TenantAuth},
    pagination::PageQuery,
    state::Services,
};

/// A Graph subscription held for the tenant.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    #[schema(value_type = String, example = "sub_01a2254154d971fa93ff63f9783c66c4")]
    id: SubscriptionId,
    /// What the tenant asked for.
    resource: String,
    /// What Graph was given, when it differs from `resource` (a SharePoint site's drive is
    /// subscribed to as `drives/{id}/root`).
    graph_resource: Option<String>,
    /// The connection whose user's delegated token holds it; `null`: app-only.
    #[schema(value_type = Option<String>)]
    connection_id: Option<ConnectionId>,
    kind: String,
    change_types: Vec<String>,
    include_resource_data: bool,
    /// `null`: every endpoint whose filter matches.
    #[schema(value_type = Option<Vec<String>>)]
    endpoint_ids: Option<Vec<EndpointId>>,
    /// `creating`, `active`, `paused`, `failed` or `deleted`.
    #[schema(value_type = String, example = "active")]
    status: SubscriptionStatus,
    /// When Graph will delete it unless renewed (Graphhook renews it well before).
    expires_at: Option<DateTime<Utc>>,
    /// When Graphhook renews it next.
    renews_at: Option<DateTime<Utc>>,
    last_renewed_at: Option<DateTime<Utc>>,
    /// An action due besides the scheduled renewal (`reauthorize`, `recreate`, `resume`), if any.
    #[schema(example = json!(null))]
    pending_action: Option<String>,
    /// Why it is `failed` or `paused`, or what the last renewal attempt ran into.
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<&subscription::Model> for SubscriptionView {
    fn from(s: &subscription::Model) -> Self {
        Self {
            id: s.id.into(),
            resource: s
                .requested_resource
                .clone()
                .unwrap_or_else(|| s.resource.clone()),
            graph_resource: s.requested_resource.as_ref().map(|_| s.resource.clone()),
            connection_id: s.connection_id.map(ConnectionId::from),
            kind: s.kind.clone(),
            change_types: s.change_types.split(',').map(str::to_owned).collect(),
            include_resource_data: s.include_resource_data,
            endpoint_ids: s
                .endpoint_ids
                .clone()
                .and_then(|v| serde_json::from_value(v).ok()),
            status: s.status,
            expires_at: s.expires_at,
            renews_at: match (s.status, s.due_action) {
                (SubscriptionStatus::Active, DueAction::Renew) => s.due_at,
                (SubscriptionStatus::Active, _) => s.renew_at,
                _ => None,
            },
            last_renewed_at: s.last_renewed_at,
            pending_action: (s.status == SubscriptionStatus::Active
                && s.due_action != DueAction::Renew)
                .then(|| s.due_action.as_str().to_owned()),
            last_error: s.last_error.clone(),
            created_at: s.created_at,
        }
    }
}

/// Field names are snake_case like the rest of the api; Graph's camelCase names are accepted too.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    data: Vec<SubscriptionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<SubscriptionId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resource": "users/8ee44408-0679-472c-bc2a-692812af3437/mailFolders('inbox')/messages", "change_types": ["created", "updated"]}))]
pub struct CreateSubscription {
    resource: String,
    #[serde(alias = "changeTypes")]
    change_types: Vec<String>,
    #[serde(default, alias = "includeResourceData")]
    include_resource_data: bool,
    #[serde(default, alias = "endpointIds")]
    #[schema(value_type = Option<Vec<String>>)]
    endpoint_ids: Option<Vec<EndpointId>>,
    /// A connected user whose delegated token holds the subscription (required for group
    /// conversations, personal OneDrive folders and `me/…` resources); omitted: app-only.
    #[serde(default, alias = "connectionId")]
    #[schema(value_type = Option<String>, example = "conn_01a2254154d971fa93ff63f9783c66c4")]
    connection_id: Option<ConnectionId>,
}

/// Creates a Microsoft Graph subscription in the tenant's name.
#[utoipa::path(
    post,
    path = "/api/v1/subscriptions",
    operation_id = "subscriptions_create",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "Created at Graph and active", body = SubscriptionView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = ErrorBody),
        (status = 403, description = "The tenant is not active, or has not granted the permission the resource needs", body = ErrorBody),
        (status = 409, description = "Graph's or Graphhook's quota is reached (the limit is named); or Graph already holds a subscription for this resource and change types (one per combination): `details.existing_subscription_id` names the tenant's subscription that holds it (`null` when it is not one of the tenant's), and one subscription can deliver to several endpoints (`endpoint_ids`); or it was deleted while Graph created it", body = ErrorBody,
            example = json!({"code": "conflict", "message": "this tenant already has subscription sub_01a2254154d971fa93ff63f9783c66c4 for this resource and change types, …", "request_id": "req_01a2254154d87379bb35cb2584dfe561", "details": {"existing_subscription_id": "sub_01a2254154d971fa93ff63f9783c66c4", "graph_subscription_id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"}})),
        (status = 422, description = "Unknown or delegated-only resource, wrong change type, unknown endpoint, or an input past its bounds (`resource` over 1,000 characters or with control characters, more than 3 `change_types`, more than 100 `endpoint_ids`)", body = ErrorBody),
        (status = 502, description = "Graph refused; or Graph could not validate Graphhook's receiver, whose URL (built from the deployment's `api.public_base_url`) the message names", body = ErrorBody),
        (status = 503, description = "Graph is throttling (see Retry-After), or the database is unavailable", body = ErrorBody),
    ),
)]
pub async fn create(
    auth: TenantAuth,
    state: web::Data<Services>,
    body: web::Json<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = CreateRequest {
        resource: body.resource,
        change_types: body.change_types,
        include_resource_data: body.include_resource_data,
        endpoint_ids: body.endpoint_ids,
        connection_id: body.connection_id,
    };
    let created = subscriptions::create(&state, &auth.tenant, request, auth.actor()).await?;
    Ok(HttpResponse::Created().json(SubscriptionView::from(&created)))
}

/// Lists the tenant's subscriptions, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions",
    operation_id = "subscriptions_list",
    params(PageParams),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionList),
        KeyRefusals,
        QueryRefusals,
    ),
)]
pub async fn list(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<PageQuery<SubscriptionId>>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let rows = subscriptions::list(&state.db, auth.tenant_id(), query.cursor, limit).await?;
    let (data, next_cursor) = crate::pagination::page(
        rows,
        limit,
        |r| SubscriptionId::from(r.id),
        |r| SubscriptionView::from(&r),
    );
    Ok(HttpResponse::Ok().json(SubscriptionList { data, next_cursor }))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions/{id}",
    operation_id = "subscriptions_show",
    params(IdPath<SubscriptionId>),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionView),
        TenantRefusals<SubscriptionId>,
    ),
)]
pub async fn show(Owned(subscription): Owned<SubscriptionId>) -> HttpResponse {
    HttpResponse::Ok().json(SubscriptionView::from(&subscription))
}

/// Deletes a subscription, at Graph too.
#[utoipa::path(
    delete,
    path = "/api/v1/subscriptions/{id}",
    operation_id = "subscriptions_delete",
    params(IdPath<SubscriptionId>),
    responses(
        (status = 204, description = "Deleted"),
        TenantRefusals<SubscriptionId>,
        (status = 502, description = "Graph refused", body = ErrorBody),
        (status = 503, description = "Graph is throttling; see Retry-After", body = ErrorBody),
    ),
)]
pub async fn delete(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<SubscriptionId>,
) -> Result<HttpResponse, ApiError> {
    subscriptions::delete(&state, &auth.tenant, id.into_inner(), auth.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One lifecycle action on a subscription.
#[derive(Serialize, ToSchema)]
pub struct ActionView {
    #[schema(value_type = String)]
    id: uuid::Uuid,
    /// `renew`, `reauthorize`, `recreate`, `resume`, `pause`.
    #[schema(example = "renew")]
    action: String,
    /// What asked for it: `schedule`, `lifecycle:reauthorizationRequired`,
    /// `lifecycle:subscriptionRemoved`, `not_found`, `consent_revoked`, `consent_restored`,
    /// `request`, `retry`, `graph_refused`.
    #[schema(example = "schedule")]
    trigger: String,
    /// `requested`, `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    outcome: String,
    /// Graph's subscription id after the action.
    graph_subscription_id: Option<String>,
    detail: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<&subscription_action::Model> for ActionView {
    fn from(a: &subscription_action::Model) -> Self {
        Self {
            id: a.id,
            action: a.action.clone(),
            trigger: a.trigger.clone(),
            outcome: a.outcome.clone(),
            graph_subscription_id: a.graph_id.clone(),
            detail: a.detail.clone(),
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActionList {
    data: Vec<ActionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<uuid::Uuid>,
}

/// The subscription's lifecycle history (renewals, reauthorizations, recreations, pauses),
/// oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/subscriptions/{id}/actions",
    operation_id = "subscriptions_actions",
    params(IdPath<SubscriptionId>, PageParams),
    responses(
        (status = 200, description = "A page of the history", body = ActionList),
        TenantRefusals<SubscriptionId>,
        QueryRefusals,
    ),
)]
pub async fn actions(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<SubscriptionId>,
    query: web::Query<PageQuery<uuid::Uuid>>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let id = id.into_inner();
    subscriptions::find(&state.db, auth.tenant_id(), id).await?;
    let rows = subscriptions::upkeep::history(&state.db, auth.tenant_id(), id, query.cursor, limit)
        .await?;
    let (data, next_cursor) =
        crate::pagination::page(rows, limit, |r| r.id, |r| ActionView::from(&r));
    Ok(HttpResponse::Ok().json(ActionList { data, next_cursor }))
}
