//! The emulated Entra ID (§8):
//!
//! - admin consent, v1 and v2 (`/{tenant}/adminconsent`, `/{tenant}/v2.0/adminconsent`);
//! - OpenID Connect sign-in: the authorize endpoint (`/{tenant}/oauth2/v2.0/authorize`, the
//!   authorization code flow with PKCE and a nonce) and its sign-in page;
//! - the token endpoint (`/{tenant}/oauth2/v2.0/token`): client credentials (app-only Graph
//!   tokens), authorization codes (an ID token, a delegated Graph token and, with
//!   `offline_access`, a refresh token) and refresh tokens, with a client secret or a
//!   certificate assertion;
//! - personal Microsoft accounts (the `consumers` tenant) and delegated consent;
//! - OpenID discovery, the signing keys (JWKS) and MSAL's instance discovery.

mod authorize;
mod claims;
mod client_auth;
mod code_grant;
mod consent;
mod discovery;
mod permissions;
mod redirects;
mod refresh_grant;
mod request;
mod scopes;
mod sign_in_form;
mod sign_in_page;
mod token;
mod user_tokens;

pub use claims::Issued;
pub use consent::decide;
pub use refresh_grant::interaction;
pub use sign_in_form::decide as sign_in_decide;
pub use token::AccessTokenClaims;
pub use user_tokens::IdTokenClaims;

use actix_web::{HttpResponse, web};

pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// A successful token response, with the headers Entra sends.
fn token_ok(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store, no-cache"))
        .insert_header(("pragma", "no-cache"))
        .content_type("application/json; charset=utf-8")
        .json(body)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/_emulator/consent/decide").route(web::post().to(consent::decide)))
        .service(
            web::resource("/common/discovery/instance").route(web::get().to(discovery::instance)),
        )
        .service(
            web::resource("/{tenant}/v2.0/.well-known/openid-configuration")
                .route(web::get().to(discovery::openid_v2)),
        )
        .service(
            web::resource("/{tenant}/.well-known/openid-configuration")
                .route(web::get().to(discovery::openid_v1)),
        )
        .service(
            web::resource("/{tenant}/discovery/v2.0/keys").route(web::get().to(discovery::keys_v2)),
        )
        .service(web::resource("/{tenant}/discovery/keys").route(web::get().to(discovery::keys_v1)))
        .service(web::resource("/{tenant}/oauth2/v2.0/token").route(web::post().to(token::token)))
        .service(
            web::resource("/{tenant}/oauth2/v2.0/authorize")
                .route(web::get().to(authorize::authorize)),
        )
        .service(web::resource("/{tenant}/adminconsent").route(web::get().to(consent::start_v1)))
        .service(
            web::resource("/{tenant}/v2.0/adminconsent").route(web::get().to(consent::start_v2)),
        );
}
