//! One attempt of a delivery. An endpoint's failure is recorded and scheduled in Postgres, not a
//! failed job: apalis-redis would otherwise retry it on its own. Only trouble on our side
//! (database, Redis) fails the job, to run again.

use graphhook_domain::{
    deliveries::{self, Attempted, Trigger},
    jobs::Deliver,
};

use super::JobError;
use crate::context::JobContext;

#[tracing::instrument(skip_all, fields(delivery = %job.delivery))]
pub async fn run(job: Deliver, ctx: &JobContext) -> Result<Attempted, JobError> {
    let attempted =
        deliveries::attempt(&ctx.delivery_deps(), job.delivery, Trigger::Scheduled).await?;
    tracing::debug!(?attempted, "delivery attempt");
    Ok(attempted)
}
