//! One module per job. Each exposes `run(payload, &Services, …)`: plain inputs, no apalis
//! types, so tests call it directly; the apalis adapters live in [`crate::monitor`].

pub mod deliver;
pub mod finished;
pub mod ingest;
pub mod probe;
pub mod queue_depths;
pub mod reconcile;
pub mod upkeep;
pub mod verify_consent;

use apalis::prelude::{AbortError, BoxDynError};
use graphhook_domain::{Services, platform::jobs::Job};

/// How a job failed: `Retry` hands it back to the queue to run again later; `Permanent` stops
/// it (apalis-redis would otherwise retry every failure up to 25 times on its own).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0:#}")]
    Retry(anyhow::Error),
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<graphhook_domain::DomainError> for JobError {
    fn from(err: graphhook_domain::DomainError) -> Self {
        if err.is_transient() {
            JobError::Retry(err.into())
        } else {
            JobError::Permanent(err.into())
        }
    }
}

impl From<redis::RedisError> for JobError {
    fn from(err: redis::RedisError) -> Self {
        JobError::Retry(err.into())
    }
}

/// A job that needs only its payload and the services: the monitor registers every such queue
/// the same way (probes and deliveries take more, and have adapters of their own).
pub trait Handle: Job {
    /// Runs the job; what it reports is for its tests and callers, not for apalis.
    fn handle(self, ctx: &Services) -> impl Future<Output = Result<(), JobError>> + Send;
}

impl JobError {
    /// The error apalis understands.
    pub fn into_apalis(self) -> BoxDynError {
        match self {
            JobError::Retry(e) => e.into(),
            JobError::Permanent(e) => Box::new(AbortError::new(e)),
        }
    }
}

/// Queues `jobs`, each under its idempotency key (one still queued under its key is not queued
/// again). A failed push is retried.
async fn push_unique<J: Job>(
    ctx: &Services,
    jobs: impl IntoIterator<Item = (J, String)>,
) -> Result<(), JobError> {
    let jobs: Vec<(J, String)> = jobs.into_iter().collect();
    ctx.queues
        .push_many_unique(&jobs)
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    Ok(())
}
