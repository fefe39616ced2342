//! Which delegated Graph permissions a sign-in gets, decided as Entra does once it knows who
//! signs in. The permission must be on the app registration (else AADSTS650053). A work or
//! school user consents on the sign-in page to permissions any user may grant, while the ones
//! that need an administrator (every `*.All`) must have been granted tenant-wide by admin
//! consent (else `consent_required`, AADSTS65001). A personal account consents for itself but
//! cannot be given an `*.All` permission (AADSTS70011). The same rules are checked again when a
//! refresh token is redeemed, so a consent revoked since the sign-in is noticed.

use uuid::Uuid;

use super::scopes::Scopes;
use crate::state::{World, is_consumers};

/// Graph's permission for a signed-in user to read their profile, granted when nothing else is
/// asked for.
const USER_READ: &str = "User.Read";

/// Why a sign-in cannot have what it asked for: the OAuth `error`, the AADSTS code and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

/// Whether a delegated permission needs an administrator's consent: `Group.Read.All`,
/// `Files.ReadWrite.All` and every other `*.All`.
pub fn needs_admin(permission: &str) -> bool {
    permission.to_ascii_lowercase().ends_with(".all")
}

fn push_unique(list: &mut Vec<String>, permission: &str) {
    if !list.iter().any(|p| p.eq_ignore_ascii_case(permission)) {
        list.push(permission.to_owned());
    }
}

/// AADSTS65001 for this app.
pub fn consent_required(world: &World) -> Refusal {
    Refusal {
        error: "consent_required",
        code: 65001,
        message: format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
            world.app.client_id, world.app.display_name
        ),
    }
}

/// The Graph permissions a user of `tenant` is granted for `scopes`, by their registered names.
/// `.default` asks for all of the registration's permissions; for a personal account those
/// needing an administrator are then left out rather than refused.
pub fn decide(world: &World, tenant: Uuid, scopes: &Scopes) -> Result<Vec<String>, Refusal> {
    let app = &world.app;
    let mut asked = Vec::new();
    for permission in scopes.graph() {
        let Some(registered) = app
            .delegated_permissions
            .iter()
            .find(|r| r.eq_ignore_ascii_case(permission))
        else {
            return Err(Refusal {
                error: "invalid_scope",
                code: 650053,
                message: format!(
                    "The application '{}' asked for scope '{permission}' that doesn't exist on the resource '00000003-0000-0000-c000-000000000000'. Contact the app vendor.",
                    app.display_name
                ),
            });
        };
        push_unique(&mut asked, registered);
    }
    let personal = is_consumers(tenant);
    if personal && let Some(admin_only) = asked.iter().find(|p| needs_admin(p)) {
        return Err(Refusal {
            error: "invalid_scope",
            code: 70011,
            message: format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{admin_only}' is not valid: it is not available for personal Microsoft accounts."
            ),
        });
    }
    if scopes.asks_default() {
        for permission in &app.delegated_permissions {
            if !(personal && needs_admin(permission)) {
                push_unique(&mut asked, permission);
            }
        }
    }
    if asked.is_empty() {
        asked.push(USER_READ.to_owned());
    }
    if !personal && lacks_admin_grant(world, tenant, &asked) {
        return Err(consent_required(world));
    }
    Ok(asked)
}

/// Whether a work or school tenant lacks the tenant-wide grant of a permission that needs one.
pub fn lacks_admin_grant(world: &World, tenant: Uuid, granted: &[String]) -> bool {
    let grants = world
        .tenants
        .get(&tenant)
        .and_then(|t| t.service_principal.as_ref())
        .map(|sp| sp.delegated_grants.as_slice())
        .unwrap_or_default();
    granted
        .iter()
        .filter(|p| needs_admin(p))
        .any(|p| !grants.iter().any(|g| g.eq_ignore_ascii_case(p)))
}

/// The refusal of a personal account by an app registered for organizations only.
pub fn not_enabled_for_consumers() -> Refusal {
    Refusal {
        error: "unauthorized_client",
        code: 700016,
        message: "The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal at https://go.microsoft.com/fwlink/?linkid=2083908.".to_owned(),
    }
}
