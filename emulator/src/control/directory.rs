//! The directory side of the control API: users who can sign in (`POST
//! /_emulator/tenants/{id}/users`) and the app registration's manifest settings that shape
//! their tokens (`PATCH /_emulator/app`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::{bad_request, not_found};
use crate::{config::UserConfig, server::Data, state::users::AddUserError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tenants/{id}/users").route(web::post().to(add_user)))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppPatch {
    group_membership_claims: Option<String>,
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
    let mut world = shared.world();
    if let Some(claims) = body.group_membership_claims {
        world.app.group_membership_claims = claims;
    }
    HttpResponse::Ok().json(&world.app)
}
