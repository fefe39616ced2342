//! Delivery history and replay: `/api/v1/messages`, `/api/v1/deliveries`, a delivery's attempts,
//! resending a message, and recovering an endpoint's failed deliveries.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    delivery::engine::history::{self, DeliveryFilter, MessageFilter},
    platform::entities::{attempt, delivery, message},
    platform::ids::{AttemptId, DeliveryId, EndpointId, MessageId},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    annotations::{IdPath, PageParams, QueryRefusals, TenantRefusals},
    bounded::{FilterText, Timestamp},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::TenantAuth,
    pagination::{self, PageQuery},
    state::Services,
};

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    /// Also the `webhook-id` of every request that carries it.
    #[schema(value_type = String, example = "msg_01a2254154d971fa93ff63f9783c66c4")]
    id: MessageId,
    event_type: String,
    /// The body sent (`{"type", "timestamp", "data"}`); `null` once retention removed it.
    #[schema(value_type = Option<Object>)]
    payload: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageView {
    fn from(m: message::Model) -> Self {
        Self {
            id: m.id.into(),
            event_type: m.event_type,
            payload: m.payload.and_then(|p| serde_json::from_slice(&p).ok()),
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageList {
    data: Vec<MessageView>,
    #[schema(value_type = Option<String>)]
    next_cursor: Option<MessageId>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String, example = "dlv_01a2254154d971fa93ff63f9783c66c4")]
    id: DeliveryId,
    #[schema(value_type = String)]
    message_id: MessageId,
    #[schema(value_type = String)]
    endpoint_id: EndpointId,
    /// `pending`, `delivered`, `failed` (will retry) or `exhausted`.
    #[schema(value_type = String, example = "delivered")]
    status: delivery::DeliveryStatus,
    attempt_count: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<delivery::Model> for DeliveryView {
    fn from(d: delivery::Model) -> Self {
        Self {
            id: d.id.into(),
            message_id: d.message_id.into(),
            endpoint_id: d.endpoint_id.into(),
            status: d.status,
            attempt_count: d.attempt_count,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    #[schema(value_type = Option<String>)]
    next_cursor: Option<DeliveryId>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    #[schema(value_type = String, example = "att_01a2254154d971fa93ff63f9783c66c4")]
    id: AttemptId,
    number: i32,
    /// `scheduled`, `manual` (resend) or `recovery`.
    trigger: String,
    status_code: Option<i32>,
    duration_ms: i32,
    /// The first 64 KiB of the response body.
    response_excerpt: Option<String>,
    /// When no response came back: `refused`, `timeout`, `connect`, `tls` or `other`.
    error_class: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<attempt::Model> for AttemptView {
    fn from(a: attempt::Model) -> Self {
        Self {
            id: a.id.into(),
            number: a.number,
            trigger: a.trigger,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            response_excerpt: a.response_excerpt,
            error_class: a.error_class,
            error: a.error,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttemptList {
    data: Vec<AttemptView>,
    #[schema(value_type = Option<String>)]
    next_cursor: Option<AttemptId>,
}

/// Which way a history list runs (`/api/v1/messages`, `/api/v1/deliveries`, `/api/v1/events`).
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListOrder {
    /// Oldest first; `cursor` pages forward.
    #[default]
    Asc,
    /// Newest first; `cursor` pages backward (the next page is older).
    Desc,
}

impl From<ListOrder> for history::Order {
    fn from(order: ListOrder) -> Self {
        match order {
            ListOrder::Asc => history::Order::Asc,
            ListOrder::Desc => history::Order::Desc,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    #[param(value_type = Option<String>)]
    event_type: Option<FilterText>,
    /// Created at or after (RFC 3339, years 1970 to 9999).
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<Timestamp>,
    /// Created before (RFC 3339, years 1970 to 9999).
    #[param(value_type = Option<DateTime<Utc>>)]
    until: Option<Timestamp>,
    /// Messages with a delivery to this endpoint (`ep_…`); with `status`, a delivery to it in
    /// that status.
    #[param(value_type = Option<String>)]
    endpoint_id: Option<EndpointId>,
    /// Messages with at least one delivery in this status: `pending`, `delivered`, `failed` or
    /// `exhausted` (to `endpoint_id`, when given).
    #[param(value_type = Option<String>)]
    status: Option<delivery::DeliveryStatus>,
    /// `asc` (oldest first, the default) or `desc` (newest first; `cursor` then pages back to
    /// older messages).
    #[param(inline)]
    order: Option<ListOrder>,
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>)]
    cursor: Option<MessageId>,
    limit: Option<u16>,
}

/// Lists the tenant's messages, oldest first (newest first with `order=desc`).
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    operation_id = "messages_list",
    params(MessagesQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessageList),
        KeyRefusals,
        QueryRefusals,
        (status = 400, description = "Malformed query, or a time outside the years 1970 to 9999", body = ErrorBody),
    ),
)]
pub async fn list_messages(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = pagination::limit(query.limit)?;
    let filter = MessageFilter {
        event_type: query.event_type.map(FilterText::into_inner),
        since: query.since.map(Timestamp::get),
        until: query.until.map(Timestamp::get),
        endpoint: query.endpoint_id,
        status: query.status,
        order: query.order.unwrap_or_default().into(),
        cursor: query.cursor,
    };
    let rows = history::messages(&state.db, auth.tenant_id(), &filter, limit).await?;
    let (data, next_cursor) =
        pagination::page(rows, limit, |m| MessageId::from(m.id), MessageView::from);
    Ok(HttpResponse::Ok().json(MessageList { data, next_cursor }))
}

/// One message, with its payload.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    operation_id = "messages_show",
    params(("id" = String, Path, description = "The message's id (`msg_…`, its webhook-id)")),
    responses(
        (status = 200, description = "The message", body = MessageView),
        TenantRefusals<MessageId>,
    ),
)]
pub async fn show_message(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<MessageId>,
) -> Result<HttpResponse, ApiError> {
    let message = history::message(&state.db, auth.tenant_id(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(MessageView::from(message)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"endpoint_id": "ep_01a2254154d971fa93ff63f9783c66c4"}))]
pub struct Resend {
    #[schema(value_type = String)]
    endpoint_id: EndpointId,
}

/// Sends a message again to one endpoint, with its original webhook-id (a `manual` attempt).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/resend",
    operation_id = "messages_resend",
    params(IdPath<MessageId>),
    request_body = Resend,
    responses(
        (status = 202, description = "Queued; the attempt appears in the delivery's attempts", body = DeliveryView),
        KeyRefusals,
        (status = 404, description = "No such message or endpoint for this tenant", body = ErrorBody),
        (status = 409, description = "The endpoint is not active, the payload is gone, or an attempt of this delivery is in flight (`attempt_in_flight`)", body = ErrorBody),
    ),
)]
pub async fn resend(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<MessageId>,
    body: web::Json<Resend>,
) -> Result<HttpResponse, ApiError> {
    let delivery =
        history::resend(&state, auth.tenant_id(), id.into_inner(), body.endpoint_id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryView::from(delivery)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    #[param(value_type = Option<String>)]
    endpoint_id: Option<EndpointId>,
    #[param(value_type = Option<String>)]
    message_id: Option<MessageId>,
    /// `pending`, `delivered`, `failed` or `exhausted`.
    #[param(value_type = Option<String>)]
    status: Option<delivery::DeliveryStatus>,
    #[param(value_type = Option<String>)]
    event_type: Option<FilterText>,
    /// Created at or after (RFC 3339, years 1970 to 9999).
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<Timestamp>,
    /// `asc` (oldest first, the default) or `desc` (newest first; `cursor` then pages back to
    /// older deliveries).
    #[param(inline)]
    order: Option<ListOrder>,
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>)]
    cursor: Option<DeliveryId>,
    limit: Option<u16>,
}

/// Lists the tenant's deliveries, oldest first (newest first with `order=desc`).
#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    operation_id = "deliveries_list",
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        KeyRefusals,
        QueryRefusals,
        (status = 400, description = "Malformed query, or a time outside the years 1970 to 9999", body = ErrorBody),
    ),
)]
pub async fn list_deliveries(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = pagination::limit(query.limit)?;
    let filter = DeliveryFilter {
        endpoint: query.endpoint_id,
        message: query.message_id,
        status: query.status,
        event_type: query.event_type.map(FilterText::into_inner),
        since: query.since.map(Timestamp::get),
        order: query.order.unwrap_or_default().into(),
        cursor: query.cursor,
    };
    let rows = history::deliveries(&state.db, auth.tenant_id(), &filter, limit).await?;
    let (data, next_cursor) =
        pagination::page(rows, limit, |d| DeliveryId::from(d.id), DeliveryView::from);
    Ok(HttpResponse::Ok().json(DeliveryList { data, next_cursor }))
}

/// A delivery's attempts, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/deliveries/{id}/attempts",
    operation_id = "deliveries_attempts",
    params(IdPath<DeliveryId>, PageParams),
    responses(
        (status = 200, description = "A page of attempts", body = AttemptList),
        TenantRefusals<DeliveryId>,
        QueryRefusals,
    ),
)]
pub async fn list_attempts(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<DeliveryId>,
    query: web::Query<PageQuery<AttemptId>>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let rows = history::attempts(
        &state.db,
        auth.tenant_id(),
        id.into_inner(),
        query.cursor,
        limit,
    )
    .await?;
    let (data, next_cursor) =
        pagination::page(rows, limit, |a| AttemptId::from(a.id), AttemptView::from);
    Ok(HttpResponse::Ok().json(AttemptList { data, next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-01-05T00:00:00Z"}))]
pub struct Recover {
    /// Deliveries created at or after this time (years 1970 to 9999).
    #[schema(value_type = DateTime<Utc>)]
    since: Timestamp,
}

#[derive(Serialize, ToSchema)]
pub struct Recovered {
    /// How many failed or exhausted deliveries were queued again.
    recovered: usize,
}

/// Delivers again an endpoint's failed and exhausted deliveries since a time (`recovery` attempts).
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{id}/recover",
    operation_id = "endpoints_recover",
    params(IdPath<EndpointId>),
    request_body = Recover,
    responses(
        (status = 202, description = "Queued", body = Recovered),
        TenantRefusals<EndpointId>,
        (status = 409, description = "The endpoint is not active", body = ErrorBody),
        (status = 422, description = "`since` is missing, or not an RFC 3339 time within the years 1970 to 9999", body = ErrorBody),
    ),
)]
pub async fn recover(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<EndpointId>,
    body: web::Json<Recover>,
) -> Result<HttpResponse, ApiError> {
    let recovered =
        history::recover(&state, auth.tenant_id(), id.into_inner(), body.since.get()).await?;
    Ok(HttpResponse::Accepted().json(Recovered { recovered }))
}
