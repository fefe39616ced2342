//! Onboarding an organization: the page; the start, which sends the administrator to sign in
//! (OpenID Connect with PKCE); the sign-in's return, which proves who they are and sends them on
//! to admin consent for their own tenant only; and the consent's return, which proves and
//! records the consent.

mod answers;
mod callback;
mod links;
pub(crate) mod pages;
mod returns;
mod signed_in;
mod start;

use actix_web::web;

/// The cookie that binds the onboarding's `state`s to the browser that started it.
pub const COOKIE: &str = "gh_onboarding";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/onboarding").route(web::get().to(start::page)))
        .service(web::resource("/onboarding/start").route(web::post().to(start::start)))
        .service(web::resource("/onboarding/signed-in").route(web::get().to(signed_in::signed_in)))
        .service(web::resource("/onboarding/callback").route(web::get().to(callback::callback)));
}
