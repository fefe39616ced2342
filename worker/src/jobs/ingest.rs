//! Processing of inbound batches, those a receiver wrote together (see
//! `graphhook_domain::graph::ingest`). Trouble on our side
//! (database, Redis) fails the job to run again; a batch processed twice delivers nothing twice.

use graphhook_domain::{
    graph::ingest::process::{self, Processed},
    platform::jobs::ProcessInbound,
};

use super::JobError;
use graphhook_domain::Services;

#[tracing::instrument(skip_all, fields(batch = %job.batch, more = job.more.len()))]
pub async fn run(job: ProcessInbound, ctx: &Services) -> Result<Processed, JobError> {
    let mut ids = job.more;
    ids.push(job.batch);
    let processed = process::process_batches(ctx, &ids).await?;
    tracing::debug!(?processed, "inbound batch processed");
    if processed.actions > 0 {
        // Lifecycle events asked for actions: hand them out now rather than at the next tick.
        super::upkeep::schedule(ctx, None, ctx.settings.subscriptions.upkeep_batch).await?;
    }
    Ok(processed)
}

impl super::Handle for ProcessInbound {
    async fn handle(self, ctx: &Services) -> Result<(), JobError> {
        run(self, ctx).await.map(drop)
    }
}
