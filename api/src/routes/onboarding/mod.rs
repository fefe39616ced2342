//! Tenant onboarding by admin consent: the page, the start that sends the administrator to
//! Microsoft, and the callback that proves and records the consent.

mod callback;
mod pages;
mod start;

use actix_web::web;

/// The cookie that binds an onboarding `state` to the browser that started it.
pub const COOKIE: &str = "gh_onboarding";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/onboarding").route(web::get().to(start::page)))
        .service(web::resource("/onboarding/start").route(web::post().to(start::start)))
        .service(web::resource("/onboarding/callback").route(web::get().to(callback::callback)));
}
