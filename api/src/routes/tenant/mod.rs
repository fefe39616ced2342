//! The tenant api under `/api/v1`, behind the tenant's API keys.

mod api_keys;
mod status;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .service(web::resource("/tenant").route(web::get().to(status::show)))
            .service(web::resource("/tenant/verify").route(web::post().to(status::verify)))
            .service(
                web::resource("/api-keys")
                    .route(web::post().to(api_keys::create))
                    .route(web::get().to(api_keys::list)),
            )
            .service(web::resource("/api-keys/{id}").route(web::delete().to(api_keys::revoke))),
    );
}
