//! The control API's levers on a user's refresh tokens, as an administrator (or Entra itself)
//! would pull them:
//!
//! - `POST /_emulator/tenants/{tenant}/users/{user}/revoke-sessions` (Graph's
//!   `revokeSignInSessions`): every refresh token issued so far fails with AADSTS50173 → 204;
//! - `POST /_emulator/tenants/{tenant}/users/{user}/require-interaction` `{"code": 50076}` (MFA
//!   needed) or `{"code": 53003}` (blocked by Conditional Access): every refresh of the user's
//!   tokens answers `interaction_required` until `DELETE` on the same path or a new interactive
//!   sign-in of the user → 204.
//!
//! `{tenant}` is a tenant id or domain (`consumers` for personal accounts), `{user}` a UPN or
//! object id.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{bad_request, not_found};
use crate::{entra::interaction, shared::Data, state::User};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tenants/{tenant}/users/{user}/revoke-sessions")
            .route(web::post().to(revoke_sessions)),
    )
    .service(
        web::resource("/tenants/{tenant}/users/{user}/require-interaction")
            .route(web::post().to(require_interaction))
            .route(web::delete().to(clear_interaction)),
    );
}

/// Runs `change` on the user the path names; 404 when there is none.
fn with_user(
    shared: &Data,
    path: &(String, String),
    change: impl FnOnce(&mut User),
) -> HttpResponse {
    let (tenant, user) = path;
    let mut world = shared.world();
    let Some(tenant_id) = world.find_tenant(tenant).map(|t| t.id) else {
        return not_found("tenant");
    };
    match world.user_mut(tenant_id, user) {
        Some(user) => {
            change(user);
            HttpResponse::NoContent().finish()
        }
        None => not_found("user"),
    }
}

async fn revoke_sessions(shared: Data, path: web::Path<(String, String)>) -> HttpResponse {
    let now = shared.clock.now();
    with_user(&shared, &path, |user| {
        user.session_generation += 1;
        user.sign_in_sessions_valid_from = Some(now);
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Interaction {
    code: u32,
}

async fn require_interaction(
    shared: Data,
    path: web::Path<(String, String)>,
    body: web::Json<Interaction>,
) -> HttpResponse {
    let code = body.code;
    if interaction(code).is_none() {
        return bad_request(format!(
            "code {code} is not an interaction the emulator can require; use 50076 (multi-factor authentication) or 53003 (Conditional Access)"
        ));
    }
    with_user(&shared, &path, |user| {
        user.interaction_required = Some(code)
    })
}

async fn clear_interaction(shared: Data, path: web::Path<(String, String)>) -> HttpResponse {
    with_user(&shared, &path, |user| user.interaction_required = None)
}
