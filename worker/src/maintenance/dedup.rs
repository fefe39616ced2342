//! Forgets inbound items whose deduplication window has passed.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    let dedup =
        chrono::Duration::hours(i64::try_from(ctx.settings.ingest.dedup_hours).unwrap_or(24));
    let pruned =
        graphhook_domain::graph::ingest::process::prune(&ctx.db, &ctx.clock, dedup, 5_000).await?;
    Ok(pruned)
}
