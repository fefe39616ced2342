//! Forgets revoked operator tokens once they would have expired anyway.

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    Ok(graphhook_domain::operator::tokens::prune_revoked(&ctx.db, ctx.clock.now()).await?)
}
