//! A batch of one tenant's attempts, on its lane (see `graphhook_domain::delivery::engine`). The
//! job forgets its idempotency key first, so deliveries made due from then on push a new job.
//! An endpoint's failure is recorded and scheduled in Postgres, not a failed job: apalis-redis
//! would otherwise retry it on its own. Only trouble on our side (database, Redis) fails the
//! job, to run again. A batch flow control holds back briefly (in-flight cap, rate limit) asks
//! for a later one on the same lane; one held by an open circuit waits in Postgres for the
//! sweeper.

use graphhook_domain::delivery::engine::{self, Lane, batch::Batch, enqueue};

use super::JobError;
use graphhook_domain::Services;

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, lane = lane.as_str()))]
pub async fn run(tenant: uuid::Uuid, lane: Lane, ctx: &Services) -> Result<Batch, JobError> {
    enqueue::forget_pushed(&ctx.queues, tenant, lane)
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    let batch = engine::deliver_batch(ctx, tenant, lane).await?;
    tracing::debug!(
        claimed = batch.results.len(),
        sent = batch.sent(),
        full = batch.full,
        "delivery batch"
    );
    Ok(batch)
}
