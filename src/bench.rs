//! `graphhook bench deliver`: pushes messages through the real delivery engine (Postgres,
//! Redis, a worker process) to a local receiver, then measures the receiver's ceiling with a
//! plain sender loop (the same signed requests, no queue, no database) in the same run.
//!
//! It runs in a database and a Redis key prefix of its own, dropped at the end.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use graphhook_domain::Services;
use graphhook_domain::{
    Clock, Mode, Settings,
    delivery::endpoints::{self, EndpointInput},
    delivery::engine::{self, NewMessage},
    delivery::webhooks::{sender::Request, signing::signature_header},
    platform::db,
    platform::entities::{
        delivery::{self, DeliveryStatus},
        endpoint::EndpointStatus,
        tenant::{self, TenantStatus},
    },
    platform::ids::{EndpointId, TenantId},
    platform::secret::SecretString,
};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set,
};
use secrecy::ExposeSecret;
use serde_json::json;

pub struct DeliverOptions {
    pub messages: usize,
    pub endpoints: usize,
    pub producers: usize,
    /// Messages each producer hands the engine at once.
    pub batch: usize,
    pub keep_database: bool,
}

/// What the receiver saw: arrivals per message sequence number, with latencies.
struct Tally {
    epoch: Instant,
    /// When each message was handed to the engine (ns since `epoch`, 0 = not yet).
    sent: Vec<AtomicU64>,
    /// Enqueue-to-arrival latency of each message's first arrival (ns, 0 = not arrived).
    latency: Vec<AtomicU64>,
    arrived: AtomicUsize,
    duplicates: AtomicUsize,
}

impl Tally {
    fn new(n: usize) -> Self {
        Self {
            epoch: Instant::now(),
            sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
            latency: (0..n).map(|_| AtomicU64::new(0)).collect(),
            arrived: AtomicUsize::new(0),
            duplicates: AtomicUsize::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn arrive(&self, seq: usize) {
        let Some(slot) = self.latency.get(seq) else {
            return;
        };
        let sent = self.sent[seq].load(Ordering::Acquire);
        let latency = self.now_ns().saturating_sub(sent).max(1);
        if slot
            .compare_exchange(0, latency, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.arrived.fetch_add(1, Ordering::AcqRel);
        } else {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn percentiles(&self) -> (Duration, Duration) {
        let mut all: Vec<u64> = self
            .latency
            .iter()
            .map(|l| l.load(Ordering::Acquire))
            .filter(|&l| l > 0)
            .collect();
        percentiles(&mut all)
    }
}

pub(crate) fn percentiles(all: &mut [u64]) -> (Duration, Duration) {
    if all.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    all.sort_unstable();
    let at = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        Duration::from_nanos(all[i])
    };
    (at(0.50), at(0.99))
}

async fn receive(body: web::Bytes, tally: web::Data<Tally>, _req: HttpRequest) -> HttpResponse {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(seq) = value["data"]["seq"].as_u64()
    {
        tally.arrive(seq as usize);
    }
    HttpResponse::NoContent().finish()
}

/// A local receiver answering 204 to everything; returns its URL.
fn start_receiver(tally: Arc<Tally>) -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let data = web::Data::from(tally);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}/hook"), handle))
}

/// Peak and current resident memory of this process, in MiB (Linux).
pub(crate) fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[allow(clippy::print_stdout)]
pub async fn deliver(mut settings: Settings, options: DeliverOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.messages > 0 && options.endpoints > 0 && options.producers > 0,
        "--messages, --endpoints and --producers must be at least 1"
    );
    anyhow::ensure!(
        settings.mode == Mode::Development,
        "the benchmark delivers to a loopback receiver: development mode only"
    );
    let (url, db_name) = isolate(&mut settings)?;
    settings.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    db::create_database_if_missing(&settings.database).await?;
    let result = run(&settings, &options).await;
    if !options.keep_database {
        drop_database(&settings, &url, &db_name).await?;
    } else {
        println!("kept database {db_name}");
    }
    for line in result? {
        println!("{line}");
    }
    Ok(())
}

/// Points `settings` at a database (`{database}_bench_{pid}`) and a Redis prefix of their own;
/// returns the database's URL and name for [`drop_database`].
pub(crate) fn isolate(settings: &mut Settings) -> anyhow::Result<(url::Url, String)> {
    let suffix = format!("bench_{}", std::process::id());
    let mut url = url::Url::parse(settings.database.url.expose_secret())
        .context("database.url is not a URL")?;
    let db_name = format!("{}_{suffix}", url.path().trim_start_matches('/'));
    url.set_path(&format!("/{db_name}"));
    settings.database.url = SecretString::from(url.to_string());
    // `_`, not `:`: a prefix must pass validation when a child process loads it.
    settings.redis.key_prefix = format!("{}_{suffix}", settings.redis.key_prefix);
    Ok((url, db_name))
}

/// What a benchmark prints, and why it fails (an acknowledged item lost or duplicated).
pub(crate) struct Report {
    pub lines: Vec<String>,
    pub failure: Option<String>,
}

/// The end of a benchmark run: drops its database and Redis prefix (unless kept), prints the
/// report, and fails when the run failed or the report says why it must.
#[allow(clippy::print_stdout)]
pub(crate) async fn conclude(
    settings: &Settings,
    url: &url::Url,
    db_name: &str,
    keep_database: bool,
    result: anyhow::Result<Report>,
) -> anyhow::Result<()> {
    if keep_database {
        println!("kept database {db_name}");
    } else {
        drop_database(settings, url, db_name).await?;
    }
    let report = result?;
    for line in &report.lines {
        println!("{line}");
    }
    if let Some(failure) = report.failure {
        anyhow::bail!(failure);
    }
    Ok(())
}

pub(crate) async fn drop_database(
    settings: &Settings,
    url: &url::Url,
    name: &str,
) -> anyhow::Result<()> {
    let mut admin = url.clone();
    admin.set_path("/postgres");
    let mut admin_settings = settings.database.clone();
    admin_settings.url = SecretString::from(admin.to_string());
    admin_settings.max_connections = 1;
    admin_settings.min_connections = 0;
    let admin = db::connect(&admin_settings).await?;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            db::quote_ident(name)
        ))
        .await?;
    admin.close().await.ok();
    let mut redis = graphhook_domain::platform::redis_conn::connect(&settings.redis).await?;
    let pattern = format!("{}:*", settings.redis.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await?;
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut redis).await?;
    }
    Ok(())
}

async fn run(settings: &Settings, options: &DeliverOptions) -> anyhow::Result<Vec<String>> {
    let n = options.messages;
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    let ctx = Services::connect(settings.clone(), Clock::system()).await?;

    // A tenant with active endpoints on the engine's receiver.
    let tally = Arc::new(Tally::new(n));
    let (receiver_url, receiver) = start_receiver(tally.clone())?;
    let now = chrono::Utc::now();
    let tenant = TenantId::new();
    tenant::ActiveModel {
        id: Set(tenant.uuid()),
        entra_tenant_id: Set(uuid::Uuid::new_v4()),
        name: Set("Benchmark".into()),
        status: Set(TenantStatus::Active),
        status_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        offboarded_at: Set(None),
    }
    .insert(&db)
    .await?;
    let mut endpoint_ids = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..options.endpoints {
        let input = EndpointInput {
            url: url::Url::parse(&receiver_url)?,
            description: format!("benchmark receiver {i}"),
            filter_types: Vec::new(),
            headers: Default::default(),
            timeout_ms: 15_000,
            rate_limit_per_sec: None,
            max_in_flight: 1000,
            ed25519: false,
            retry_schedule: None,
        };
        let (model, secret) = endpoints::create(&ctx, tenant, input, None).await?;
        let mut active = model.clone().into_active_model();
        active.status = Set(EndpointStatus::Active);
        active.verified_at = Set(Some(now));
        active.update(&db).await?;
        endpoint_ids.push(EndpointId::from(model.id));
        secrets.push(secret.key().to_vec());
    }
    // The endpoint.created events are not part of the measurement.
    graphhook_domain::platform::entities::operational_event::Entity::delete_many()
        .exec(&db)
        .await?;

    // The engine: a worker process, and producers writing messages as fast as they can through
    // connections of their own (as the api would, in its own process).
    let worker = WorkerProcess::start_with(ctx.clone())?;
    let producer_ctx = Services::connect(settings.clone(), Clock::system()).await?;
    let started = Instant::now();
    let mut producers = Vec::new();
    for p in 0..options.producers {
        let ctx = producer_ctx.clone();
        let tally = tally.clone();
        let endpoint_ids = endpoint_ids.clone();
        let step = options.producers;
        let batch = options.batch.max(1);
        producers.push(tokio::spawn(async move {
            let mut seq = p;
            while seq < n {
                let mut news = Vec::with_capacity(batch);
                while seq < n && news.len() < batch {
                    tally.sent[seq].store(tally.now_ns(), Ordering::Release);
                    news.push(NewMessage {
                        verbatim: Vec::new(),
                        tenant,
                        event_type: "graph.user.updated".into(),
                        data: json!({"seq": seq, "id": uuid::Uuid::now_v7()}),
                        endpoint_ids: Some(vec![endpoint_ids[seq % endpoint_ids.len()]]),
                    });
                    seq += step;
                }
                engine::create_messages(&ctx, news).await?;
            }
            anyhow::Ok(())
        }));
    }
    for producer in producers {
        producer.await.context("producer task")??;
    }
    let produced = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while tally.arrived.load(Ordering::Acquire) < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived within 10 minutes",
            tally.arrived.load(Ordering::Acquire)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let received = started.elapsed();
    // Done means recorded: every delivery `delivered` with its attempt in Postgres.
    loop {
        let delivered = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(DeliveryStatus::Delivered))
            .count(&db)
            .await?;
        if delivered as usize >= n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {delivered} of {n} deliveries recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recorded = started.elapsed();
    let (peak_rss, rss) = memory_mib();
    // A lane the watchdog had to restart under this load would be a misfire (or a real stall).
    let lane_restarts = worker.lanes().restarts_total();
    let worker_restarts = worker.health().restarts.load(Ordering::Relaxed);
    worker.stop().await?;
    let (p50, p99) = tally.percentiles();
    let attempts = graphhook_domain::platform::entities::attempt::Entity::find()
        .count(&db)
        .await?;
    let engine_rate = n as f64 / recorded.as_secs_f64();

    // The ceiling: the same signed requests from a plain loop, no queue, no database.
    let baseline_tally = Arc::new(Tally::new(n));
    let (baseline_url, baseline_receiver) = start_receiver(baseline_tally.clone())?;
    let baseline_url = url::Url::parse(&baseline_url)?;
    let concurrency = settings.worker.delivery_concurrency;
    let next = Arc::new(AtomicUsize::new(0));
    let baseline_started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let ctx = ctx.clone();
        let next = next.clone();
        let tally = baseline_tally.clone();
        let url = baseline_url.clone();
        let secrets = secrets.clone();
        senders.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::AcqRel);
                if seq >= n {
                    return anyhow::Ok(());
                }
                tally.sent[seq].store(tally.now_ns(), Ordering::Release);
                let body = serde_json::to_vec(&json!({
                    "type": "graph.user.updated",
                    "timestamp": chrono::Utc::now(),
                    "data": {"seq": seq, "id": uuid::Uuid::now_v7()},
                }))?;
                let msg_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
                let timestamp = chrono::Utc::now().timestamp();
                let key = std::slice::from_ref(&secrets[seq % secrets.len()]);
                let signature = signature_header(key, None, &msg_id, timestamp, &body);
                let outcome = ctx
                    .sender
                    .send(Request {
                        url: &url,
                        headers: vec![
                            ("content-type".into(), "application/json".into()),
                            ("webhook-id".into(), msg_id),
                            ("webhook-timestamp".into(), timestamp.to_string()),
                            ("webhook-signature".into(), signature),
                        ],
                        body,
                        timeout: Duration::from_secs(15),
                    })
                    .await;
                anyhow::ensure!(outcome.is_success(), "baseline request failed: {outcome:?}");
            }
        }));
    }
    for sender in senders {
        sender.await.context("sender task")??;
    }
    let baseline = baseline_started.elapsed();
    let baseline_rate = n as f64 / baseline.as_secs_f64();
    let (b50, b99) = baseline_tally.percentiles();
    receiver.stop(true).await;
    baseline_receiver.stop(true).await;
    db.close().await.ok();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let lines = vec![
        format!(
            "graphhook bench deliver: {n} messages, {} endpoint(s), {} producers handing over {} message(s) at a time, {} delivery workers (lane concurrency)",
            options.endpoints,
            options.producers,
            options.batch.max(1),
            concurrency
        ),
        format!(
            "{:<34} {:>12} {:>14} {:>14}",
            "", "deliveries/s", "p50 (ms)", "p99 (ms)"
        ),
        format!(
            "{:<34} {:>12.0} {:>14.1} {:>14.1}",
            "engine (enqueue → delivered)",
            engine_rate,
            ms(p50),
            ms(p99)
        ),
        format!(
            "{:<34} {:>12.0} {:>14.1} {:>14.1}",
            "baseline (plain sender loop)",
            baseline_rate,
            ms(b50),
            ms(b99)
        ),
        format!("engine / baseline: {:.2}×", engine_rate / baseline_rate),
        format!(
            "produced in {:.2} s, received in {:.2} s, recorded in {:.2} s; {attempts} attempts, {} duplicate arrivals",
            produced.as_secs_f64(),
            received.as_secs_f64(),
            recorded.as_secs_f64(),
            tally.duplicates.load(Ordering::Relaxed)
        ),
        format!(
            "worker: {lane_restarts} lane restarts by the watchdog, {worker_restarts} restarts after a worker died"
        ),
        format!(
            "peak RSS {peak_rss:.0} MiB (worker, api-less producers and receivers in this one process; {rss:.0} MiB at the end of the engine run)"
        ),
    ];
    Ok(lines)
}
