//! Whether an endpoint's claimed deliveries may be sent at all, and what happens to those a
//! half-open circuit's probe kept waiting. Pure, so every branch is tested here;
//! [`super::one_endpoint`] gives the deliveries back as decided.

use chrono::{DateTime, Utc};

use super::{HELD_WHILE_SUSPENDED, VERIFICATION_WAIT_SECS};
use crate::{
    delivery::engine::{claim::Unclaim, flow::CircuitChange},
    platform::entities::{endpoint::EndpointStatus, tenant::TenantStatus},
};

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// Send to the endpoint.
    Go,
    /// Give the deliveries back, spending no attempt.
    Wait(Unclaim<'static>),
}

/// `endpoint`: the endpoint's status and its tenant's, `None` when the endpoint is gone.
pub(super) fn decide(
    endpoint: Option<(EndpointStatus, Option<TenantStatus>)>,
    now: DateTime<Utc>,
) -> Gate {
    let Some((status, tenant_status)) = endpoint else {
        return Gate::Wait(Unclaim::Park("the endpoint is gone"));
    };
    match (status, tenant_status) {
        // Its URL is being verified (a new URL is checked before it is used): the deliveries
        // wait a moment and go to the verified URL.
        (EndpointStatus::PendingVerification, _) => Gate::Wait(Unclaim::DueAt(
            now + chrono::Duration::seconds(VERIFICATION_WAIT_SECS),
        )),
        (EndpointStatus::Active, Some(TenantStatus::Suspended)) => {
            // A suspended tenant's deliveries wait for its resumption.
            Gate::Wait(Unclaim::Park(HELD_WHILE_SUSPENDED))
        }
        (EndpointStatus::Active, Some(TenantStatus::Offboarded)) => {
            Gate::Wait(Unclaim::Park("the tenant is offboarded"))
        }
        (EndpointStatus::Active, _) => Gate::Go,
        _ => Gate::Wait(Unclaim::Park("the endpoint is not active")),
    }
}

/// The deliveries a probe kept waiting: due when the circuit's wait ends if the probe failed,
/// as before otherwise; `true` when the probe closed the circuit (they are due now).
pub(super) fn after_probe(circuit: CircuitChange, now: DateTime<Utc>) -> (Unclaim<'static>, bool) {
    let how = match circuit {
        CircuitChange::Reopened { until } | CircuitChange::Opened { until, .. } => {
            Unclaim::DueAt(until.max(now))
        }
        _ => Unclaim::Restore,
    };
    (how, circuit == CircuitChange::Closed)
}

#[cfg(test)]
mod tests;
