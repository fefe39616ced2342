//! `/healthz` (the process is alive), `/readyz` (its dependencies answer) and `/metrics`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use redis::AsyncCommands;
use serde_json::json;

use crate::{
    error::ApiError,
    state::{ApiLocal, Services},
};

const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when Postgres and Redis both answer within a second; 503 naming the ones that do not.
async fn readyz(state: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    let (postgres, redis) = futures::join!(check_postgres(&state), check_redis(&state));
    let failing: Vec<&str> = [("postgres", &postgres), ("redis", &redis)]
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| name)
        .collect();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let mut checks = json!({"postgres": show(&postgres), "redis": show(&redis)});
    // A wrong app credential is shown, but does not make the process unready: restarting it
    // would not help, an operator must fix the configuration.
    checks["microsoft"] = json!(match state.broker.configuration_problem() {
        Some(problem) => format!("error: {problem}"),
        None => "ok".to_owned(),
    });
    if failing.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({"status": "ready", "checks": checks})));
    }
    let message = format!("{} not reachable", failing.join(" and "));
    Err(ApiError::not_ready(message, checks))
}

async fn check_postgres(state: &Services) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn check_redis(state: &Services) -> Result<(), String> {
    let mut conn = state.redis.clone();
    let ping = async move { conn.ping::<String>().await };
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn metrics(local: web::Data<ApiLocal>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(local.metrics.render())
}
