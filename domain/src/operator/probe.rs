//! Worker pipeline probes: an operator (or a monitor) queues a probe job and reads back when a
//! worker started and finished it. The state lives in Redis for a day, under the key prefix.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;

use crate::{
    platform::clock::Clock,
    platform::error::DomainResult,
    platform::ids::ProbeId,
    platform::jobs::{Probe, PushError, Queues},
    platform::redis_conn,
};

const TTL_SECS: i64 = 24 * 3600;
/// The longest a probe may hold a worker.
pub const MAX_HOLD_MS: u64 = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeState {
    Queued,
    Started,
    Completed,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProbeStatus {
    pub id: ProbeId,
    pub state: ProbeState,
    pub hold_ms: u64,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The apalis worker that ran it.
    pub worker: Option<String>,
    /// How many times a worker started it (more than one after a worker died mid-run).
    pub runs: u64,
}

fn key(prefix: &str, id: ProbeId) -> String {
    format!("{prefix}:probe:{id}")
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Push(#[from] PushError),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// A probe that cannot be queued: the job queue is unavailable.
impl From<ProbeError> for crate::DomainError {
    fn from(error: ProbeError) -> Self {
        crate::DomainError::unavailable("the job queue", error)
    }
}

/// Records a new probe and queues its job.
#[tracing::instrument(skip_all)]
pub async fn queue(
    queues: &Queues,
    clock: &Clock,
    hold_ms: u64,
) -> Result<ProbeStatus, ProbeError> {
    let id = ProbeId::new();
    let now = clock.now();
    let k = key(queues.prefix(), id);
    let queued_at = now.to_rfc3339();
    let hold = hold_ms.to_string();
    redis_conn::retry(|| {
        let mut conn = queues.connection();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &k,
                &[
                    ("state", "queued"),
                    ("queued_at", &queued_at),
                    ("hold_ms", &hold),
                ],
            )
            .expire(&k, TTL_SECS);
        async move { pipe.query_async::<()>(&mut conn).await }
    })
    .await?;
    queues.push(&Probe { id, hold_ms }).await?;
    Ok(ProbeStatus {
        id,
        state: ProbeState::Queued,
        hold_ms,
        queued_at: Some(now),
        started_at: None,
        completed_at: None,
        worker: None,
        runs: 0,
    })
}

pub async fn mark_started(
    conn: &mut ConnectionManager,
    prefix: &str,
    id: ProbeId,
    worker: &str,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    let at = at.to_rfc3339();
    let fields = [
        ("state", "started"),
        ("started_at", &at),
        ("worker", worker),
    ];
    mark(conn, prefix, id, &fields, true).await
}

pub async fn mark_completed(
    conn: &mut ConnectionManager,
    prefix: &str,
    id: ProbeId,
    at: DateTime<Utc>,
) -> DomainResult<()> {
    let at = at.to_rfc3339();
    let fields = [("state", "completed"), ("completed_at", &at)];
    mark(conn, prefix, id, &fields, false).await
}

/// Sets the probe's `fields` (counting one more run when `count_run`), keeping it for another
/// day.
async fn mark(
    conn: &mut ConnectionManager,
    prefix: &str,
    id: ProbeId,
    fields: &[(&str, &str)],
    count_run: bool,
) -> DomainResult<()> {
    let k = key(prefix, id);
    let mut pipe = redis::pipe();
    pipe.atomic().hset_multiple(&k, fields);
    if count_run {
        pipe.hincr(&k, "runs", 1);
    }
    let _: () = pipe.expire(&k, TTL_SECS).query_async(conn).await?;
    Ok(())
}

/// The probe's state, or `None` if it is unknown (or older than a day).
pub async fn get(
    conn: &mut ConnectionManager,
    prefix: &str,
    id: ProbeId,
) -> DomainResult<Option<ProbeStatus>> {
    let fields: std::collections::HashMap<String, String> = conn.hgetall(key(prefix, id)).await?;
    let Some(state) = fields.get("state") else {
        return Ok(None);
    };
    let state = match state.as_str() {
        "started" => ProbeState::Started,
        "completed" => ProbeState::Completed,
        _ => ProbeState::Queued,
    };
    let time = |name: &str| {
        fields
            .get(name)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.to_utc())
    };
    Ok(Some(ProbeStatus {
        id,
        state,
        hold_ms: fields
            .get("hold_ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        queued_at: time("queued_at"),
        started_at: time("started_at"),
        completed_at: time("completed_at"),
        worker: fields.get("worker").cloned(),
        runs: fields.get("runs").and_then(|v| v.parse().ok()).unwrap_or(0),
    }))
}
