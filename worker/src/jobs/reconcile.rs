//! The reconciler (see `graphhook_domain::graph::subscriptions::reconcile`): each maintenance tick
//! hands out the tenants that are due, and a job per tenant compares its Graph subscriptions
//! with its rows. Graph calls stay out of the tick, so a slow Graph never delays it.

use graphhook_domain::{
    graph::subscriptions::reconcile::{self, Reconciled},
    platform::jobs::Reconcile,
};

use super::{JobError, push_unique};
use graphhook_domain::Services;

/// Hands out up to `limit` tenants due for reconciliation and queues a job for each. A push
/// that fails costs those tenants their turn until they are due again.
pub async fn schedule(ctx: &Services, limit: u32) -> Result<usize, JobError> {
    let now = ctx.clock.now();
    let tenants = reconcile::claim_due(&ctx.db, &ctx.settings, now, limit).await?;
    if tenants.is_empty() {
        return Ok(0);
    }
    let jobs = tenants.iter().map(|tenant| {
        let key = format!("reconcile:{tenant}:{}", now.timestamp());
        (Reconcile { tenant: *tenant }, key)
    });
    push_unique(ctx, jobs).await?;
    Ok(tenants.len())
}

#[tracing::instrument(skip_all, fields(tenant = %job.tenant))]
pub async fn run(job: Reconcile, ctx: &Services) -> Result<Reconciled, JobError> {
    let done = reconcile::run(ctx, job.tenant).await?;
    if done != Reconciled::default() {
        tracing::info!(?done, "reconciled the tenant's subscriptions");
    }
    Ok(done)
}

impl super::Handle for Reconcile {
    async fn handle(self, ctx: &Services) -> Result<(), JobError> {
        run(self, ctx).await.map(drop)
    }
}
