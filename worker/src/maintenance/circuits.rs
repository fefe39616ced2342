//! Publishes how many endpoints' circuits are open (`graphhook_circuits_open`).

use crate::{context::JobContext, jobs::JobError};

pub async fn run(ctx: &JobContext) -> Result<u64, JobError> {
    metrics::gauge!("graphhook_circuits_open").set(ctx.flow.open_circuits().await? as f64);
    Ok(0)
}
