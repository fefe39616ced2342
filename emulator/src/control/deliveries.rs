//! The control API's side of notifications: make changes and lifecycle events happen, and see
//! every delivery attempt, what is still waiting and what was dropped and why.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::bad_request;
use uuid::Uuid;

use crate::{
    delivery::throttle::Thresholds,
    notify::{self, ChangeRequest, lifecycle},
    shared::Data,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/changes").route(web::post().to(changes)))
        .service(
            web::resource("/subscriptions/{id}/lifecycle").route(web::post().to(lifecycle_event)),
        )
        .service(web::resource("/deliveries").route(web::get().to(deliveries)));
}

/// One change, or several made at once (their notifications for one URL can then share a POST).
#[derive(Deserialize)]
#[serde(untagged)]
enum Changes {
    One(ChangeRequest),
    Many(Vec<ChangeRequest>),
}

/// `POST /_emulator/changes`: 202 with the notifications queued (none when no subscription
/// hears of the change).
async fn changes(shared: Data, body: web::Json<Value>) -> HttpResponse {
    let requests = match serde_json::from_value::<Changes>(body.into_inner()) {
        Ok(Changes::One(one)) => vec![one],
        Ok(Changes::Many(many)) => many,
        Err(e) => return bad_request(format!("not a change or a list of changes: {e}")),
    };
    let now = shared.clock.now();
    let result = notify::make_changes(&mut shared.world(), requests, now);
    match result {
        Ok(queued) => {
            shared.wake.notify_one();
            HttpResponse::Accepted().json(json!({"queued": queued}))
        }
        Err(message) => bad_request(message),
    }
}

#[derive(Deserialize)]
struct DeliveriesQuery {
    /// Only this notification or lifecycle URL.
    url: Option<String>,
}

/// `GET /_emulator/deliveries`: every attempt (URL, items, status, latency, retry number), the
/// notifications still waiting, those dropped with the reason, and each URL's throttling state.
async fn deliveries(shared: Data, query: web::Query<DeliveriesQuery>) -> HttpResponse {
    let now = shared.clock.now();
    let mut world = shared.world();
    let thresholds = Thresholds::from_behaviour(&world.behaviour);
    for endpoint in world.delivery.endpoints.values_mut() {
        endpoint.roll(now, &thresholds);
    }
    let wanted = |url: &str| query.url.as_deref().is_none_or(|u| u == url);
    let delivery = &world.delivery;
    HttpResponse::Ok().json(json!({
        "attempts": delivery.attempts.iter().filter(|a| wanted(&a.url)).collect::<Vec<_>>(),
        "pending": delivery.pending.iter().filter(|p| wanted(&p.url)).collect::<Vec<_>>(),
        "dropped": delivery.dropped.iter().filter(|d| wanted(&d.url)).collect::<Vec<_>>(),
        "endpoints": delivery.endpoints.values().filter(|e| wanted(&e.url)).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleEvent {
    /// `reauthorizationRequired`, `subscriptionRemoved`, `missed`, or any other name (Graph may
    /// add events; receivers must ignore unknown ones).
    event: String,
}

/// `POST /_emulator/subscriptions/{id}/lifecycle`: 202 with the notification queued for the
/// lifecycle URL, or with none when the subscription has no lifecycle URL (§4).
async fn lifecycle_event(
    shared: Data,
    id: web::Path<Uuid>,
    body: web::Json<LifecycleEvent>,
) -> HttpResponse {
    let event = body.into_inner().event;
    if event.is_empty() || !event.chars().all(|c| c.is_ascii_alphanumeric()) {
        return bad_request("event must be a camelCase name such as reauthorizationRequired");
    }
    let now = shared.clock.now();
    let result = lifecycle::raise(&mut shared.world(), *id, &event, now, None);
    match result {
        Ok(queued) => {
            shared.wake.notify_one();
            HttpResponse::Accepted().json(json!({"queued": queued.into_iter().collect::<Vec<_>>()}))
        }
        Err(message) => HttpResponse::NotFound().json(json!({"error": message})),
    }
}
