//! The emulated Entra ID: admin consent, the token endpoint, OpenID discovery and keys.

mod consent;
mod discovery;
mod token;

pub use consent::decide;
pub use token::AccessTokenClaims;

use actix_web::web;

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
        .service(web::resource("/{tenant}/adminconsent").route(web::get().to(consent::start_v1)))
        .service(
            web::resource("/{tenant}/v2.0/adminconsent").route(web::get().to(consent::start_v2)),
        );
}
