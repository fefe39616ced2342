//! The operator api under `/admin/v1`, behind the operator token. Its routes are in one table,
//! registered with actix and listed by the same function (as the tenant api's are), so the
//! admin OpenAPI document can be checked against what the app really serves.

pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod operators;
pub(crate) mod ops;
pub(crate) mod probes;
pub(crate) mod subscriptions;
pub(crate) mod tenant_detail;
pub(crate) mod tenants;

use actix_web::{http::Method, web};

use super::tenant_api::{Recorder, Register};

pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}

pub fn register<R: Register>(r: &mut R) {
    r.resource(
        "/admin/v1/me",
        vec![(Method::GET, web::get().to(operators::me))],
    );
    r.resource(
        "/admin/v1/operator-tokens/revoke",
        vec![(Method::POST, web::post().to(operators::revoke))],
    );
    r.resource(
        "/admin/v1/tenants",
        vec![(Method::GET, web::get().to(tenants::list))],
    );
    r.resource(
        "/admin/v1/tenants/{id}",
        vec![(Method::GET, web::get().to(tenant_detail::show))],
    );
    r.resource(
        "/admin/v1/tenants/{id}/suspend",
        vec![(Method::POST, web::post().to(tenants::suspend))],
    );
    r.resource(
        "/admin/v1/tenants/{id}/resume",
        vec![(Method::POST, web::post().to(tenants::resume))],
    );
    r.resource(
        "/admin/v1/tenants/{id}/offboard",
        vec![(Method::POST, web::post().to(tenants::offboard))],
    );
    r.resource(
        "/admin/v1/subscriptions",
        vec![(Method::GET, web::get().to(subscriptions::list))],
    );
    r.resource(
        "/admin/v1/subscriptions/{id}/renew",
        vec![(Method::POST, web::post().to(subscriptions::renew))],
    );
    r.resource(
        "/admin/v1/probes",
        vec![(Method::POST, web::post().to(probes::create))],
    );
    r.resource(
        "/admin/v1/probes/{id}",
        vec![(Method::GET, web::get().to(probes::show))],
    );
    r.resource(
        "/admin/v1/audit-log",
        vec![(Method::GET, web::get().to(audit::list))],
    );
    r.resource(
        "/admin/v1/queues",
        vec![(Method::GET, web::get().to(ops::queues))],
    );
    r.resource(
        "/admin/v1/deliveries/stats",
        vec![(Method::GET, web::get().to(ops::delivery_stats))],
    );
    r.resource(
        "/admin/v1/credential",
        vec![(Method::GET, web::get().to(ops::credential))],
    );
    r.resource(
        "/admin/v1/encryption-certificates",
        vec![(Method::GET, web::get().to(certificates::list))],
    );
    r.resource(
        "/admin/v1/encryption-certificates/rotate",
        vec![(Method::POST, web::post().to(certificates::rotate))],
    );
}

/// The operator api's routes as registered: `(METHOD, path)`, sorted.
pub fn routes() -> Vec<(String, String)> {
    let mut recorder = Recorder::default();
    register(&mut recorder);
    let mut routes: Vec<(String, String)> = recorder
        .0
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    routes.sort();
    routes
}
