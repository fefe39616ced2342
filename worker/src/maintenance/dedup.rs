//! Forgets inbound items whose deduplication window has passed.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    let dedup =
        chrono::Duration::hours(i64::try_from(ctx.settings.ingest.dedup_hours).unwrap_or(24));
    let pruned =
        graphhook_domain::graph::ingest::process::prune(&ctx.db, &ctx.clock, dedup, 5_000).await?;
    Ok(pruned)
}
