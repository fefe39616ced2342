use chrono::{Duration, TimeZone};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
}

fn endpoint(
    status: EndpointStatus,
    tenant: Option<TenantStatus>,
) -> Option<(EndpointStatus, Option<TenantStatus>)> {
    Some((status, tenant))
}

fn waits(gate: Gate) -> Unclaim<'static> {
    match gate {
        Gate::Wait(how) => how,
        Gate::Go => panic!("expected to wait"),
    }
}

#[test]
fn an_active_endpoint_of_an_active_tenant_is_sent_to() {
    for tenant in [
        Some(TenantStatus::Active),
        Some(TenantStatus::ConsentRevoked),
        None,
    ] {
        let gate = decide(endpoint(EndpointStatus::Active, tenant), now());
        assert_eq!(gate, Gate::Go, "{tenant:?}");
    }
}

#[test]
fn a_url_being_verified_makes_them_wait_a_moment() {
    let how = waits(decide(
        endpoint(
            EndpointStatus::PendingVerification,
            Some(TenantStatus::Active),
        ),
        now(),
    ));
    assert_eq!(
        how,
        Unclaim::DueAt(now() + Duration::seconds(VERIFICATION_WAIT_SECS))
    );
}

#[test]
fn a_gone_or_inactive_endpoint_parks_them_with_a_note() {
    assert_eq!(
        waits(decide(None, now())),
        Unclaim::Park("the endpoint is gone")
    );
    assert_eq!(
        waits(decide(
            endpoint(EndpointStatus::Disabled, Some(TenantStatus::Active)),
            now()
        )),
        Unclaim::Park("the endpoint is not active")
    );
}

#[test]
fn a_suspended_tenant_holds_them_and_an_offboarded_one_stops_them() {
    assert_eq!(
        waits(decide(
            endpoint(EndpointStatus::Active, Some(TenantStatus::Suspended)),
            now()
        )),
        Unclaim::Park(HELD_WHILE_SUSPENDED)
    );
    assert_eq!(
        waits(decide(
            endpoint(EndpointStatus::Active, Some(TenantStatus::Offboarded)),
            now()
        )),
        Unclaim::Park("the tenant is offboarded")
    );
}

#[test]
fn a_probes_outcome_decides_when_the_others_go() {
    let later = now() + Duration::seconds(30);
    assert_eq!(
        after_probe(CircuitChange::Reopened { until: later }, now()),
        (Unclaim::DueAt(later), false)
    );
    let opened = CircuitChange::Opened {
        until: now() - Duration::seconds(1),
        attempts: 10,
        failed: 10,
    };
    assert_eq!(after_probe(opened, now()), (Unclaim::DueAt(now()), false));
    assert_eq!(
        after_probe(CircuitChange::Closed, now()),
        (Unclaim::Restore, true)
    );
    assert_eq!(
        after_probe(CircuitChange::Unchanged, now()),
        (Unclaim::Restore, false)
    );
}
