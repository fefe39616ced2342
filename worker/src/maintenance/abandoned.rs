//! Removes the connections nobody signed in to, a week after their sign-in link expired.

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    Ok(graphhook_domain::tenancy::connections::deletion::remove_abandoned(ctx).await?)
}
