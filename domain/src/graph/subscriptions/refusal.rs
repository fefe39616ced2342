//! What kind of refusal each way a subscription's creation can fail is: bad input, a state
//! that conflicts, a permission not granted, Graph throttling or failing. The api renders the
//! resulting [`DomainError`] like any other.

use std::time::Duration;

use super::CreateError;
use crate::{DomainError, tenancy::tenants::AccessError};

/// How long to wait when Graph throttles without saying for how long.
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

impl From<CreateError> for DomainError {
    fn from(error: CreateError) -> Self {
        let message = error.to_string();
        match error {
            CreateError::Resource(_)
            | CreateError::Invalid(_)
            | CreateError::RichNotAvailable(_)
            | CreateError::UnknownEndpoint(_)
            | CreateError::UnknownConnection(_)
            | CreateError::NotThroughConnection { .. } => DomainError::invalid(message),
            CreateError::Duplicate { existing, graph_id } => DomainError::Conflict {
                rule: "duplicate",
                message,
                facts: vec![
                    (
                        "existing_subscription_id",
                        existing.map(|id| id.to_string()),
                    ),
                    ("graph_subscription_id", graph_id),
                ],
            },
            CreateError::MissingPermission { .. } | CreateError::MissingScope { .. } => {
                DomainError::forbidden(message)
            }
            CreateError::TenantQuota(_) | CreateError::GraphQuota(_) => {
                DomainError::conflict("quota", message)
            }
            CreateError::ConnectionNotActive { .. } => {
                DomainError::conflict("connection_not_active", message)
            }
            CreateError::SiteNotFound { .. } => DomainError::conflict("site_not_found", message),
            CreateError::Throttled { retry_after } => DomainError::Throttled {
                message: "Microsoft Graph is throttling requests for this tenant; retry later"
                    .to_owned(),
                retry_after: Duration::from_secs(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
            },
            CreateError::ReceiverNotValidated { .. }
            | CreateError::Refused(_)
            | CreateError::Unavailable(_) => DomainError::upstream(message),
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
