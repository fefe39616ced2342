//! The emulated Microsoft Graph: `/v1.0/subscriptions` (and `/beta/subscriptions`) with bearer
//! checks (app-only and delegated), Graph's rules per resource, quotas, throttling and the
//! validation handshake; and the drive lookups a relay makes before subscribing to a drive.

mod auth;
pub mod body;
mod checks;
mod create;
mod delegated;
mod drives;
mod errors;
mod subscriptions;
mod throttle;
pub mod validation;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for version in ["v1.0", "beta"] {
        cfg.service(
            web::resource(format!("/{version}/subscriptions"))
                .route(web::post().to(create::create))
                .route(web::get().to(subscriptions::list)),
        )
        .service(
            web::resource(format!("/{version}/subscriptions/{{id}}"))
                .route(web::get().to(subscriptions::get))
                .route(web::patch().to(subscriptions::update))
                .route(web::delete().to(subscriptions::delete)),
        )
        .service(
            web::resource(format!("/{version}/subscriptions/{{id}}/reauthorize"))
                .route(web::post().to(subscriptions::reauthorize)),
        )
        .service(
            web::resource(format!("/{version}/me/drive")).route(web::get().to(drives::my_drive)),
        )
        .service(
            web::resource(format!("/{version}/sites/{{site}}/drive"))
                .route(web::get().to(drives::site_default_drive)),
        )
        .service(
            web::resource(format!("/{version}/sites/{{site}}/drives/{{drive}}"))
                .route(web::get().to(drives::site_drive_by_id)),
        );
    }
}
