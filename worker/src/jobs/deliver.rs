//! One attempt of a delivery, on its lane. An endpoint's failure is recorded and scheduled in
//! Postgres, not a failed job: apalis-redis would otherwise retry it on its own. Only trouble on
//! our side (database, Redis) fails the job, to run again. An attempt flow control holds back
//! briefly (in-flight cap, rate limit) is pushed again for later on the same lane; one held by
//! an open circuit waits in Postgres for the sweeper.

use graphhook_domain::deliveries::{self, Attempted, Lane, Trigger};

use super::JobError;
use crate::context::JobContext;

#[tracing::instrument(skip_all, fields(delivery = %delivery, lane = lane.as_str()))]
pub async fn run(
    delivery: uuid::Uuid,
    lane: Lane,
    ctx: &JobContext,
) -> Result<Attempted, JobError> {
    let attempted = deliveries::attempt(&ctx.delivery_deps(), delivery, Trigger::Scheduled).await?;
    if let Attempted::Held {
        retry_in: Some(delay),
        ..
    } = &attempted
    {
        deliveries::push_later(&ctx.queues, lane, delivery, *delay)
            .await
            .map_err(|e| JobError::Retry(e.into()))?;
    }
    tracing::debug!(?attempted, "delivery attempt");
    Ok(attempted)
}
