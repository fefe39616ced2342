//! The worker process: one apalis worker per queue, a ticker, and a small HTTP server.
//!
//! apalis 1.0 on Redis needs care, and each setting here answers a failure seen with it:
//! - every storage polls (`poll_with_interval`): without it an idle worker notices new jobs
//!   only at its next heartbeat;
//! - worker names are `{queue}.{instance}.r{restarts}` and `should_restart` restarts a dead
//!   worker: after a Redis connection drop the fetch loop dies, and a restart under the same
//!   name is refused while the old name still looks alive;
//! - heartbeats and the orphan timeout are explicit (see `Queues::config`);
//! - shutdown stops fetching and lets in-flight jobs finish within `shutdown_timeout_secs`.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use apalis::prelude::*;
use graphhook_domain::{
    Clock, Settings,
    deliveries::Lane,
    jobs::{
        Deliver, DeliverReplay, DeliverRetry, Job, Probe, ProcessInbound, QueueDepthsTick, Upkeep,
        VerifyConsent,
    },
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    context::JobContext,
    http,
    jobs::{self, JobError},
    ticker,
};

/// After this many restarts of one worker, it is left dead and the process reports unhealthy,
/// so an orchestrator replaces it.
const MAX_RESTARTS: usize = 10_000;

/// Liveness shared with the worker's `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    pub restarts: AtomicUsize,
    pub gave_up: AtomicBool,
}

/// A running worker process (or its in-process equivalent in tests and `graphhook dev`).
pub struct WorkerProcess {
    http_port: u16,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    health: Arc<Health>,
}

impl WorkerProcess {
    pub async fn start(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let ctx = JobContext::connect(settings, clock).await?;
        Self::start_with(ctx)
    }

    pub fn start_with(ctx: JobContext) -> anyhow::Result<Self> {
        let instance = ctx.settings.worker_instance();
        let health = Arc::new(Health::default());
        let (server, http_port) = http::serve(&ctx.settings, &instance, health.clone())?;
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let (stop, stopped) = watch::channel(false);
        let ticker = tokio::spawn(ticker::run(ctx.clone(), stopped.clone()));
        let monitor = build_monitor(&ctx, &instance, health.clone());
        tracing::info!(%instance, http_port, "worker started");
        let task = tokio::spawn(async move {
            let signal = async move {
                wait_for_stop(stopped).await;
                tracing::info!("worker stopping: no new jobs are fetched, in-flight jobs finish");
                Ok(())
            };
            let result = monitor.run_with_signal(signal).await;
            let _ = ticker.await;
            server_handle.stop(true).await;
            let _ = server_task.await;
            tracing::info!("worker stopped");
            result.map_err(|e| anyhow::anyhow!("worker monitor: {e}"))
        });
        Ok(Self {
            http_port,
            stop,
            task,
            health,
        })
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Asks the worker to stop without waiting.
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops fetching, waits for in-flight jobs (up to `worker.shutdown_timeout_secs`), stops.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.request_stop();
        self.wait().await
    }

    /// Waits until the worker has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task
            .await
            .map_err(|e| anyhow::anyhow!("worker task: {e}"))?
    }
}

async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

pub fn worker_name(queue: &str, instance: &str, restarts: usize) -> String {
    format!("{queue}.{instance}.r{restarts}")
}

fn build_monitor(ctx: &JobContext, instance: &str, health: Arc<Health>) -> Monitor {
    let settings = &ctx.settings.worker;
    let restart_health = health.clone();
    let monitor = Monitor::new()
        .should_restart(move |worker, error| {
            let restarts = restart_health.restarts.fetch_add(1, Ordering::Relaxed) + 1;
            metrics::counter!("graphhook_worker_restarts_total").increment(1);
            if worker.restarts() >= MAX_RESTARTS {
                tracing::error!(worker = worker.name(), %error, "worker keeps dying; giving up on it");
                restart_health.gave_up.store(true, Ordering::Relaxed);
                return false;
            }
            tracing::warn!(worker = worker.name(), %error, restarts, "worker died; restarting it");
            true
        })
        .on_event(|worker, event| {
            if let Event::Error(error) = event {
                tracing::warn!(worker = worker.name(), %error, "worker error");
            }
        })
        .shutdown_timeout(Duration::from_secs(settings.shutdown_timeout_secs));
    let general = settings.concurrency;
    let monitor = register::<Probe, _, _>(monitor, ctx, instance, general, handle_probe);
    // Each delivery lane has its own queue and capacity.
    let monitor = register::<Deliver, _, _>(
        monitor,
        ctx,
        instance,
        settings.delivery_concurrency,
        |job: Deliver, ctx, _| deliver(job.delivery, Lane::Live, ctx),
    );
    let monitor = register::<DeliverRetry, _, _>(
        monitor,
        ctx,
        instance,
        settings.retry_concurrency,
        |job: DeliverRetry, ctx, _| deliver(job.delivery, Lane::Retry, ctx),
    );
    let monitor = register::<DeliverReplay, _, _>(
        monitor,
        ctx,
        instance,
        settings.replay_concurrency,
        |job: DeliverReplay, ctx, _| deliver(job.delivery, Lane::Replay, ctx),
    );
    let monitor = register::<ProcessInbound, _, _>(
        monitor,
        ctx,
        instance,
        general,
        |job: ProcessInbound, ctx: Data<JobContext>, _| async move {
            jobs::ingest::run(job, &ctx)
                .await
                .map(|_| ())
                .map_err(JobError::into_apalis)
        },
    );
    let monitor = register::<Upkeep, _, _>(
        monitor,
        ctx,
        instance,
        general,
        |job: Upkeep, ctx: Data<JobContext>, _| async move {
            jobs::upkeep::run(job, &ctx)
                .await
                .map(|_| ())
                .map_err(JobError::into_apalis)
        },
    );
    let monitor =
        register::<VerifyConsent, _, _>(monitor, ctx, instance, general, handle_verify_consent);
    register::<QueueDepthsTick, _, _>(monitor, ctx, instance, general, handle_queue_depths)
}

/// Registers the apalis worker of one job type.
fn register<J, F, Fut>(
    monitor: Monitor,
    ctx: &JobContext,
    instance: &str,
    concurrency: usize,
    handler: F,
) -> Monitor
where
    J: Job,
    F: Fn(J, Data<JobContext>, WorkerContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let ctx = ctx.clone();
    let instance = instance.to_owned();
    let settings = &ctx.settings.worker;
    let poll_interval_ms = if J::QUEUE.starts_with(Deliver::QUEUE) {
        settings.delivery_poll_interval_ms
    } else {
        settings.poll_interval_ms
    };
    monitor.register(move |restarts| {
        let settings = &ctx.settings.worker;
        WorkerBuilder::new(worker_name(J::QUEUE, &instance, restarts))
            .backend(
                ctx.queues
                    .storage::<J>()
                    .poll_with_interval(Duration::from_millis(poll_interval_ms)),
            )
            .concurrency(concurrency)
            .timeout(Duration::from_secs(settings.job_timeout_secs))
            .catch_panic()
            .enable_tracing()
            .parallelize(tokio::spawn)
            .data(ctx.clone())
            .build(handler.clone())
    })
}

async fn handle_probe(
    job: Probe,
    ctx: Data<JobContext>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    jobs::probe::run(job, &ctx, worker.name())
        .await
        .map_err(JobError::into_apalis)
}

async fn handle_queue_depths(
    job: QueueDepthsTick,
    ctx: Data<JobContext>,
    _worker: WorkerContext,
) -> Result<(), BoxDynError> {
    jobs::queue_depths::run(job, &ctx)
        .await
        .map(|_| ())
        .map_err(JobError::into_apalis)
}

async fn handle_verify_consent(
    job: VerifyConsent,
    ctx: Data<JobContext>,
    _worker: WorkerContext,
) -> Result<(), BoxDynError> {
    jobs::verify_consent::run(job, &ctx)
        .await
        .map(|_| ())
        .map_err(JobError::into_apalis)
}

async fn deliver(
    delivery: uuid::Uuid,
    lane: Lane,
    ctx: Data<JobContext>,
) -> Result<(), BoxDynError> {
    jobs::deliver::run(delivery, lane, &ctx)
        .await
        .map(|_| ())
        .map_err(JobError::into_apalis)
}
