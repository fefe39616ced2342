//! Trims finished jobs from Redis (see [`crate::jobs::finished`]); once a minute is plenty.

use crate::{
    context::JobContext,
    jobs::{JobError, finished},
};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    finished::trim(ctx, finished::KEEP_DONE, finished::KEEP_DEAD).await
}
