//! Worker pipeline probes: `POST /admin/v1/probes` queues a job, `GET /admin/v1/probes/{id}`
//! shows whether a worker started and finished it.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{
    DomainError,
    operator::audit,
    operator::probe::{self, MAX_HOLD_MS, ProbeState, ProbeStatus},
    platform::ids::ProbeId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    annotations::{IdPath, OperatorTargetRefusals},
    body::Object,
    error::{ApiError, ErrorBody, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hold_ms": 0}))]
pub struct CreateProbe {
    /// How long the job keeps a worker busy, in milliseconds (at most 30000; default 0).
    #[serde(default)]
    hold_ms: u64,
}

/// A probe job and how far a worker took it.
#[derive(Serialize, ToSchema)]
pub struct ProbeView {
    #[schema(value_type = String, example = "prb_0194c1a27b3c7d4e8f90123456789abc")]
    id: ProbeId,
    /// `queued`, `started` or `completed`.
    #[schema(value_type = String, example = "completed")]
    state: ProbeState,
    hold_ms: u64,
    queued_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    /// The apalis worker that ran it.
    worker: Option<String>,
    /// How many times a worker started it (more than one after a worker died mid-run).
    runs: u64,
}

impl From<ProbeStatus> for ProbeView {
    fn from(s: ProbeStatus) -> Self {
        Self {
            id: s.id,
            state: s.state,
            hold_ms: s.hold_ms,
            queued_at: s.queued_at,
            started_at: s.started_at,
            completed_at: s.completed_at,
            worker: s.worker,
            runs: s.runs,
        }
    }
}

/// Queues a probe job, to check the pipeline from the api through Redis to a worker.
#[utoipa::path(
    post,
    path = "/admin/v1/probes",
    operation_id = "admin_probes_create",
    request_body = CreateProbe,
    responses(
        (status = 202, description = "Queued", body = ProbeView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        OperatorRefusals,
        (status = 422, description = "The body is not an object of this shape, or `hold_ms` is above 30000", body = ErrorBody),
        (status = 503, description = "The job queue is unavailable", body = ErrorBody),
    ),
)]
pub async fn create(
    operator: Operator,
    state: web::Data<Services>,
    body: web::Json<Object<CreateProbe>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner().into_inner();
    if body.hold_ms > MAX_HOLD_MS {
        return Err(DomainError::invalid_field(
            "hold_ms",
            format!("hold_ms must be at most {MAX_HOLD_MS}"),
        )
        .into());
    }
    let status = probe::queue(&state.queues, &state.clock, body.hold_ms).await?;
    let entry = operator
        .audit("probe.queued")
        .target("probe", status.id)
        .details(json!({"hold_ms": body.hold_ms}));
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::Accepted().json(ProbeView::from(status)))
}

/// Shows whether a worker started and completed a probe (kept for a day).
#[utoipa::path(
    get,
    path = "/admin/v1/probes/{id}",
    operation_id = "admin_probes_show",
    params(IdPath<ProbeId>),
    responses(
        (status = 200, description = "The probe", body = ProbeView),
        OperatorTargetRefusals<ProbeId>,
        (status = 404, description = "No such probe, or older than a day", body = ErrorBody),
    ),
)]
pub async fn show(
    _operator: Operator,
    state: web::Data<Services>,
    id: web::Path<ProbeId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.redis.clone();
    let status = probe::get(&mut conn, state.queues.prefix(), id.into_inner())
        .await?
        .ok_or_else(|| DomainError::NotFound("probe"))?;
    Ok(HttpResponse::Ok().json(ProbeView::from(status)))
}
