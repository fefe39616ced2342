//! Subscription upkeep (see `graphhook_domain::graph::subscriptions::upkeep`): the scheduler that
//! hands due subscriptions out, with a lease, as jobs; and the job that acts on one. When a job
//! is done, the tenant's next due subscription is handed out at once, so a tenant's backlog
//! flows at its concurrency limit instead of one batch per tick.

use graphhook_domain::{
    delivery::engine,
    graph::subscriptions::{
        act::{self, Done},
        upkeep::{self, Claimed},
    },
    platform::jobs::Upkeep,
};

use sea_orm::EntityTrait;

use super::{JobError, push_unique};
use graphhook_domain::Services;

/// Hands out what is due (of one tenant, or of all) and queues a job for each. Returns how many.
pub async fn schedule(
    ctx: &Services,
    tenant: Option<uuid::Uuid>,
    limit: u32,
) -> Result<usize, JobError> {
    let settings = &ctx.settings.subscriptions;
    let now = ctx.clock.now();
    let lease_until =
        now + chrono::Duration::seconds(i64::try_from(settings.upkeep_lease_secs).unwrap_or(300));
    let claimed = upkeep::claim_due(
        &ctx.db,
        now,
        lease_until,
        settings.upkeep_per_tenant,
        limit,
        tenant,
    )
    .await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let jobs = claimed.iter().map(|c| {
        let job = Upkeep {
            subscription: c.subscription,
            lease: c.lease,
        };
        (job, format!("upkeep:{}", c.lease))
    });
    // A failed push loses nothing: the lease expires and the subscription is handed out again.
    push_unique(ctx, jobs).await?;
    Ok(claimed.len())
}

#[tracing::instrument(skip_all, fields(subscription = %job.subscription))]
pub async fn run(job: Upkeep, ctx: &Services) -> Result<Done, JobError> {
    let claimed = Claimed {
        subscription: job.subscription,
        lease: job.lease,
    };
    let upkept = act::run(ctx, &claimed).await?;
    if !upkept.deliveries.is_empty()
        && let Err(error) = engine::push_deliveries(&ctx.queues, &upkept.deliveries).await
    {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
    }
    tracing::debug!(done = ?upkept.done, "subscription upkeep");
    if matches!(
        upkept.done,
        Done::Renewed | Done::Reauthorized | Done::Recreated | Done::Retrying | Done::Failed
    ) {
        let tenant = graphhook_domain::platform::entities::subscription::Entity::find_by_id(
            job.subscription,
        )
        .one(&ctx.db)
        .await
        .map_err(graphhook_domain::DomainError::from)?
        .map(|s| s.tenant_id);
        if let Some(tenant) = tenant {
            schedule(ctx, Some(tenant), 1).await?;
        }
    }
    Ok(upkept.done)
}

impl super::Handle for Upkeep {
    async fn handle(self, ctx: &Services) -> Result<(), JobError> {
        run(self, ctx).await.map(drop)
    }
}
