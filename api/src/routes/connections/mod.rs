//! `/api/v1/connections`: Microsoft users connected to the tenant, whose delegated tokens hold
//! the subscriptions Graph allows only in a signed-in user's name (group conversations,
//! personal OneDrive, `me/…`). Creating one returns the URL its user signs in at; the user
//! comes back to [`callback`].

pub mod callback;

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    platform::entities::connection::{self, Account, ConnectionStatus},
    platform::ids::ConnectionId,
    tenancy::connections::{self, StartRequest, Started, deletion},
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

/// A connected Microsoft user. Tokens are never shown.
#[derive(Serialize, ToSchema)]
pub struct ConnectionView {
    #[schema(value_type = String, example = "conn_01a2254154d971fa93ff63f9783c66c4")]
    id: ConnectionId,
    /// `work` (a work or school account of the tenant's organization) or `personal` (a
    /// personal Microsoft account).
    #[schema(value_type = String, example = "work")]
    account: Account,
    /// `pending` (its user has not signed in yet), `active`, or `reauthorization_required`
    /// (its user must connect again: `POST /api/v1/connections/{id}/reconnect`).
    #[schema(value_type = String, example = "active")]
    status: ConnectionStatus,
    /// The Graph permissions asked for.
    scopes: Vec<String>,
    /// The Graph permissions the user granted.
    granted_scopes: Vec<String>,
    /// The user's Entra object id (`oid`) and tenant (`tid`; personal accounts:
    /// `9188040d-6c67-4c5b-b112-36a304b66dad`).
    user_id: Option<String>,
    user_tenant_id: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    /// Why it needs its user again.
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    connected_at: Option<DateTime<Utc>>,
    /// When the access token was last refreshed.
    refreshed_at: Option<DateTime<Utc>>,
}

impl From<&connection::Model> for ConnectionView {
    fn from(c: &connection::Model) -> Self {
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        Self {
            id: c.id.into(),
            account: c.account,
            status: c.status,
            scopes: words(&c.scopes),
            granted_scopes: words(c.granted_scopes.as_deref().unwrap_or_default()),
            user_id: c.user_object_id.map(|u| u.to_string()),
            user_tenant_id: c.user_tenant_id.map(|t| t.to_string()),
            username: c.username.clone(),
            display_name: c.display_name.clone(),
            last_error: c.last_error.clone(),
            created_at: c.created_at,
            connected_at: c.connected_at,
            refreshed_at: c.refreshed_at,
        }
    }
}

/// A connection and the URL its user signs in at.
#[derive(Serialize, ToSchema)]
pub struct StartedView {
    #[serde(flatten)]
    connection: ConnectionView,
    /// Send the user here (a browser link); it can be used once, until
    /// `authorization_expires_at`.
    #[schema(
        example = "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?response_type=code&client_id=…"
    )]
    authorization_url: String,
    authorization_expires_at: DateTime<Utc>,
}

impl From<Started> for StartedView {
    fn from(started: Started) -> Self {
        Self {
            connection: ConnectionView::from(&started.connection),
            authorization_url: started.authorization_url,
            authorization_expires_at: started.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    data: Vec<ConnectionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<ConnectionId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account": "work", "kinds": ["conversation"], "login_hint": "adele@contoso.onmicrosoft.com"}))]
pub struct CreateConnection {
    /// `work` (default) or `personal`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    account: Option<Account>,
    /// The resource kinds the connection will hold subscriptions to: `conversation`,
    /// `drive_item`, `message`, `event`, `contact` (1 to 5). They decide the Graph permissions
    /// the user is asked for.
    kinds: Vec<String>,
    /// Pre-fills the sign-in with this account (at most 256 characters).
    #[serde(default)]
    login_hint: Option<String>,
}

/// Starts connecting a Microsoft user: a `pending` connection and the URL the user signs in at.
#[utoipa::path(
    post,
    path = "/api/v1/connections",
    operation_id = "connections_create",
    request_body = CreateConnection,
    responses(
        (status = 201, description = "Pending: send the user to `authorization_url`", body = StartedView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        KeyRefusals,
        (status = 409, description = "The tenant holds `api.max_connections_per_tenant` connections already, pending ones included (`details.rule: \"quota\"`, with the `limit`)", body = ErrorBody),
        (status = 422, description = "Unknown kind, a kind this account type cannot hold, too many kinds, a bad login_hint, or personal accounts are not enabled on this deployment", body = ErrorBody),
    ),
)]
pub async fn create(
    auth: TenantAuth,
    state: web::Data<Services>,
    body: web::Json<CreateConnection>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = StartRequest {
        account: body.account.unwrap_or(Account::Work),
        kinds: body.kinds,
        login_hint: body.login_hint,
    };
    let started = connections::start(&state, &auth.tenant, request, auth.actor()).await?;
    Ok(HttpResponse::Created().json(StartedView::from(started)))
}

/// Lists the tenant's connections, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    operation_id = "connections_list",
    params(PageParams),
    responses(
        (status = 200, description = "A page of connections", body = ConnectionList),
        KeyRefusals,
        QueryRefusals,
    ),
)]
pub async fn list(
    auth: TenantAuth,
    state: web::Data<Services>,
    query: web::Query<PageQuery<ConnectionId>>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let rows = connections::list(&state.db, auth.tenant_id(), query.cursor, limit).await?;
    let (data, next_cursor) = crate::pagination::page(
        rows,
        limit,
        |r| ConnectionId::from(r.id),
        |r| ConnectionView::from(&r),
    );
    Ok(HttpResponse::Ok().json(ConnectionList { data, next_cursor }))
}

/// One connection.
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}",
    operation_id = "connections_show",
    params(IdPath<ConnectionId>),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        TenantRefusals<ConnectionId>,
    ),
)]
pub async fn show(Owned(connection): Owned<ConnectionId>) -> HttpResponse {
    HttpResponse::Ok().json(ConnectionView::from(&connection))
}

/// Deletes a connection: its subscriptions are deleted (at Graph too, while the user's token
/// works) and its tokens forgotten.
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}",
    operation_id = "connections_delete",
    params(IdPath<ConnectionId>),
    responses(
        (status = 204, description = "Deleted"),
        TenantRefusals<ConnectionId>,
    ),
)]
pub async fn delete(
    auth: TenantAuth,
    state: web::Data<Services>,
    id: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    deletion::delete(&state, &auth.tenant, id.into_inner(), auth.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new sign-in link for an existing connection: after `reauthorization_required` (its
/// subscriptions resume once the same user signs in), or when the first link expired.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/reconnect",
    operation_id = "connections_reconnect",
    params(IdPath<ConnectionId>),
    responses(
        (status = 200, description = "Send the user to `authorization_url`", body = StartedView),
        TenantRefusals<ConnectionId>,
        (status = 422, description = "Personal accounts are no longer enabled on this deployment", body = ErrorBody),
    ),
)]
pub async fn reconnect(
    auth: TenantAuth,
    state: web::Data<Services>,
    _body: NoBody,
    id: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    let started =
        connections::reconnect(&state, &auth.tenant, id.into_inner(), auth.actor()).await?;
    Ok(HttpResponse::Ok().json(StartedView::from(started)))
}
