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
use graphhook_domain::{
    Clock, Services, Settings,
    delivery::engine::{self, NewMessage},
    delivery::webhooks::{sender::Request, signing::signature_header},
    platform::db,
    platform::entities::delivery::{self, DeliveryStatus},
    platform::ids::{EndpointId, TenantId},
};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_worker::WorkerProcess;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::json;

use crate::bench::{Report, active_endpoint, active_tenant, memory_mib, percentiles, run_isolated};

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

pub async fn deliver(mut settings: Settings, options: DeliverOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.messages > 0 && options.endpoints > 0 && options.producers > 0,
        "--messages, --endpoints and --producers must be at least 1"
    );
    settings.worker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let does = "delivers to a loopback receiver";
    run_isolated(settings, does, options.keep_database, async |settings| {
        run(settings, &options).await
    })
    .await
}

async fn run(settings: &Settings, options: &DeliverOptions) -> anyhow::Result<Report> {
    let n = options.messages;
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    let ctx = Services::connect(settings.clone(), Clock::system()).await?;

    let tally = Arc::new(Tally::new(n));
    let (receiver_url, receiver) = start_receiver(tally.clone())?;
    let (tenant, endpoint_ids, secrets) = seed(&db, &ctx, &receiver_url, options.endpoints).await?;

    // The engine: a worker process, and producers writing messages as fast as they can through
    // connections of their own (as the api would, in its own process).
    let worker = WorkerProcess::start_with(ctx.clone())?;
    let producer_ctx = Services::connect(settings.clone(), Clock::system()).await?;
    let started = Instant::now();
    produce(&producer_ctx, &tally, tenant, &endpoint_ids, options).await?;
    let produced = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    await_arrivals(&tally, n, deadline).await?;
    let received = started.elapsed();
    await_recorded(&db, n, deadline).await?;
    let recorded = started.elapsed();
    let (peak_rss, rss) = memory_mib();
    // A lane the watchdog had to restart under this load would be a misfire (or a real stall).
    let lane_restarts = worker.lanes().restarts_total();
    let worker_restarts = worker.health().restarts.load(Ordering::Relaxed);
    worker.stop().await?;
    let attempts = graphhook_domain::platform::entities::attempt::Entity::find()
        .count(&db)
        .await?;

    let concurrency = settings.worker.delivery_concurrency;
    let (baseline, baseline_tally) = baseline(&ctx, concurrency, secrets, n).await?;
    receiver.stop(true).await;
    db.close().await.ok();

    let engine = Run {
        tally: &tally,
        elapsed: recorded,
    };
    let baseline = Run {
        tally: &baseline_tally,
        elapsed: baseline,
    };
    let mut lines = vec![format!(
        "graphhook bench deliver: {n} messages, {} endpoint(s), {} producers handing over {} message(s) at a time, {} delivery workers (lane concurrency)",
        options.endpoints,
        options.producers,
        options.batch.max(1),
        concurrency
    )];
    lines.extend(rate_table(n, &engine, &baseline));
    lines.extend([
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
    ]);
    Ok(Report {
        lines,
        failure: None,
    })
}

/// A tenant with `endpoints` active endpoints on the receiver; returns their ids and secrets.
async fn seed(
    db: &DatabaseConnection,
    ctx: &Services,
    receiver_url: &str,
    endpoints: usize,
) -> anyhow::Result<(TenantId, Vec<EndpointId>, Vec<Vec<u8>>)> {
    let now = chrono::Utc::now();
    let tenant = TenantId::new();
    active_tenant(tenant.uuid(), uuid::Uuid::new_v4(), "Benchmark".into(), now)
        .insert(db)
        .await?;
    let mut endpoint_ids = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..endpoints {
        let url = url::Url::parse(receiver_url)?;
        let description = format!("benchmark receiver {i}");
        let (id, secret) = active_endpoint(ctx, tenant, url, description, 1000).await?;
        endpoint_ids.push(id);
        secrets.push(secret.key().to_vec());
    }
    // The endpoint.created events are not part of the measurement.
    graphhook_domain::platform::entities::operational_event::Entity::delete_many()
        .exec(db)
        .await?;
    Ok((tenant, endpoint_ids, secrets))
}

/// Hands every message to the engine from `options.producers` tasks, each taking every
/// producers-th sequence number, `options.batch` at a time.
async fn produce(
    ctx: &Services,
    tally: &Arc<Tally>,
    tenant: TenantId,
    endpoint_ids: &[EndpointId],
    options: &DeliverOptions,
) -> anyhow::Result<()> {
    let n = options.messages;
    let mut producers = Vec::new();
    for p in 0..options.producers {
        let ctx = ctx.clone();
        let tally = tally.clone();
        let endpoint_ids = endpoint_ids.to_vec();
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
    Ok(())
}

/// Waits until every message has reached the receiver.
async fn await_arrivals(tally: &Tally, n: usize, deadline: Instant) -> anyhow::Result<()> {
    while tally.arrived.load(Ordering::Acquire) < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived within 10 minutes",
            tally.arrived.load(Ordering::Acquire)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Done means recorded: waits until every delivery is `delivered` with its attempt in Postgres.
async fn await_recorded(
    db: &DatabaseConnection,
    n: usize,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        let delivered = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(DeliveryStatus::Delivered))
            .count(db)
            .await?;
        if delivered as usize >= n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {delivered} of {n} deliveries recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The ceiling: the same signed requests from a plain loop of `concurrency` senders, no
/// queue, no database, to a receiver of its own. Returns the time taken and what arrived.
async fn baseline(
    ctx: &Services,
    concurrency: usize,
    secrets: Vec<Vec<u8>>,
    n: usize,
) -> anyhow::Result<(Duration, Arc<Tally>)> {
    let tally = Arc::new(Tally::new(n));
    let (url, receiver) = start_receiver(tally.clone())?;
    let url = url::Url::parse(&url)?;
    let next = Arc::new(AtomicUsize::new(0));
    let secrets = Arc::new(secrets);
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let ctx = ctx.clone();
        let next = next.clone();
        let tally = tally.clone();
        let url = url.clone();
        let secrets = secrets.clone();
        senders.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::AcqRel);
                if seq >= n {
                    return anyhow::Ok(());
                }
                tally.sent[seq].store(tally.now_ns(), Ordering::Release);
                let key = std::slice::from_ref(&secrets[seq % secrets.len()]);
                send_signed(&ctx, &url, key, seq).await?;
            }
        }));
    }
    for sender in senders {
        sender.await.context("sender task")??;
    }
    let elapsed = started.elapsed();
    receiver.stop(true).await;
    Ok((elapsed, tally))
}

/// One signed request, as the engine would send message `seq`.
async fn send_signed(
    ctx: &Services,
    url: &url::Url,
    key: &[Vec<u8>],
    seq: usize,
) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&json!({
        "type": "graph.user.updated",
        "timestamp": chrono::Utc::now(),
        "data": {"seq": seq, "id": uuid::Uuid::now_v7()},
    }))?;
    let msg_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signature_header(key, None, &msg_id, timestamp, &body);
    let outcome = ctx
        .sender
        .send(Request {
            url,
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
    Ok(())
}

/// A measured run: what arrived and how long it took to be done.
struct Run<'a> {
    tally: &'a Tally,
    elapsed: Duration,
}

/// Deliveries per second and latency percentiles, the engine's against the baseline's.
fn rate_table(n: usize, engine: &Run<'_>, baseline: &Run<'_>) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rate = |run: &Run<'_>| n as f64 / run.elapsed.as_secs_f64();
    let row = |label: &str, run: &Run<'_>| {
        let (p50, p99) = run.tally.percentiles();
        format!(
            "{label:<34} {:>12.0} {:>14.1} {:>14.1}",
            rate(run),
            ms(p50),
            ms(p99)
        )
    };
    vec![
        format!(
            "{:<34} {:>12} {:>14} {:>14}",
            "", "deliveries/s", "p50 (ms)", "p99 (ms)"
        ),
        row("engine (enqueue → delivered)", engine),
        row("baseline (plain sender loop)", baseline),
        format!("engine / baseline: {:.2}×", rate(engine) / rate(baseline)),
    ]
}
