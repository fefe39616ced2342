//! The worker's own `/healthz` and `/metrics`, on `worker.listen`. `/healthz` fails (503) while
//! a job worker has been given up on, or while a lane is stalled (see [`crate::watchdog`]): both
//! mean jobs wait that this process does not run.

use std::{
    net::TcpListener,
    sync::Arc,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
use anyhow::Context;
use graphhook_domain::{Settings, platform::telemetry};
use serde_json::json;

use crate::watchdog::Lanes;

/// Liveness shared with the worker's `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    pub restarts: AtomicUsize,
    pub gave_up: AtomicBool,
}

struct State {
    instance: String,
    health: Arc<Health>,
    lanes: Arc<Lanes>,
}

pub fn serve(
    settings: &Settings,
    instance: &str,
    health: Arc<Health>,
    lanes: Arc<Lanes>,
) -> anyhow::Result<(Server, u16)> {
    let listener = TcpListener::bind(settings.worker.listen)
        .with_context(|| format!("binding worker.listen = {}", settings.worker.listen))?;
    let port = listener.local_addr()?.port();
    let state = web::Data::new(State {
        instance: instance.to_owned(),
        health,
        lanes,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((server, port))
}

async fn healthz(state: web::Data<State>) -> HttpResponse {
    let restarts = state.health.restarts.load(Ordering::Relaxed);
    if state.health.gave_up.load(Ordering::Relaxed) {
        return HttpResponse::ServiceUnavailable().json(json!({
            "code": "worker_dead",
            "message": "a job worker kept failing and was given up on; restart this process",
            "instance": state.instance,
            "restarts": restarts,
        }));
    }
    let stalled = state.lanes.stalled();
    if !stalled.is_empty() {
        return HttpResponse::ServiceUnavailable().json(json!({
            "code": "lane_stalled",
            "message": format!(
                "job lanes made no progress while work waited and are being restarted: {}",
                stalled.join(", ")
            ),
            "instance": state.instance,
            "restarts": restarts,
            "stalled_lanes": stalled,
        }));
    }
    HttpResponse::Ok()
        .json(json!({"status": "ok", "instance": state.instance, "restarts": restarts}))
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(telemetry::metrics_handle().render())
}
