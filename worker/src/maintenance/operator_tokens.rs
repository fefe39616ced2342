//! Forgets revoked operator tokens once they would have expired anyway.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    Ok(graphhook_domain::operator::tokens::prune_revoked(&ctx.db, ctx.clock.now()).await?)
}
