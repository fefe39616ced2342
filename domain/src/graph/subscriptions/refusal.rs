//! What kind of refusal each way a subscription's creation can fail is: bad input, a state
//! that conflicts, a permission not granted, Graph throttling or failing. The api renders the
//! resulting [`DomainError`] like any other.

use std::time::Duration;

use super::CreateError;
use crate::{
    DomainError,
    graph::resources::ResourceError,
    platform::quota::{self, Quota},
    tenancy::tenants::AccessError,
};

/// How long to wait when Graph throttles without saying for how long.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

impl From<CreateError> for DomainError {
    fn from(error: CreateError) -> Self {
        let message = error.to_string();
        match error {
            CreateError::Resource(_)
            | CreateError::Invalid { .. }
            | CreateError::RichNotAvailable(_)
            | CreateError::UnknownEndpoint(_)
            | CreateError::UnknownConnection(_)
            | CreateError::NotThroughConnection { .. } => match input_rule(&error) {
                Some((field, rule)) => DomainError::invalid_rule(field, rule, message),
                None => DomainError::invalid(message),
            },
            CreateError::Duplicate { existing, graph_id } => DomainError::conflict_with(
                "duplicate",
                message,
                vec![
                    (
                        "existing_subscription_id",
                        existing.map(|id| id.to_string()),
                    ),
                    ("graph_subscription_id", graph_id),
                ],
            ),
            CreateError::MissingPermission { permission, .. } => DomainError::forbidden_because(
                "missing_permission",
                message,
                vec![("permission", Some(permission))],
            ),
            CreateError::MissingScope { scope, .. } => DomainError::forbidden_because(
                "missing_scope",
                message,
                vec![("scope", Some(scope.to_owned()))],
            ),
            // Graphhook's own quota, worded as for every kind a tenant holds.
            CreateError::TenantQuota(limit) => quota::refusal(
                Quota::Subscriptions,
                u64::try_from(limit).unwrap_or(u64::MAX),
            ),
            CreateError::GraphQuota(_) => DomainError::conflict_with(
                "quota",
                message,
                vec![("quota", Some("graph".to_owned()))],
            ),
            CreateError::ConnectionNotActive { status, .. } => DomainError::conflict_with(
                "connection_not_active",
                message,
                vec![("status", Some(status.to_owned()))],
            ),
            CreateError::SiteNotFound { .. } => DomainError::conflict("site_not_found", message),
            CreateError::Throttled { retry_after } => DomainError::Throttled {
                message: "Microsoft Graph is throttling requests for this tenant; retry later"
                    .to_owned(),
                retry_after: Duration::from_secs(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
            },
            CreateError::ReceiverNotValidated { url, .. } => DomainError::upstream_because(
                "receiver_not_validated",
                message,
                vec![
                    ("url", Some(url)),
                    ("setting", Some("api.public_base_url".to_owned())),
                ],
            ),
            CreateError::Refused(graph) => DomainError::upstream_because(
                "graph_refused",
                message,
                vec![
                    ("graph_status", Some(graph.status.to_string())),
                    ("graph_code", Some(graph.code)),
                ],
            ),
            CreateError::Unavailable(_) => DomainError::upstream(message),
            CreateError::Access(AccessError::Token(e)) => {
                DomainError::upstream(format!("no token for the tenant: {e}"))
            }
            CreateError::Access(AccessError::Reauthorize { .. }) => {
                DomainError::conflict("reauthorize", message)
            }
            CreateError::Access(AccessError::Domain(e)) | CreateError::Domain(e) => e,
        }
    }
}

/// The field and the rule of a refused input, for the errors that are one.
fn input_rule(error: &CreateError) -> Option<(&'static str, &'static str)> {
    Some(match error {
        CreateError::Resource(resource) => match resource {
            ResourceError::Unknown(..) => ("resource", "unsupported_resource"),
            ResourceError::DelegatedOnly(..) => ("connection_id", "delegated_only"),
            ResourceError::PersonalOnly(_) => ("connection_id", "personal_only"),
            ResourceError::ChangeTypes(..) => ("change_types", "unsupported_change_type"),
            ResourceError::NoChangeTypes => ("change_types", "required"),
        },
        CreateError::Invalid { field, rule, .. } => (*field, *rule),
        CreateError::RichNotAvailable(_) => ("include_resource_data", "rich_not_available"),
        CreateError::UnknownEndpoint(_) => ("endpoint_ids", "unknown_endpoint"),
        CreateError::UnknownConnection(_) => ("connection_id", "unknown_connection"),
        CreateError::NotThroughConnection { .. } => ("connection_id", "not_through_connection"),
        _ => return None,
    })
}
