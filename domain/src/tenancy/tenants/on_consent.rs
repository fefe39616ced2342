//! What a proven consent does to a tenant: pure, so every branch is tested here;
//! [`super::record_consent`] writes it.

use crate::platform::entities::tenant::TenantStatus;

/// The tenant's new status (for an existing tenant, `None` keeps it), the audit action, and
/// whether its paused subscriptions come back.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ConsentDecision {
    pub status: Option<TenantStatus>,
    /// Why a new tenant is `pending`.
    pub status_reason: Option<&'static str>,
    pub action: &'static str,
    pub resume_subscriptions: bool,
}

/// `existing`: the tenant's status, `None` when this consent creates it. `has_roles`: whether
/// the token proving the consent carries any of the app's roles yet (Entra takes a while).
pub(super) fn decide(existing: Option<TenantStatus>, has_roles: bool) -> ConsentDecision {
    match existing {
        None => ConsentDecision {
            status: Some(match has_roles {
                true => TenantStatus::Active,
                false => TenantStatus::Pending,
            }),
            status_reason: (!has_roles).then_some("waiting for Entra to grant the permissions"),
            action: "tenant.created",
            resume_subscriptions: false,
        },
        // No roles yet: nothing to activate. An operator's suspension, or an offboarding, is
        // not lifted by consenting.
        Some(_) if !has_roles => unchanged(),
        Some(TenantStatus::Suspended | TenantStatus::Offboarded) => unchanged(),
        Some(previous) => {
            let restored = previous == TenantStatus::ConsentRevoked;
            ConsentDecision {
                status: Some(TenantStatus::Active),
                status_reason: None,
                action: match restored {
                    true => "tenant.consent_restored",
                    false => "tenant.consent_updated",
                },
                // Paused subscriptions come back: renewed (or recreated) by the upkeep at once.
                resume_subscriptions: restored,
            }
        }
    }
}

/// The roles are updated; the status stays.
fn unchanged() -> ConsentDecision {
    ConsentDecision {
        status: None,
        status_reason: None,
        action: "tenant.consent_updated",
        resume_subscriptions: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_consent_with_roles_creates_an_active_tenant() {
        let decision = decide(None, true);
        assert_eq!(decision.status, Some(TenantStatus::Active));
        assert_eq!(decision.status_reason, None);
        assert_eq!(decision.action, "tenant.created");
        assert!(!decision.resume_subscriptions);
    }

    #[test]
    fn a_first_consent_without_roles_yet_creates_a_pending_tenant_that_says_why() {
        let decision = decide(None, false);
        assert_eq!(decision.status, Some(TenantStatus::Pending));
        assert_eq!(
            decision.status_reason,
            Some("waiting for Entra to grant the permissions")
        );
        assert_eq!(decision.action, "tenant.created");
    }

    #[test]
    fn roles_arriving_activate_a_pending_tenant_and_update_an_active_one() {
        for previous in [TenantStatus::Pending, TenantStatus::Active] {
            let decision = decide(Some(previous), true);
            assert_eq!(decision.status, Some(TenantStatus::Active), "{previous:?}");
            assert_eq!(decision.action, "tenant.consent_updated");
            assert!(!decision.resume_subscriptions);
        }
    }

    #[test]
    fn consent_given_again_restores_a_revoked_tenant_and_resumes_its_subscriptions() {
        let decision = decide(Some(TenantStatus::ConsentRevoked), true);
        assert_eq!(decision.status, Some(TenantStatus::Active));
        assert_eq!(decision.action, "tenant.consent_restored");
        assert!(decision.resume_subscriptions);
    }

    #[test]
    fn a_consent_without_roles_changes_no_status() {
        for previous in [
            TenantStatus::Pending,
            TenantStatus::Active,
            TenantStatus::ConsentRevoked,
            TenantStatus::Suspended,
            TenantStatus::Offboarded,
        ] {
            let decision = decide(Some(previous), false);
            assert_eq!(decision.status, None, "{previous:?}");
            assert_eq!(decision.action, "tenant.consent_updated");
            assert!(!decision.resume_subscriptions);
        }
    }

    #[test]
    fn consenting_lifts_neither_a_suspension_nor_an_offboarding() {
        for previous in [TenantStatus::Suspended, TenantStatus::Offboarded] {
            let decision = decide(Some(previous), true);
            assert_eq!(decision.status, None, "{previous:?}");
            assert_eq!(decision.action, "tenant.consent_updated");
            assert!(!decision.resume_subscriptions);
        }
    }
}
