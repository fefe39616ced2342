//! `graphhook bench ingest`: drives the real Graph receiver (`POST /graph/notifications`, each
//! batch durably in Postgres before its 202) with concurrent keep-alive clients, next to a bare
//! actix-web handler that answers 202 without work, in the same run on the same machine; then
//! checks that every acknowledged batch is a row in `inbound_batches`.
//!
//! The load generator is a minimal HTTP/1.1 client over tokio's `TcpStream` (one connection per
//! task, the same request bytes each time, `Content-Length` responses only): the clients share
//! the machine's cores with both servers, so the less CPU they spend per request, the more of
//! the machine the servers get, as with `wrk`. It runs in a database and a Redis key prefix of
//! its own, dropped at the end; no worker runs, so the processing jobs just wait in Redis.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{HttpResponse, HttpServer, web};
use anyhow::Context;
use graphhook_api::Application;
use graphhook_domain::{Clock, Mode, Settings, db, entities::inbound_batch};
use graphhook_migrations::{Migrator, MigratorTrait};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::bench::{drop_database, isolate, memory_mib, percentiles};

pub struct IngestOptions {
    pub seconds: u64,
    pub connections: usize,
    pub keep_database: bool,
}

/// A request that takes longer than this fails the benchmark (the receiver answers 503 after
/// `ingest.write_timeout_ms`, far sooner).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[allow(clippy::print_stdout)]
pub async fn ingest(mut settings: Settings, options: IngestOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.seconds > 0 && options.connections > 0,
        "--seconds and --connections must be at least 1"
    );
    anyhow::ensure!(
        settings.mode == Mode::Development,
        "the benchmark runs the api on a loopback port: development mode only"
    );
    let (url, db_name) = isolate(&mut settings)?;
    settings.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // Every client comes from 127.0.0.1: the per-address limit would answer most of them 429,
    // and it is the write path, not the limiter, that is measured.
    settings.ingest.max_requests_per_sec_per_address = 0;
    db::create_database_if_missing(&settings.database).await?;
    let result = run(&settings, &options).await;
    if !options.keep_database {
        drop_database(&settings, &url, &db_name).await?;
    } else {
        println!("kept database {db_name}");
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

struct Report {
    lines: Vec<String>,
    /// Set when an acknowledged batch is missing from Postgres.
    failure: Option<String>,
}

/// What one run of the load generator saw.
#[derive(Default)]
struct Load {
    /// Requests answered 202.
    accepted: u64,
    /// Any other answer, by status.
    other: BTreeMap<u16, u64>,
    /// Latency of every request answered 202, in ns.
    latencies: Vec<u64>,
    elapsed: Duration,
}

impl Load {
    fn merge(&mut self, other: Load) {
        self.accepted += other.accepted;
        for (status, n) in other.other {
            *self.other.entry(status).or_default() += n;
        }
        self.latencies.extend(other.latencies);
    }

    fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn others(&self) -> String {
        if self.other.is_empty() {
            return "none".into();
        }
        self.other
            .iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn bare(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(body);
    HttpResponse::Accepted().finish()
}

/// The baseline: one route that reads the body and answers 202, with as many workers as the api.
fn start_bare(settings: &Settings) -> anyhow::Result<(u16, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let limit = settings.ingest.max_body_bytes;
    let mut server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(web::PayloadConfig::new(limit))
            .default_service(web::to(bare))
    })
    .disable_signals();
    // As `Application` does: 0 leaves actix-web's default, one worker per core.
    if settings.api.workers > 0 {
        server = server.workers(settings.api.workers);
    }
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((port, handle))
}

/// A Graph notification collection of `items` basic change notifications, shaped like
/// graph-protocol.md §3.2's example with real GUIDs and Outlook-length message ids (~1 KB an
/// item).
fn graph_batch(items: usize) -> anyhow::Result<Vec<u8>> {
    let tenant = uuid::Uuid::new_v4();
    let subscription = uuid::Uuid::new_v4();
    let user = uuid::Uuid::new_v4();
    let value: Vec<serde_json::Value> = (0..items)
        .map(|_| {
            // An Outlook message id: AAMk… base64, about 150 characters.
            let message_id = format!(
                "AAMkAG{}{}{}{}AAA=",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
            );
            json!({
                "id": format!("lsgTZMr9KwAAA{}", uuid::Uuid::new_v4().simple()),
                "subscriptionId": subscription,
                "subscriptionExpirationDateTime": "2026-03-19T22:11:09.9696658+00:00",
                "clientState": "c2VjcmV0Q2xpZW50VmFsdWUtYmVuY2htYXJr",
                "changeType": "created",
                "resource": format!("users/{user}@{tenant}/messages/{message_id}"),
                "tenantId": tenant,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Message",
                    "@odata.id": format!("Users/{user}@{tenant}/Messages/{message_id}"),
                    "@odata.etag": "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"",
                    "id": message_id,
                },
            })
        })
        .collect();
    Ok(serde_json::to_vec(&json!({ "value": value }))?)
}

fn request_bytes(port: u16, path: &str, body: &[u8]) -> Arc<[u8]> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request.into()
}

/// Sends `request` and reads one response; returns its status.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> anyhow::Result<u16> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    // The head.
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("a response head not in UTF-8")?;
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {head:?}"))?;
    let mut length = 0usize;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().context("a bad Content-Length")?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            anyhow::bail!("a {value} response: only Content-Length is supported");
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            anyhow::bail!("the server closes the connection (status {status})");
        }
    }
    // The body, if any.
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "the server closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

/// `connections` clients, each on one keep-alive connection, sending `request` back to back
/// for `duration`.
async fn drive(
    port: u16,
    request: Arc<[u8]>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        clients.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let mut buf = Vec::with_capacity(4096);
            let mut load = Load {
                latencies: Vec::with_capacity(1 << 14),
                ..Load::default()
            };
            while Instant::now() < deadline {
                let sent = Instant::now();
                let status = tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    exchange(&mut stream, &mut buf, &request),
                )
                .await
                .context("a request timed out")??;
                if status == 202 {
                    load.accepted += 1;
                    load.latencies
                        .push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
                } else {
                    *load.other.entry(status).or_default() += 1;
                }
            }
            anyhow::Ok(load)
        }));
    }
    let mut load = Load::default();
    let mut failure = None;
    for client in clients {
        match client.await.context("client task") {
            Ok(Ok(part)) => load.merge(part),
            Ok(Err(error)) | Err(error) => failure = Some(error),
        }
    }
    load.elapsed = started.elapsed();
    match failure {
        Some(error) => Err(error),
        None => Ok(load),
    }
}

/// One measured run after a warm-up; returns it and the 202s of both.
async fn measure(
    port: u16,
    request: &Arc<[u8]>,
    options: &IngestOptions,
    warm_up: Duration,
) -> anyhow::Result<(Load, u64)> {
    let warm = drive(port, request.clone(), options.connections, warm_up).await?;
    let load = drive(
        port,
        request.clone(),
        options.connections,
        Duration::from_secs(options.seconds),
    )
    .await?;
    let accepted = warm.accepted + load.accepted;
    Ok((load, accepted))
}

async fn run(settings: &Settings, options: &IngestOptions) -> anyhow::Result<Report> {
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    let app = Application::build(settings.clone(), Clock::system()).await?;
    let api_port = app.port();
    let api = app.handle();
    let api_task = tokio::spawn(app.run_until_stopped());
    let (bare_port, bare) = start_bare(settings)?;

    let path = "/graph/notifications";
    let warm_up = Duration::from_secs(options.seconds.div_ceil(5).min(2));
    let mut rows = Vec::new();
    let mut acknowledged = 0u64;
    for items in [1usize, 50] {
        let body = graph_batch(items)?;
        let (bare_load, _) = measure(
            bare_port,
            &request_bytes(bare_port, path, &body),
            options,
            warm_up,
        )
        .await?;
        let (ingest_load, accepted) = measure(
            api_port,
            &request_bytes(api_port, path, &body),
            options,
            warm_up,
        )
        .await?;
        acknowledged += accepted;
        rows.push((items, body.len(), bare_load, ingest_load));
    }
    // The jobs are queued just after the answers: let the last pushes land before the prefix
    // is deleted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = inbound_batch::Entity::find().count(&db).await?;
    let (peak_rss, _) = memory_mib();
    api.stop(true).await;
    bare.stop(true).await;
    api_task
        .await
        .context("api server task")?
        .context("api server")?;
    db.close().await.ok();

    let workers = if settings.api.workers > 0 {
        settings.api.workers.to_string()
    } else {
        format!(
            "{} (one per core)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut lines = vec![
        format!(
            "graphhook bench ingest: {} keep-alive connections, {} s per run after {} s of warm-up, {workers} api workers, ingest.writers = {}",
            options.connections,
            options.seconds,
            warm_up.as_secs_f64(),
            settings.ingest.writers
        ),
        format!(
            "{:<10} {:<30} {:>11} {:>11} {:>9} {:>9} {:>8}",
            "batch", "server", "requests/s", "items/s", "p50 (ms)", "p99 (ms)", "non-202"
        ),
    ];
    for (items, size, bare_load, ingest_load) in &mut rows {
        let label = if *items == 1 {
            "1 item".to_owned()
        } else {
            format!("{items} items")
        };
        for (server, load) in [
            ("bare actix-web (202)", &mut *bare_load),
            ("ingest (durable, then 202)", &mut *ingest_load),
        ] {
            let (p50, p99) = percentiles(&mut load.latencies);
            lines.push(format!(
                "{:<10} {:<30} {:>11.0} {:>11.0} {:>9.2} {:>9.2} {:>8}",
                label,
                server,
                load.rate(),
                load.rate() * *items as f64,
                ms(p50),
                ms(p99),
                load.other.values().sum::<u64>()
            ));
        }
        lines.push(format!(
            "{:<10} ingest / bare: {:.2}× ({size} bytes a request; other answers: bare {}, ingest {})",
            "",
            ingest_load.rate() / bare_load.rate(),
            bare_load.others(),
            ingest_load.others()
        ));
    }
    let failure = (stored != acknowledged).then(|| {
        format!(
            "{acknowledged} batches were acknowledged with 202 but inbound_batches has {stored} rows"
        )
    });
    lines.push(format!(
        "durability: {acknowledged} batches acknowledged with 202 (warm-ups included), {stored} rows in inbound_batches{}",
        if failure.is_none() { ": all there" } else { ": MISMATCH" }
    ));
    lines.push(format!(
        "peak RSS {peak_rss:.0} MiB (api, baseline server and clients in this one process)"
    ));
    Ok(Report { lines, failure })
}
