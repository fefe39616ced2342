//! What a tenant may ask for, checked before anything is written or Graph is called. Graph
//! accepts some requests our row cannot hold (a 100,000-character path passes Graph and fails
//! the column's check), so a request is refused here, whole, with the field named and without
//! echoing a megabyte of input back; nothing is created anywhere.

use super::{CreateError, CreateRequest};
use crate::{
    graph::resources::{self, KindSpec, Resource},
    platform::ids::{ConnectionId, EndpointId},
};

/// The longest `resource` accepted: what the `subscriptions.resource` column holds.
pub const MAX_RESOURCE_CHARS: usize = 1_000;
/// Graph knows three change types: created, updated, deleted.
pub const MAX_CHANGE_TYPES: usize = 3;
/// One subscription delivers to at most this many named endpoints.
pub const MAX_ENDPOINT_IDS: usize = 100;
/// The longest change type worth naming in an error (`created` is 7).
const MAX_CHANGE_TYPE_CHARS: usize = 32;

/// A create request within its bounds, its resource and change types checked against the kind.
#[derive(Debug)]
pub(super) struct Checked {
    pub resource: Resource,
    pub spec: &'static KindSpec,
    /// Graph's `changeType`, normalized (`created,updated`).
    pub change_type: String,
    /// The lifetime Graph allows this kind, with resource data or without.
    pub max_minutes: i64,
    pub rich: bool,
    /// Each endpoint once, in the order given.
    pub endpoint_ids: Option<Vec<EndpointId>>,
    pub connection_id: Option<ConnectionId>,
}

fn invalid(field: &'static str, rule: &'static str, message: String) -> CreateError {
    CreateError::Invalid {
        field,
        rule,
        message,
    }
}

pub(super) fn check(request: CreateRequest) -> Result<Checked, CreateError> {
    let chars = request.resource.chars().count();
    if chars > MAX_RESOURCE_CHARS {
        return Err(invalid(
            "resource",
            "too_long",
            format!(
                "resource is {chars} characters long; at most {MAX_RESOURCE_CHARS} are accepted"
            ),
        ));
    }
    if request.resource.chars().any(char::is_control) {
        return Err(invalid(
            "resource",
            "control_characters",
            "resource must not contain control characters (line breaks, tabs, …)".to_owned(),
        ));
    }
    let count = request.change_types.len();
    if count > MAX_CHANGE_TYPES {
        return Err(invalid(
            "change_types",
            "too_many",
            format!(
                "change_types lists {count} values; at most {MAX_CHANGE_TYPES} (created, updated, deleted)"
            ),
        ));
    }
    if let Some(long) = request
        .change_types
        .iter()
        .map(|c| c.chars().count())
        .find(|n| *n > MAX_CHANGE_TYPE_CHARS)
    {
        return Err(invalid(
            "change_types",
            "too_long",
            format!(
                "change_types holds a value {long} characters long; the values are created, updated and deleted"
            ),
        ));
    }
    let endpoint_ids = match request.endpoint_ids {
        Some(ids) if ids.len() > MAX_ENDPOINT_IDS => {
            return Err(invalid(
                "endpoint_ids",
                "too_many",
                format!(
                    "endpoint_ids lists {} endpoints; at most {MAX_ENDPOINT_IDS}",
                    ids.len()
                ),
            ));
        }
        Some(ids) => {
            let mut unique: Vec<EndpointId> = Vec::with_capacity(ids.len());
            for id in ids {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            Some(unique)
        }
        None => None,
    };

    let resource = resources::parse(&request.resource)?;
    let spec = resources::spec(resource.kind);
    let change_type = resources::change_types(resource.kind, &request.change_types)?;
    let max_minutes = match (request.include_resource_data, spec.max_minutes_rich) {
        (false, _) => spec.max_minutes,
        (true, Some(minutes)) => minutes,
        (true, None) => return Err(CreateError::RichNotAvailable(spec.name)),
    };
    Ok(Checked {
        resource,
        spec,
        change_type,
        max_minutes,
        rich: request.include_resource_data,
        endpoint_ids,
        connection_id: request.connection_id,
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    fn request(resource: &str, change_types: &[&str]) -> CreateRequest {
        CreateRequest {
            resource: resource.to_owned(),
            change_types: change_types.iter().map(|c| (*c).to_owned()).collect(),
            include_resource_data: false,
            endpoint_ids: None,
            connection_id: None,
        }
    }

    fn message(result: Result<Checked, CreateError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_resource_as_long_as_the_column_holds_passes_and_one_more_character_does_not() {
        let path = |n: usize| format!("users/{}/messages", "a".repeat(n - 15));
        assert_eq!(path(MAX_RESOURCE_CHARS).len(), MAX_RESOURCE_CHARS);
        assert!(check(request(&path(MAX_RESOURCE_CHARS), &["created"])).is_ok());
        let refused = message(check(request(&path(MAX_RESOURCE_CHARS + 1), &["created"])));
        assert!(
            refused.starts_with("resource is 1001 characters"),
            "{refused}"
        );
    }

    #[test]
    fn change_types_past_their_bounds_are_refused_without_being_echoed() {
        let refused = message(check(request("users", &["updated"; 4])));
        assert!(refused.contains("change_types lists 4 values"), "{refused}");
        let long = "x".repeat(10_000);
        let refused = message(check(request("users", &[long.as_str()])));
        assert!(refused.len() < 200, "{refused}");
    }

    #[test]
    fn endpoint_ids_are_bounded_and_each_kept_once() {
        let one = EndpointId::new();
        let other = EndpointId::new();
        let mut asked = request("users", &["updated"]);
        asked.endpoint_ids = Some(vec![one, other, one]);
        assert_eq!(check(asked).unwrap().endpoint_ids, Some(vec![one, other]));
        let mut asked = request("users", &["updated"]);
        asked.endpoint_ids = Some(vec![one; MAX_ENDPOINT_IDS + 1]);
        assert!(message(check(asked)).contains("endpoint_ids lists 101"));
    }
}
