//! The operator api under `/admin/v1`, behind the operator token.

mod audit;
mod certificates;
mod ops;
mod probes;
pub(crate) mod tenants;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .service(web::resource("/probes").route(web::post().to(probes::create)))
            .service(web::resource("/probes/{id}").route(web::get().to(probes::show)))
            .service(web::resource("/audit-log").route(web::get().to(audit::list)))
            .service(web::resource("/tenants").route(web::get().to(tenants::list)))
            .service(web::resource("/tenants/{id}").route(web::get().to(tenants::show)))
            .service(web::resource("/tenants/{id}/suspend").route(web::post().to(tenants::suspend)))
            .service(web::resource("/tenants/{id}/resume").route(web::post().to(tenants::resume)))
            .service(
                web::resource("/tenants/{id}/offboard").route(web::post().to(tenants::offboard)),
            )
            .service(web::resource("/subscriptions").route(web::get().to(tenants::subscriptions)))
            .service(
                web::resource("/subscriptions/{id}/renew").route(web::post().to(tenants::renew)),
            )
            .service(web::resource("/queues").route(web::get().to(ops::queues)))
            .service(web::resource("/deliveries/stats").route(web::get().to(ops::delivery_stats)))
            .service(web::resource("/credential").route(web::get().to(ops::credential)))
            .service(
                web::resource("/encryption-certificates").route(web::get().to(certificates::list)),
            )
            .service(
                web::resource("/encryption-certificates/rotate")
                    .route(web::post().to(certificates::rotate)),
            ),
    );
}
