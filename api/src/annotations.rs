//! Pieces the handlers' OpenAPI annotations share: the `{id}` path parameter of each id kind
//! several operations take (they only describe; the handlers read the id as its typed
//! `web::Path`), and the refusals of the tenant operations on one resource.

use std::collections::BTreeMap;

use utoipa::{
    IntoParams, IntoResponses, ToSchema,
    openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder},
};

use crate::error::{ErrorBody, KeyRefusals};

/// `{id}`: an endpoint.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The endpoint's id (`ep_…`)
    pub id: String,
}

/// `{id}`: a tenant.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// The tenant's id (`ten_…`)
    pub id: String,
}

/// `{id}`: a subscription.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SubscriptionPath {
    /// The subscription's id (`sub_…`)
    pub id: String,
}

/// `{id}`: a connection.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConnectionPath {
    /// The connection's id (`conn_…`)
    pub id: String,
}

/// A tenant operation on one endpoint: [`KeyRefusals`], or the tenant has no such endpoint.
pub struct EndpointRefusals;

impl IntoResponses for EndpointRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        key_refusals_or_not_found("No such endpoint for this tenant")
    }
}

/// A tenant operation on one subscription: [`KeyRefusals`], or the tenant has no such
/// subscription.
pub struct SubscriptionRefusals;

impl IntoResponses for SubscriptionRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        key_refusals_or_not_found("No such subscription for this tenant")
    }
}

/// A tenant operation on one connection: [`KeyRefusals`], or the tenant has no such connection.
pub struct ConnectionRefusals;

impl IntoResponses for ConnectionRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        key_refusals_or_not_found("No such connection for this tenant")
    }
}

/// [`KeyRefusals`] and a 404 with an [`ErrorBody`], described as given.
fn key_refusals_or_not_found(description: &str) -> BTreeMap<String, RefOr<Response>> {
    let mut responses = KeyRefusals::responses();
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    let not_found = ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build();
    responses.insert("404".to_owned(), not_found.into());
    responses
}
