//! Pieces the handlers' OpenAPI annotations share: the `{id}` path parameter of each id kind
//! (it only describes; the handlers read the id as its typed `web::Path`), the `cursor` and
//! `limit` of a list, and the refusals of the operations on one resource, tenant and operator
//! alike. Each is written once here, so every operation documents it in the same words.

use std::{collections::BTreeMap, marker::PhantomData};

use graphhook_domain::platform::ids::{
    ApiKeyId, ConnectionId, DeliveryId, EndpointId, MessageId, ProbeId, SubscriptionId, TenantId,
};
use utoipa::{
    IntoParams, IntoResponses, ToSchema,
    openapi::{
        ContentBuilder, ObjectBuilder, Ref, RefOr, Required, Response, ResponseBuilder, Type,
        path::{Parameter, ParameterBuilder, ParameterIn},
    },
};

use crate::error::{ErrorBody, KeyRefusals, OperatorRefusals};

/// An id kind that operations take as their `{id}`: what their parameter and their 404s call
/// it.
pub trait PathId {
    /// The resource, as a description names it: `endpoint`.
    const NAME: &'static str;
    /// Its ids' prefix: `ep`.
    const PREFIX: &'static str;
}

/// `PathId` for each id kind, from a table of `Id => "name"`.
macro_rules! path_ids {
    ($($id:ident => $name:literal),* $(,)?) => {$(
        impl PathId for $id {
            const NAME: &'static str = $name;
            const PREFIX: &'static str = $id::PREFIX;
        }
    )*};
}

path_ids!(
    TenantId => "tenant",
    ApiKeyId => "key",
    EndpointId => "endpoint",
    SubscriptionId => "subscription",
    ConnectionId => "connection",
    MessageId => "message",
    DeliveryId => "delivery",
    ProbeId => "probe",
);

/// `{id}`: one `Id`, "The endpoint's id (`ep_…`)".
pub struct IdPath<Id>(PhantomData<Id>);

impl<Id: PathId> IntoParams for IdPath<Id> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let id = ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(format!("The {}'s id (`{}_…`)", Id::NAME, Id::PREFIX)))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build();
        vec![id]
    }
}

/// `cursor` and `limit`: the query of a list that has no filter (read as
/// [`crate::pagination::PageQuery`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<u16>,
}

/// What a list may answer for its query (see [`crate::pagination`]).
#[derive(IntoResponses)]
pub enum QueryRefusals {
    #[response(status = 400, description = "Malformed query")]
    Malformed(ErrorBody),
    #[response(
        status = 422,
        description = "A query value out of range (`limit` 1–200)"
    )]
    OutOfRange(ErrorBody),
}

/// A tenant operation on one `Id`: [`KeyRefusals`], or the tenant has no such one.
pub struct TenantRefusals<Id>(PhantomData<Id>);

impl<Id: PathId> IntoResponses for TenantRefusals<Id> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = KeyRefusals::responses();
        let not_found = format!("No such {} for this tenant", Id::NAME);
        responses.insert("404".to_owned(), error_response(&not_found));
        responses
    }
}

/// An operator operation on one `Id`: [`OperatorRefusals`], a malformed id, or no such one.
pub struct OperatorTargetRefusals<Id>(PhantomData<Id>);

impl<Id: PathId> IntoResponses for OperatorTargetRefusals<Id> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = OperatorRefusals::responses();
        responses.insert("400".to_owned(), error_response("Malformed id"));
        let not_found = format!("No such {}", Id::NAME);
        responses.insert("404".to_owned(), error_response(&not_found));
        responses
    }
}

/// A response with an [`ErrorBody`], described as given.
fn error_response(description: &str) -> RefOr<Response> {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses<R: IntoResponses>() -> Vec<String> {
        R::responses().into_keys().collect()
    }

    fn description(response: &RefOr<Response>) -> &str {
        match response {
            RefOr::T(response) => &response.description,
            RefOr::Ref(_) => panic!("an inline response"),
        }
    }

    #[test]
    fn an_id_parameter_names_its_kind_and_prefix() {
        let params = IdPath::<EndpointId>::into_params(|| None);
        assert_eq!(params.len(), 1);
        assert_eq!(params[0].name, "id");
        assert_eq!(
            params[0].description.as_deref(),
            Some("The endpoint's id (`ep_…`)")
        );
    }

    #[test]
    fn refusals_on_one_resource_say_which_is_missing() {
        assert_eq!(
            statuses::<TenantRefusals<ConnectionId>>(),
            ["401", "403", "404"]
        );
        let tenant = TenantRefusals::<ConnectionId>::responses();
        assert_eq!(
            description(&tenant["404"]),
            "No such connection for this tenant"
        );

        assert_eq!(
            statuses::<OperatorTargetRefusals<TenantId>>(),
            ["400", "401", "404"]
        );
        let operator = OperatorTargetRefusals::<TenantId>::responses();
        assert_eq!(description(&operator["404"]), "No such tenant");
    }
}
