//! Publishes how many endpoints' circuits are open (`graphhook_circuits_open`).

use graphhook_domain::Services;

use crate::jobs::JobError;

pub async fn run(ctx: &Services) -> Result<u64, JobError> {
    metrics::gauge!("graphhook_circuits_open").set(ctx.flow.open_circuits().await? as f64);
    Ok(0)
}
