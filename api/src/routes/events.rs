//! `/api/v1/events`: the operational events recorded for the tenant (endpoint changes and
//! health, delivery trouble), readable here even when no endpoint listens for them.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    delivery::events::{self, EventFilter},
    platform::entities::operational_event,
    platform::ids::{EndpointId, EventId},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::messages::ListOrder;
use crate::{
    annotations::QueryRefusals,
    bounded::{FilterText, Timestamp},
    error::{ApiError, ErrorBody, KeyRefusals},
    extractors::TenantAuth,
    pagination,
    state::Services,
};

#[derive(Serialize, ToSchema)]
pub struct EventView {
    #[schema(value_type = String, example = "evt_01a2254154d971fa93ff63f9783c66c4")]
    id: EventId,
    #[schema(example = "endpoint.disabled")]
    event_type: String,
    /// The endpoint it is about, if any.
    #[schema(value_type = Option<String>)]
    endpoint_id: Option<EndpointId>,
    /// What the endpoints receive: `{"type", "timestamp", "data"}`.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
    /// When it became a message for the tenant's endpoints; `null` until then.
    published_at: Option<DateTime<Utc>>,
}

impl From<operational_event::Model> for EventView {
    fn from(e: operational_event::Model) -> Self {
        Self {
            id: e.id.into(),
            event_type: e.event_type,
            endpoint_id: e.endpoint_id.map(EndpointId::from),
            payload: e.payload,
            created_at: e.created_at,
            published_at: e.delivered_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    data: Vec<EventView>,
    #[schema(value_type = Option<String>)]
    next_cursor: Option<EventId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    #[param(value_type = Option<String>)]
    event_type: Option<FilterText>,
    #[param(value_type = Option<String>)]
    endpoint_id: Option<EndpointId>,
    /// Recorded at or after (RFC 3339, years 1970 to 9999).
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<Timestamp>,
    /// `asc` (oldest first, the default) or `desc` (newest first; `cursor` then pages back to
    /// older events).
    #[param(inline)]
    order: Option<ListOrder>,
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>)]
    cursor: Option<EventId>,
    limit: Option<u16>,
}

/// Lists the tenant's operational events, oldest first (newest first with `order=desc`).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "events_list",
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventList),
        KeyRefusals,
        QueryRefusals,
        (status = 400, description = "Malformed query, or a time outside the years 1970 to 9999", body = ErrorBody),
    ),
)]
pub async fn list(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = pagination::limit(query.limit)?;
    let filter = EventFilter {
        event_type: query.event_type.map(FilterText::into_inner),
        endpoint: query.endpoint_id,
        since: query.since.map(Timestamp::get),
        order: query.order.unwrap_or_default().into(),
        cursor: query.cursor,
    };
    let rows = events::list(&state.db, auth.tenant_id(), &filter, limit).await?;
    let (data, next_cursor) =
        pagination::page(rows, limit, |e| EventId::from(e.id), EventView::from);
    Ok(HttpResponse::Ok().json(EventList { data, next_cursor }))
}
