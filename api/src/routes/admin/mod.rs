//! The operator api under `/admin/v1`, behind the operator token.

mod audit;
mod probes;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .service(probes::create)
            .service(probes::show)
            .service(audit::list),
    );
}
