//! The directory side of the control API: users who can sign in (`POST
//! /_emulator/tenants/{id}/users`, the consumers tenant's id for personal accounts), removing
//! one (`DELETE /_emulator/tenants/{id}/users/{user id or UPN}`: Graph then fails the Outlook
//! subscriptions on their mailbox, see `graph::checks`) and the app
//! registration's settings that shape their sign-in and tokens (`PATCH /_emulator/app`:
//! `group_membership_claims`, `sign_in_audience`, `delegated_permissions`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::{bad_request, not_found};
use crate::{
    config::{SignInAudience, UserConfig},
    shared::Data,
    state::users::AddUserError,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tenants/{id}/users").route(web::post().to(add_user)))
        .service(web::resource("/tenants/{id}/users/{user}").route(web::delete().to(remove_user)))
        .service(web::resource("/app").route(web::patch().to(patch_app)));
}

/// `{"user_principal_name", "display_name", "roles": [role template ids], "id"?}` → 201 with
/// the user.
async fn add_user(shared: Data, id: web::Path<Uuid>, body: web::Json<UserConfig>) -> HttpResponse {
    if body.user_principal_name.trim().is_empty() {
        return bad_request("user_principal_name is empty");
    }
    match shared.world().add_user(*id, &body) {
        Ok(user) => HttpResponse::Created().json(user),
        Err(AddUserError::NoTenant) => not_found("tenant"),
        Err(e @ AddUserError::Duplicate(_)) => bad_request(e.to_string()),
    }
}

/// Removes a user from the tenant's directory → 200 with the user removed; 404 when the
/// tenant or the user is unknown.
async fn remove_user(shared: Data, path: web::Path<(Uuid, String)>) -> HttpResponse {
    let (tenant, user) = path.into_inner();
    let mut world = shared.world();
    if !world.tenants.contains_key(&tenant) {
        return not_found("tenant");
    }
    match world.remove_user(tenant, &user) {
        Some(removed) => HttpResponse::Ok().json(removed),
        None => not_found("user"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppPatch {
    group_membership_claims: Option<String>,
    /// `AzureADMultipleOrgs` or `AzureADandPersonalMicrosoftAccount`.
    sign_in_audience: Option<String>,
    /// The delegated Graph permissions the registration lists (replaces the list).
    delegated_permissions: Option<Vec<String>>,
}

const MEMBERSHIP_CLAIMS: [&str; 5] = [
    "None",
    "SecurityGroup",
    "DirectoryRole",
    "ApplicationGroup",
    "All",
];

/// Changes manifest settings of the app registration → 200 with the app.
async fn patch_app(shared: Data, body: web::Json<AppPatch>) -> HttpResponse {
    let body = body.into_inner();
    if let Some(claims) = &body.group_membership_claims {
        let unknown = claims.split(',').map(str::trim).find(|part| {
            !MEMBERSHIP_CLAIMS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(part))
        });
        if let Some(part) = unknown {
            return bad_request(format!(
                "group_membership_claims: unknown value '{part}'; use None, SecurityGroup, DirectoryRole, ApplicationGroup, All, or several joined by commas"
            ));
        }
    }
    let audience = match body.sign_in_audience.as_deref() {
        None => None,
        Some("AzureADMultipleOrgs") => Some(SignInAudience::AzureADMultipleOrgs),
        Some("AzureADandPersonalMicrosoftAccount") => {
            Some(SignInAudience::AzureADandPersonalMicrosoftAccount)
        }
        Some(other) => {
            return bad_request(format!(
                "sign_in_audience: unknown value '{other}'; use AzureADMultipleOrgs or AzureADandPersonalMicrosoftAccount"
            ));
        }
    };
    if let Some(permissions) = &body.delegated_permissions
        && let Some(bad) = permissions
            .iter()
            .find(|p| p.trim().is_empty() || p.contains(char::is_whitespace))
    {
        return bad_request(format!(
            "delegated_permissions: '{bad}' is not a permission name such as Mail.Read"
        ));
    }
    let mut world = shared.world();
    if let Some(claims) = body.group_membership_claims {
        world.app.group_membership_claims = claims;
    }
    if let Some(audience) = audience {
        world.app.sign_in_audience = audience;
    }
    if let Some(permissions) = body.delegated_permissions {
        world.app.delegated_permissions = permissions;
    }
    HttpResponse::Ok().json(&world.app)
}
