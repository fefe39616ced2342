//! Inbound batches whose processing job was lost go back on the queue.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let after = chrono::Duration::seconds(
        i64::try_from(ctx.settings.ingest.sweep_after_secs).unwrap_or(30),
    );
    let requeued = graphhook_domain::graph::ingest::sweep_unprocessed(
        &ctx.db,
        &ctx.clock,
        &ctx.queues,
        after,
        500,
    )
    .await?;
    Ok(requeued as u64)
}
