//! Publishes how soon the nearest subscription expires
//! (`graphhook_subscription_nearest_expiry_seconds`).

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    if let Some(nearest) =
        graphhook_domain::graph::subscriptions::upkeep::nearest_expiry(&ctx.db).await?
    {
        let secs = (nearest - ctx.clock.now()).num_seconds() as f64;
        metrics::gauge!("graphhook_subscription_nearest_expiry_seconds").set(secs);
    }
    Ok(0)
}
