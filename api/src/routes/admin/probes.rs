//! Worker pipeline probes: `POST /admin/v1/probes` queues a job, `GET /admin/v1/probes/{id}`
//! shows whether a worker started and finished it.

use actix_web::{HttpResponse, web};
use graphhook_domain::{
    audit::{self, Actor, NewEntry},
    ids::ProbeId,
    probe::{self, MAX_HOLD_MS, ProbeError},
};
use serde::Deserialize;
use serde_json::json;

use crate::{error::ApiError, extractors::Operator, state::AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProbe {
    /// How long the job keeps a worker busy, in milliseconds.
    #[serde(default)]
    hold_ms: u64,
}

pub async fn create(
    operator: Operator,
    state: web::Data<AppState>,
    body: web::Json<CreateProbe>,
) -> Result<HttpResponse, ApiError> {
    if body.hold_ms > MAX_HOLD_MS {
        return Err(ApiError::validation(format!(
            "hold_ms must be at most {MAX_HOLD_MS}"
        )));
    }
    let status = probe::queue(&state.queues, &state.clock, body.hold_ms)
        .await
        .map_err(|e| match e {
            ProbeError::Push(e) => ApiError::unavailable("the job queue", e),
            ProbeError::Redis(e) => ApiError::unavailable("the job queue", e),
        })?;
    let entry = NewEntry::new(Actor::operator(&operator.name), "probe.queued")
        .target("probe", status.id)
        .details(json!({"hold_ms": body.hold_ms}))
        .request_id(operator.request_id);
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::Accepted().json(status))
}

pub async fn show(
    _operator: Operator,
    state: web::Data<AppState>,
    id: web::Path<ProbeId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.redis.clone();
    let status = probe::get(&mut conn, state.queues.prefix(), id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("probe"))?;
    Ok(HttpResponse::Ok().json(status))
}
