//! Every route of the tenant api, in one table. The same function registers them with actix and
//! lists them, so the OpenAPI document can be checked against what the app really serves.

use actix_web::{FromRequest, Handler, Responder, Route, http::Method, web};

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

impl Recorder {
    /// The routes a register function adds: `(METHOD, path)`, sorted.
    pub fn routes(register: impl FnOnce(&mut Self)) -> Vec<(String, String)> {
        let mut recorder = Self::default();
        register(&mut recorder);
        let mut routes: Vec<(String, String)> = recorder
            .0
            .into_iter()
            .map(|(m, p)| (m.to_string(), p.to_owned()))
            .collect();
        routes.sort();
        routes
    }
}

/// `get(handler)` and its kin: a route of one method, with the method named for the recorder.
macro_rules! method_routes {
    ($($name:ident => $method:ident),* $(,)?) => {$(
        pub fn $name<F, Args>(handler: F) -> (Method, Route)
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            (Method::$method, web::route().method(Method::$method).to(handler))
        }
    )*};
}

method_routes!(get => GET, post => POST, patch => PATCH, delete => DELETE);

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
        vec![get(status::show), delete(status::offboard)],
    );
    r.resource("/api/v1/tenant/verify", vec![post(status::verify)]);
    r.resource(
        "/api/v1/api-keys",
        vec![post(api_keys::create), get(api_keys::list)],
    );
    r.resource("/api/v1/api-keys/{id}", vec![delete(api_keys::revoke)]);
}

/// Endpoints: registration, verification, secrets, health.
fn endpoint_routes<R: Register>(r: &mut R) {
    use endpoints::{actions, read, write};
    r.resource(
        "/api/v1/endpoints",
        vec![post(write::create), get(read::list)],
    );
    r.resource(
        "/api/v1/endpoints/{id}",
        vec![get(read::show), patch(write::update), delete(write::delete)],
    );
    r.resource("/api/v1/endpoints/{id}/health", vec![get(read::health)]);
    r.resource("/api/v1/endpoints/{id}/verify", vec![post(actions::verify)]);
    r.resource("/api/v1/endpoints/{id}/test", vec![post(actions::test)]);
    r.resource("/api/v1/endpoints/{id}/secret", vec![get(read::secret)]);
    r.resource(
        "/api/v1/endpoints/{id}/secret/rotate",
        vec![post(actions::rotate)],
    );
    r.resource(
        "/api/v1/endpoints/{id}/public-key",
        vec![get(read::public_key)],
    );
}

/// Messages, deliveries, attempts and operational events: history and replay.
fn history_routes<R: Register>(r: &mut R) {
    r.resource(
        "/api/v1/endpoints/{id}/recover",
        vec![post(messages::recover)],
    );
    r.resource("/api/v1/messages", vec![get(messages::list_messages)]);
    r.resource("/api/v1/events", vec![get(events::list)]);
    r.resource("/api/v1/messages/{id}", vec![get(messages::show_message)]);
    r.resource("/api/v1/messages/{id}/resend", vec![post(messages::resend)]);
    r.resource("/api/v1/deliveries", vec![get(messages::list_deliveries)]);
    r.resource(
        "/api/v1/deliveries/{id}/attempts",
        vec![get(messages::list_attempts)],
    );
}

/// Subscriptions and the connections some of them go through.
fn subscription_routes<R: Register>(r: &mut R) {
    r.resource(
        "/api/v1/subscriptions",
        vec![post(subscriptions::create), get(subscriptions::list)],
    );
    r.resource(
        "/api/v1/subscriptions/{id}",
        vec![get(subscriptions::show), delete(subscriptions::delete)],
    );
    r.resource(
        "/api/v1/connections",
        vec![post(connections::create), get(connections::list)],
    );
    r.resource(
        "/api/v1/connections/{id}",
        vec![get(connections::show), delete(connections::delete)],
    );
    r.resource(
        "/api/v1/connections/{id}/reconnect",
        vec![post(connections::reconnect)],
    );
    r.resource(
        "/api/v1/subscriptions/{id}/actions",
        vec![get(subscriptions::actions)],
    );
}

/// The tenant api's routes as registered: `(METHOD, path)`.
pub fn routes() -> Vec<(String, String)> {
    Recorder::routes(register)
}
