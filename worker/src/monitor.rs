//! The worker process: one apalis worker per queue, a ticker, and a small HTTP server.
//!
//! apalis 1.0 on Redis needs care, and each setting here answers a failure seen with it:
//! - every storage polls on an interval and on a wake-up (see [`crate::wake`]): without either
//!   an idle worker notices new jobs only at its next heartbeat;
//! - worker names are `{queue}.{instance}.r{restarts}` and `should_restart` restarts a dead
//!   worker: after a Redis connection drop the fetch loop dies, and a restart under the same
//!   name is refused while the old name still looks alive;
//! - heartbeats and the orphan timeout are explicit (see `Queues::config`);
//! - shutdown stops fetching and lets in-flight jobs finish within `shutdown_timeout_secs`;
//! - a worker can also stop without dying (a fetch that never returns): every lane is watched,
//!   and one that makes no progress while work waits is restarted (see [`crate::watchdog`]).

use std::{
    future::Future,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::Strategy;
use apalis_redis::RedisStorage;
use graphhook_domain::{
    Clock, Services, Settings,
    delivery::engine::Lane,
    platform::jobs::{
        Deliver, DeliverReplay, DeliverRetry, Job, Probe, ProcessInbound, QueueDepthsTick,
        Reconcile, Upkeep, VerifyConsent,
    },
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    http::{self, Health},
    jobs::{self, Handle, JobError},
    ticker,
    wake::{self, WakeUp, Wakeups},
    watchdog::{self, LaneConnection, Lanes, TrackJobsLayer, Watched},
};

/// After this many restarts of one worker, it is left dead and the process reports unhealthy,
/// so an orchestrator replaces it.
const MAX_RESTARTS: usize = 10_000;

/// A running worker process (or its in-process equivalent in tests and `graphhook dev`).
pub struct WorkerProcess {
    http_port: u16,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    health: Arc<Health>,
    lanes: Arc<Lanes>,
}

impl WorkerProcess {
    pub async fn start(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let ctx = Services::connect(settings, clock).await?;
        Self::start_with(ctx)
    }

    pub fn start_with(ctx: Services) -> anyhow::Result<Self> {
        let instance = ctx.settings.worker_instance();
        let health = Arc::new(Health::default());
        let (monitor, lanes, wakeups) = build_monitor(&ctx, &instance, health.clone());
        let (server, http_port) =
            http::serve(&ctx.settings, &instance, health.clone(), lanes.clone())?;
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let (stop, stopped) = watch::channel(false);
        let ticker = tokio::spawn(ticker::run(ctx.clone(), stopped.clone()));
        let watchdog = tokio::spawn(watchdog::run(ctx.clone(), lanes.clone(), stopped.clone()));
        let wake = tokio::spawn(wake::listen(ctx.clone(), wakeups, stopped.clone()));
        tracing::info!(%instance, http_port, "worker started");
        let task = tokio::spawn(async move {
            let signal = async move {
                wait_for_stop(stopped).await;
                tracing::info!("worker stopping: no new jobs are fetched, in-flight jobs finish");
                Ok(())
            };
            let result = monitor.run_with_signal(signal).await;
            let _ = ticker.await;
            let _ = watchdog.await;
            let _ = wake.await;
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
            lanes,
        })
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The lanes (one per queue) and what the watchdog did to them.
    pub fn lanes(&self) -> &Lanes {
        &self.lanes
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

fn build_monitor(
    ctx: &Services,
    instance: &str,
    health: Arc<Health>,
) -> (Monitor, Arc<Lanes>, Arc<Wakeups>) {
    let settings = &ctx.settings.worker;
    let monitor = Monitor::new()
        .on_event(|worker, event| {
            if let Event::Error(error) = event {
                tracing::warn!(worker = worker.name(), %error, "worker error");
            }
        })
        .shutdown_timeout(Duration::from_secs(settings.shutdown_timeout_secs));
    let mut lanes = Lanes::default();
    let mut wakeups = Wakeups::default();
    let at = &mut Registration {
        ctx,
        instance,
        lanes: &mut lanes,
        wakeups: &mut wakeups,
    };
    let monitor = register_lanes(monitor, at);
    let lanes = Arc::new(lanes);
    let wakeups = Arc::new(wakeups);
    let monitor = restart_policy(monitor, lanes.clone(), health);
    (monitor, lanes, wakeups)
}

/// Registers every queue's lane: the delivery lanes with their own capacities, the others with
/// `worker.concurrency`.
fn register_lanes(monitor: Monitor, at: &mut Registration<'_>) -> Monitor {
    let settings = &at.ctx.settings.worker;
    let monitor = register::<Probe, _, _>(monitor, at, settings.concurrency, handle_probe);
    // Each delivery lane has its own queue and capacity.
    let monitor = register::<Deliver, _, _>(
        monitor,
        at,
        settings.delivery_concurrency,
        |job: Deliver, ctx, _| deliver(job.tenant, Lane::Live, ctx),
    );
    let monitor = register::<DeliverRetry, _, _>(
        monitor,
        at,
        settings.retry_concurrency,
        |job: DeliverRetry, ctx, _| deliver(job.tenant, Lane::Retry, ctx),
    );
    let monitor = register::<DeliverReplay, _, _>(
        monitor,
        at,
        settings.replay_concurrency,
        |job: DeliverReplay, ctx, _| deliver(job.tenant, Lane::Replay, ctx),
    );
    let monitor = register_handled::<ProcessInbound>(monitor, at);
    let monitor = register_handled::<Upkeep>(monitor, at);
    let monitor = register_handled::<Reconcile>(monitor, at);
    let monitor = register_handled::<VerifyConsent>(monitor, at);
    register_handled::<QueueDepthsTick>(monitor, at)
}

/// Registers a job that needs only its payload and the services, on a lane of
/// `worker.concurrency`.
fn register_handled<J: Handle>(monitor: Monitor, at: &mut Registration<'_>) -> Monitor {
    let concurrency = at.ctx.settings.worker.concurrency;
    register::<J, _, _>(
        monitor,
        at,
        concurrency,
        |job: J, ctx: Data<Services>, _| async move { done(job.handle(&ctx).await) },
    )
}

/// Restarts a worker that died (or that the watchdog stopped), up to [`MAX_RESTARTS`].
fn restart_policy(monitor: Monitor, restart_lanes: Arc<Lanes>, health: Arc<Health>) -> Monitor {
    // Every registered worker shares this callback, set once all are registered.
    monitor.should_restart(move |worker, error| {
        let by_watchdog = restart_lanes.stopped_by_watchdog(worker.name());
        let restarts = if by_watchdog {
            health.restarts.load(Ordering::Relaxed)
        } else {
            metrics::counter!("graphhook_worker_restarts_total").increment(1);
            health.restarts.fetch_add(1, Ordering::Relaxed) + 1
        };
        if worker.restarts() >= MAX_RESTARTS {
            tracing::error!(worker = worker.name(), %error, "worker keeps dying; giving up on it");
            health.gave_up.store(true, Ordering::Relaxed);
            return false;
        }
        if by_watchdog {
            tracing::info!(
                worker = worker.name(),
                "starting a new worker for the lane the watchdog stopped"
            );
        } else {
            tracing::warn!(worker = worker.name(), %error, restarts, "worker died; restarting it");
        }
        true
    })
}

/// What registering a lane needs.
struct Registration<'a> {
    ctx: &'a Services,
    instance: &'a str,
    lanes: &'a mut Lanes,
    wakeups: &'a mut Wakeups,
}

/// Registers the apalis worker of one job type: its lane, watched (see [`crate::watchdog`]).
fn register<J, F, Fut>(
    monitor: Monitor,
    at: &mut Registration<'_>,
    concurrency: usize,
    handler: F,
) -> Monitor
where
    J: Job,
    F: Fn(J, Data<Services>, WorkerContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let ctx = at.ctx.clone();
    let instance = at.instance.to_owned();
    let lane = at.lanes.add(J::QUEUE, concurrency);
    let wake = at.wakeups.add(J::QUEUE);
    let settings = &ctx.settings.worker;
    let poll_interval_ms = if J::QUEUE.starts_with(Deliver::QUEUE) {
        settings.delivery_poll_interval_ms
    } else {
        settings.poll_interval_ms
    };
    monitor.register(move |restarts| {
        let settings = &ctx.settings.worker;
        let name = worker_name(J::QUEUE, &instance, restarts);
        let connection = LaneConnection::new(ctx.queues.connection(), lane.clone());
        let storage = RedisStorage::<J, LaneConnection>::new(connection)
            .with_config(ctx.queues.config(J::QUEUE))
            // A wake-up fetches at once; the interval is the fallback (see [`crate::wake`]).
            .poll_with_strategy(
                Strategy::new()
                    .apply(WakeUp::new(wake.clone()))
                    .interval(Duration::from_millis(poll_interval_ms)),
            );
        WorkerBuilder::new(name.clone())
            .backend(Watched::new(storage, lane.clone(), &name))
            .concurrency(concurrency)
            .layer(TrackJobsLayer::new(lane.clone()))
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
    ctx: Data<Services>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    jobs::probe::run(job, &ctx, worker.name())
        .await
        .map_err(JobError::into_apalis)
}

/// A job's result as apalis takes it: what the job reports is for its tests and callers.
fn done<T>(result: Result<T, JobError>) -> Result<(), BoxDynError> {
    result.map(|_| ()).map_err(JobError::into_apalis)
}

async fn deliver(tenant: uuid::Uuid, lane: Lane, ctx: Data<Services>) -> Result<(), BoxDynError> {
    done(jobs::deliver::run(tenant, lane, &ctx).await)
}
