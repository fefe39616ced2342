//! The emulated Microsoft Graph: `/v1.0/subscriptions` (and `/beta/subscriptions`) with bearer
//! checks, Graph's rules per resource, quotas, throttling and the validation handshake.

mod auth;
pub mod body;
mod checks;
mod create;
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
        );
    }
}
