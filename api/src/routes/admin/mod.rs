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

use actix_web::web;

use super::tenant_api::{Recorder, Register, get, post};

pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}

pub fn register<R: Register>(r: &mut R) {
    r.resource("/admin/v1/me", vec![get(operators::me)]);
    r.resource(
        "/admin/v1/operator-tokens/revoke",
        vec![post(operators::revoke)],
    );
    r.resource("/admin/v1/tenants", vec![get(tenants::list)]);
    r.resource("/admin/v1/tenants/{id}", vec![get(tenant_detail::show)]);
    r.resource(
        "/admin/v1/tenants/{id}/suspend",
        vec![post(tenants::suspend)],
    );
    r.resource("/admin/v1/tenants/{id}/resume", vec![post(tenants::resume)]);
    r.resource(
        "/admin/v1/tenants/{id}/offboard",
        vec![post(tenants::offboard)],
    );
    r.resource("/admin/v1/subscriptions", vec![get(subscriptions::list)]);
    r.resource(
        "/admin/v1/subscriptions/{id}/renew",
        vec![post(subscriptions::renew)],
    );
    r.resource("/admin/v1/probes", vec![post(probes::create)]);
    r.resource("/admin/v1/probes/{id}", vec![get(probes::show)]);
    r.resource("/admin/v1/audit-log", vec![get(audit::list)]);
    r.resource("/admin/v1/queues", vec![get(ops::queues)]);
    r.resource("/admin/v1/deliveries/stats", vec![get(ops::delivery_stats)]);
    r.resource("/admin/v1/credential", vec![get(ops::credential)]);
    r.resource(
        "/admin/v1/encryption-certificates",
        vec![get(certificates::list)],
    );
    r.resource(
        "/admin/v1/encryption-certificates/rotate",
        vec![post(certificates::rotate)],
    );
}

/// The operator api's routes as registered: `(METHOD, path)`, sorted.
pub fn routes() -> Vec<(String, String)> {
    Recorder::routes(register)
}
