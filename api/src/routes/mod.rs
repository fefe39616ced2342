//! Every route, one module per area; each exposes `configure`.

pub mod admin;
pub mod connections;
pub mod endpoints;
pub mod events;
pub mod graph_receiver;
pub mod health;
pub mod messages;
pub mod onboarding;
pub mod portal;
pub mod subscriptions;
pub mod tenant;
pub mod tenant_api;
pub mod web_pages;

use actix_web::web::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    // Graph's POSTs first: the hottest routes are matched before any pattern with a parameter
    // is tried (routes are tried in the order they are registered).
    graph_receiver::configure(cfg);
    health::configure(cfg);
    web_pages::configure(cfg);
    admin::configure(cfg);
    onboarding::configure(cfg);
    connections::callback::configure(cfg);
    portal::configure(cfg);
    tenant_api::register(cfg);
}
