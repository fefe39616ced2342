//! Finishing an onboarding whose consent has not reached Entra's token service yet: fetch a
//! fresh token for the tenant; once it carries roles, record them (the tenant becomes `active`);
//! until then, check again after `onboarding.verify_interval_secs`, for at most
//! `onboarding.verify_timeout_secs`.

use std::time::Duration;

use graphhook_domain::{
    operator::audit::{self, Actor, NewEntry},
    platform::entities::tenant::TenantStatus,
    platform::jobs::VerifyConsent,
    tenancy::tenants::{self, AccessError, ConsentProof},
};
use serde_json::json;

use super::JobError;
use graphhook_domain::Services;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The roles arrived; the tenant is active.
    Confirmed,
    /// Not yet; another check is queued.
    Retrying,
    /// Nothing to do (no longer pending), or the attempts ran out.
    Stopped,
}

#[tracing::instrument(skip_all, fields(tenant = %job.tenant, attempt = job.attempt))]
pub async fn run(job: VerifyConsent, ctx: &Services) -> Result<Outcome, JobError> {
    let Some(tenant) = tenants::find(&ctx.db, job.tenant).await? else {
        return Ok(Outcome::Stopped);
    };
    if tenant.status != TenantStatus::Pending {
        return Ok(Outcome::Stopped);
    }
    let settings = &ctx.settings.onboarding;
    let interval = settings.verify_interval_secs.max(1);
    let max_attempts = settings.verify_timeout_secs.div_ceil(interval).max(1);
    // The administrator who consented, when the job knows them (jobs queued before it did
    // name the onboarding itself).
    let actor = job
        .administrator
        .as_ref()
        .map_or_else(|| Actor::system("onboarding"), Actor::administrator);
    match tenants::access_token(&ctx.db, &ctx.clock, &ctx.broker, &tenant, true).await {
        Ok(token) if !token.claims.roles.is_empty() => {
            let proof = ConsentProof {
                entra_tenant_id: tenant.entra_tenant_id,
                roles: token.claims.roles.clone(),
            };
            tenants::record_consent(&ctx.db, &ctx.clock, &proof, &tenant.name, actor, None).await?;
            tracing::info!("consent confirmed");
            return Ok(Outcome::Confirmed);
        }
        Ok(_) => tracing::info!("the token carries no roles yet"),
        Err(AccessError::Token(error))
            if error.aadsts().is_some_and(|c| c == 700016 || c == 65001) =>
        {
            // Moved to consent_revoked by access_token.
            tracing::warn!(%error, "consent is gone");
            return Ok(Outcome::Stopped);
        }
        Err(error @ (AccessError::Token(_) | AccessError::Reauthorize { .. })) => {
            tracing::warn!(%error, "could not check the consent");
        }
        Err(AccessError::Domain(error)) => return Err(error.into()),
    }
    if u64::from(job.attempt) + 1 >= max_attempts {
        let entry = NewEntry::new(actor, "onboarding.verification_gave_up")
            .tenant(job.tenant)
            .target("tenant", job.tenant)
            .details(json!({"attempts": job.attempt + 1}));
        audit::record(&ctx.db, &ctx.clock, entry).await?;
        return Ok(Outcome::Stopped);
    }
    let next = VerifyConsent {
        tenant: job.tenant,
        attempt: job.attempt + 1,
        administrator: job.administrator.clone(),
    };
    ctx.queues
        .push_delayed(&next, Duration::from_secs(interval))
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    Ok(Outcome::Retrying)
}

impl super::Handle for VerifyConsent {
    async fn handle(self, ctx: &Services) -> Result<(), JobError> {
        run(self, ctx).await.map(drop)
    }
}
