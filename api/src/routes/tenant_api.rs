//! Every route of the tenant api, in one table. The same function registers them with actix and
//! lists them, so the OpenAPI document can be checked against what the app really serves.

use actix_web::{Route, http::Method, web};

use super::{connections, endpoints, events, messages, subscriptions, tenant};

/// Something routes are added to: actix's configuration, or a recorder.
pub trait Register {
    fn resource(&mut self, path: &'static str, routes: Vec<(Method, Route)>);
}

impl Register for web::ServiceConfig {
    fn resource(&mut self, path: &'static str, routes: Vec<(Method, Route)>) {
        let mut resource = web::resource(path);
        for (_, route) in routes {
            resource = resource.route(route);
        }
        self.service(resource);
    }
}

/// Records `(method, path)` without registering anything.
#[derive(Default)]
pub struct Recorder(pub Vec<(Method, &'static str)>);

impl Register for Recorder {
    fn resource(&mut self, path: &'static str, routes: Vec<(Method, Route)>) {
        self.0
            .extend(routes.into_iter().map(|(method, _)| (method, path)));
    }
}

pub fn register<R: Register>(r: &mut R) {
    tenant_routes(r);
    endpoint_routes(r);
    history_routes(r);
    subscription_routes(r);
}

/// The tenant itself and its API keys.
fn tenant_routes<R: Register>(r: &mut R) {
    use tenant::{api_keys, status};
    r.resource(
        "/api/v1/tenant",
        vec![
            (Method::GET, web::get().to(status::show)),
            (Method::DELETE, web::delete().to(status::offboard)),
        ],
    );
    r.resource(
        "/api/v1/tenant/verify",
        vec![(Method::POST, web::post().to(status::verify))],
    );
    r.resource(
        "/api/v1/api-keys",
        vec![
            (Method::POST, web::post().to(api_keys::create)),
            (Method::GET, web::get().to(api_keys::list)),
        ],
    );
    r.resource(
        "/api/v1/api-keys/{id}",
        vec![(Method::DELETE, web::delete().to(api_keys::revoke))],
    );
}

/// Endpoints: registration, verification, secrets, health.
fn endpoint_routes<R: Register>(r: &mut R) {
    use endpoints::{actions, read, write};
    r.resource(
        "/api/v1/endpoints",
        vec![
            (Method::POST, web::post().to(write::create)),
            (Method::GET, web::get().to(read::list)),
        ],
    );
    r.resource(
        "/api/v1/endpoints/{id}",
        vec![
            (Method::GET, web::get().to(read::show)),
            (Method::PATCH, web::patch().to(write::update)),
            (Method::DELETE, web::delete().to(write::delete)),
        ],
    );
    r.resource(
        "/api/v1/endpoints/{id}/health",
        vec![(Method::GET, web::get().to(read::health))],
    );
    r.resource(
        "/api/v1/endpoints/{id}/verify",
        vec![(Method::POST, web::post().to(actions::verify))],
    );
    r.resource(
        "/api/v1/endpoints/{id}/test",
        vec![(Method::POST, web::post().to(actions::test))],
    );
    r.resource(
        "/api/v1/endpoints/{id}/secret",
        vec![(Method::GET, web::get().to(read::secret))],
    );
    r.resource(
        "/api/v1/endpoints/{id}/secret/rotate",
        vec![(Method::POST, web::post().to(actions::rotate))],
    );
    r.resource(
        "/api/v1/endpoints/{id}/public-key",
        vec![(Method::GET, web::get().to(read::public_key))],
    );
}

/// Messages, deliveries, attempts and operational events: history and replay.
fn history_routes<R: Register>(r: &mut R) {
    r.resource(
        "/api/v1/endpoints/{id}/recover",
        vec![(Method::POST, web::post().to(messages::recover))],
    );
    r.resource(
        "/api/v1/messages",
        vec![(Method::GET, web::get().to(messages::list_messages))],
    );
    r.resource(
        "/api/v1/events",
        vec![(Method::GET, web::get().to(events::list))],
    );
    r.resource(
        "/api/v1/messages/{id}",
        vec![(Method::GET, web::get().to(messages::show_message))],
    );
    r.resource(
        "/api/v1/messages/{id}/resend",
        vec![(Method::POST, web::post().to(messages::resend))],
    );
    r.resource(
        "/api/v1/deliveries",
        vec![(Method::GET, web::get().to(messages::list_deliveries))],
    );
    r.resource(
        "/api/v1/deliveries/{id}/attempts",
        vec![(Method::GET, web::get().to(messages::list_attempts))],
    );
}

/// Subscriptions and the connections some of them go through.
fn subscription_routes<R: Register>(r: &mut R) {
    r.resource(
        "/api/v1/subscriptions",
        vec![
            (Method::POST, web::post().to(subscriptions::create)),
            (Method::GET, web::get().to(subscriptions::list)),
        ],
    );
    r.resource(
        "/api/v1/subscriptions/{id}",
        vec![
            (Method::GET, web::get().to(subscriptions::show)),
            (Method::DELETE, web::delete().to(subscriptions::delete)),
        ],
    );
    r.resource(
        "/api/v1/connections",
        vec![
            (Method::POST, web::post().to(connections::create)),
            (Method::GET, web::get().to(connections::list)),
        ],
    );
    r.resource(
        "/api/v1/connections/{id}",
        vec![
            (Method::GET, web::get().to(connections::show)),
            (Method::DELETE, web::delete().to(connections::delete)),
        ],
    );
    r.resource(
        "/api/v1/connections/{id}/reconnect",
        vec![(Method::POST, web::post().to(connections::reconnect))],
    );
    r.resource(
        "/api/v1/subscriptions/{id}/actions",
        vec![(Method::GET, web::get().to(subscriptions::actions))],
    );
}

/// The tenant api's routes as registered: `(METHOD, path)`.
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
