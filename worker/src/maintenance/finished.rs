//! Trims finished jobs from Redis (see [`crate::jobs::finished`]); once a minute is plenty.

use graphhook_domain::Services;

use crate::jobs::{JobError, finished};

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    finished::trim(ctx, finished::KEEP_DONE, finished::KEEP_DEAD).await
}
