//! `graphhook bench pipeline`: the whole path a change takes, measured end to end with the real
//! processes. The api and the workers run as separate OS processes (this executable, as in
//! production); a load generator POSTs Graph change notifications for real subscriptions of
//! several tenants to `/graph/notifications`; local receivers, one per endpoint, verify each
//! webhook's Standard Webhooks signature and note when it arrived.
//!
//! It finds the pipeline's saturation closed loop, then runs open loop at 50 % and 80 % of it
//! (and at `--rate`), and prints notifications/s end to end, the latency from the POST to each
//! webhook's arrival, the children's peak memory, the TCP connections each endpoint saw, and the
//! generator's own ceiling against a bare server in the same run. It fails unless every
//! acknowledged notification arrived exactly once at each endpoint of its tenant.
//!
//! It runs in a database and a Redis key prefix of its own, dropped at the end.

mod children;
mod ledger;
mod load;
mod receiver;
mod report;
mod seed;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use graphhook_domain::{Clock, Services, Settings, platform::db};
use graphhook_migrations::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;

use crate::{
    bench::{Report, memory_mib, run_isolated},
    bench_http::{Answers, start_bare},
};
use children::{Children, free_port};
use ledger::{Ledger, RunFigures};
use load::{Pace, Run};
use receiver::{Listeners, Receivers};

/// The event type the generator's notifications become (Outlook message, created).
const EVENT_TYPE: &str = "graph.message.created";

/// How long the drain waits without a single webhook arriving before it counts the rest lost.
const STALL: Duration = Duration::from_secs(30);

/// After the last run, how long to keep listening for late duplicates.
const LINGER: Duration = Duration::from_secs(1);

pub struct PipelineOptions {
    pub tenants: usize,
    /// Endpoints per tenant.
    pub endpoints: usize,
    /// Worker processes.
    pub workers: usize,
    /// Notifications per POST.
    pub items: usize,
    /// Each run sends for this long (the closed loop after its warm-up).
    pub seconds: u64,
    /// The generator's keep-alive connections to the api.
    pub connections: usize,
    /// The closed loop's bound on notifications sent and not yet arrived everywhere.
    pub window: usize,
    /// Also run open loop at this many notifications per second.
    pub rate: Option<f64>,
    /// At most this many notifications per run.
    pub limit: Option<u64>,
    pub smoke: bool,
    pub keep_database: bool,
    /// The settings file, passed on to the children.
    pub config: Option<PathBuf>,
}

/// A benchmark tenant's subscription, as the generator needs it.
#[derive(Clone)]
pub(crate) struct Subscription {
    /// The tenant's number (its endpoints are `tenant * endpoints ..`).
    tenant: usize,
    graph_id: String,
    client_state: String,
    entra_tenant: uuid::Uuid,
    user: uuid::Uuid,
}

#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn pipeline(settings: Settings, options: PipelineOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.tenants > 0
            && options.endpoints > 0
            && options.workers > 0
            && options.items > 0
            && options.seconds > 0
            && options.connections > 0,
        "--tenants, --endpoints, --workers, --items, --seconds and --connections must be at least 1"
    );
    anyhow::ensure!(
        options.window >= options.items,
        "--window must hold at least one POST's notifications (--items)"
    );
    anyhow::ensure!(
        options.rate.is_none_or(|r| r.is_finite() && r > 0.0),
        "--rate must be a positive number of notifications per second"
    );
    let does = "delivers to loopback receivers";
    run_isolated(settings, does, options.keep_database, async |settings| {
        // Ctrl-C ends the run (its children with it) and still drops the database.
        tokio::select! {
            result = run(settings, &options) => result,
            _ = crate::commands::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
        }
    })
    .await
}

async fn run(settings: &Settings, options: &PipelineOptions) -> anyhow::Result<Report> {
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    db.close().await.ok();
    let ctx = Services::connect(settings.clone(), Clock::system()).await?;
    let listeners = Listeners::bind(options.tenants * options.endpoints)?;
    let urls = listeners
        .ports
        .iter()
        .enumerate()
        .map(|(i, port)| url::Url::parse(&format!("http://127.0.0.1:{port}/hook/{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let (subscriptions, secrets) =
        seed::seed(&ctx, options.tenants, options.endpoints, &urls).await?;
    ctx.db.close().await.ok();
    let ledger = Arc::new(Ledger::new(options.endpoints, options.window));
    let receivers = Receivers::start(listeners, &secrets, ledger.clone())?;
    let result = measure(settings, options, &subscriptions, &ledger, &receivers).await;
    receivers.stop().await;
    result
}

/// One measured run, as the report shows it.
struct Phase {
    name: String,
    /// Notifications per second asked for (open loop).
    offered: Option<f64>,
    sent: Answers,
    figures: RunFigures,
    /// TCP connections the receivers accepted during the run and its drain.
    connections: u64,
    /// Whether everything acknowledged arrived (otherwise the drain gave up).
    drained: bool,
}

/// Everything `measure` found, for the report.
struct Measured {
    ceiling: Answers,
    phases: Vec<Phase>,
    connections: Vec<u64>,
    rss: Vec<(String, f64)>,
    own_rss: f64,
}

/// The children's environment: the benchmark's database and Redis prefix, development mode,
/// no per-address limit (every POST comes from 127.0.0.1).
fn child_env(settings: &Settings) -> Vec<(String, String)> {
    vec![
        ("GRAPHHOOK__MODE".to_owned(), "development".to_owned()),
        (
            "GRAPHHOOK__DATABASE__URL".to_owned(),
            settings.database.url.expose_secret().to_owned(),
        ),
        (
            "GRAPHHOOK__REDIS__KEY_PREFIX".to_owned(),
            settings.redis.key_prefix.clone(),
        ),
        (
            "GRAPHHOOK__INGEST__MAX_REQUESTS_PER_SEC_PER_ADDRESS".to_owned(),
            "0".to_owned(),
        ),
        // As quiet as this process (warnings only unless asked otherwise): a log line per
        // request would cost the children CPU.
        (
            "GRAPHHOOK__LOG__FILTER".to_owned(),
            settings.log.filter.clone(),
        ),
    ]
}

async fn start_children(
    settings: &Settings,
    options: &PipelineOptions,
) -> anyhow::Result<(Children, u16)> {
    let mut children = Children::default();
    let config = options.config.as_deref();
    let api_port = free_port()?;
    let mut env = child_env(settings);
    env.push((
        "GRAPHHOOK__API__LISTEN".to_owned(),
        format!("127.0.0.1:{api_port}"),
    ));
    env.push((
        "GRAPHHOOK__API__PUBLIC_BASE_URL".to_owned(),
        format!("http://127.0.0.1:{api_port}"),
    ));
    children.spawn(
        "api",
        "api",
        config,
        &env,
        format!("http://127.0.0.1:{api_port}/readyz"),
    )?;
    for w in 0..options.workers {
        let port = free_port()?;
        let mut env = child_env(settings);
        env.push((
            "GRAPHHOOK__WORKER__LISTEN".to_owned(),
            format!("127.0.0.1:{port}"),
        ));
        children.spawn(
            &format!("worker {w}"),
            "worker",
            config,
            &env,
            format!("http://127.0.0.1:{port}/healthz"),
        )?;
    }
    children.wait_ready().await?;
    Ok((children, api_port))
}

/// The generator's own ceiling: the same POSTs to a server that only answers 202.
async fn measure_ceiling<'a>(
    settings: &Settings,
    options: &PipelineOptions,
    run: impl FnOnce(u16) -> Run<'a>,
) -> anyhow::Result<Answers> {
    let (bare_port, bare) = start_bare(settings.api.workers, settings.ingest.max_body_bytes)?;
    let scratch = Arc::new(Ledger::new(options.endpoints, options.window));
    let ceiling = load::drive(&run(bare_port), &scratch).await;
    bare.stop(true).await;
    ceiling
}

async fn measure(
    settings: &Settings,
    options: &PipelineOptions,
    subscriptions: &[Subscription],
    ledger: &Arc<Ledger>,
    receivers: &Receivers,
) -> anyhow::Result<Report> {
    let (mut children, api_port) = start_children(settings, options).await?;
    let seconds = Duration::from_secs(options.seconds);
    let run = |index, port, pace, duration| Run {
        index,
        port,
        subscriptions,
        items: options.items,
        connections: options.connections,
        pace,
        duration,
        limit: options.limit,
    };

    let ceiling = measure_ceiling(settings, options, |port| {
        run(0, port, Pace::Unbounded, seconds)
    })
    .await?;

    let mut phases = Vec::new();
    // Saturation: closed loop, the window full all the time; the warm-up fills the pipeline.
    let warm_up = if options.limit.is_some() {
        Duration::ZERO
    } else {
        Duration::from_secs(options.seconds.div_ceil(5).min(2))
    };
    let from = ledger.ns(Instant::now() + warm_up);
    let phase = run_phase(
        &run(1, api_port, Pace::Window, warm_up + seconds),
        from,
        ledger,
        receivers,
        &mut children,
    )
    .await?;
    let saturation = phase.figures.throughput;
    phases.push(Phase {
        name: "saturation (closed loop)".into(),
        offered: None,
        ..phase
    });
    anyhow::ensure!(
        saturation > 0.0,
        "no notification arrived at every endpoint in the closed-loop run"
    );
    for (name, rate) in open_loop_rates(saturation, options.rate) {
        let index = phases.len() + 1;
        let from = ledger.now();
        let phase = run_phase(
            &run(index, api_port, Pace::Open(rate), seconds),
            from,
            ledger,
            receivers,
            &mut children,
        )
        .await?;
        phases.push(Phase {
            name: format!("{name} (open loop)"),
            offered: Some(rate),
            ..phase
        });
    }
    // Late duplicates (a redelivery, a batch processed twice) would come now.
    tokio::time::sleep(LINGER).await;
    children.check_alive()?;
    let rss = children.peak_rss();
    children.stop();
    let measured = Measured {
        ceiling,
        phases,
        connections: receivers.connections(),
        rss,
        own_rss: memory_mib().0,
    };
    let verdict = ledger.verdict();
    let failure = (!verdict.passed()).then(|| report::failure(&verdict));
    Ok(Report {
        lines: report::lines(options, &measured, &verdict),
        failure,
    })
}

/// The open-loop runs below saturation, and at `--rate` if asked for.
fn open_loop_rates(saturation: f64, asked: Option<f64>) -> Vec<(String, f64)> {
    let mut rates = vec![
        ("50 % of saturation".to_owned(), saturation * 0.5),
        ("80 % of saturation".to_owned(), saturation * 0.8),
    ];
    if let Some(rate) = asked {
        rates.push(("--rate".to_owned(), rate));
    }
    rates
}

/// Sends one run, waits until it has arrived, and reads its figures from `from` (ns) on.
async fn run_phase(
    run: &Run<'_>,
    from: u64,
    ledger: &Arc<Ledger>,
    receivers: &Receivers,
    children: &mut Children,
) -> anyhow::Result<Phase> {
    let before: u64 = receivers.connections().iter().sum();
    let sent = match load::drive(run, ledger).await {
        Ok(sent) => sent,
        // A child that died is the better explanation of a failed POST.
        Err(error) => {
            children.check_alive()?;
            return Err(error);
        }
    };
    let drained = drain(ledger, run.index, children).await?;
    let after: u64 = receivers.connections().iter().sum();
    Ok(Phase {
        name: String::new(),
        offered: None,
        sent,
        figures: ledger.figures(run.index, from),
        connections: after - before,
        drained,
    })
}

/// Waits until every acknowledged notification of `run` arrived everywhere; gives up (false)
/// after [`STALL`] without any webhook arriving. Fails if a child died.
async fn drain(ledger: &Ledger, run: usize, children: &mut Children) -> anyhow::Result<bool> {
    let mut last = (ledger.received(), Instant::now());
    loop {
        if ledger.outstanding(run) == 0 {
            return Ok(true);
        }
        children.check_alive()?;
        let received = ledger.received();
        if received != last.0 {
            last = (received, Instant::now());
        } else if last.1.elapsed() > STALL {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
