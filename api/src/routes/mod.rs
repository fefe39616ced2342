//! Every route, one module per area; each exposes `configure`.

pub mod admin;
pub mod endpoints;
pub mod graph_receiver;
pub mod health;
pub mod onboarding;
pub mod subscriptions;
pub mod tenant;
pub mod web_pages;

use actix_web::web::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    web_pages::configure(cfg);
    admin::configure(cfg);
    onboarding::configure(cfg);
    // The more specific /api/v1/endpoints scope first: actix does not fall through scopes.
    endpoints::configure(cfg);
    subscriptions::configure(cfg);
    graph_receiver::configure(cfg);
    tenant::configure(cfg);
}
