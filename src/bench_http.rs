//! The load generators' side of HTTP, shared by `graphhook bench ingest` and
//! `graphhook bench pipeline`: a minimal HTTP/1.1 client over tokio's `TcpStream`, and the bare
//! actix-web server that answers 202 and does nothing else, which each benchmark measures its
//! own generator against.
//!
//! The client is minimal on purpose (one keep-alive connection per task, `Content-Length`
//! responses only): it shares the machine's cores with the servers it measures, so the less
//! CPU it spends per request, the more of the machine they get, as with `wrk`.

use std::{collections::BTreeMap, time::Duration};

use actix_web::{HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A request that takes longer than this fails the benchmark (the Graph receiver answers 503
/// after `ingest.write_timeout_ms`, far sooner).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A keep-alive connection to `127.0.0.1:port`, without Nagle (each request is one write).
pub(crate) async fn connect(port: u16) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to 127.0.0.1:{port}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The bytes of a JSON POST to `path`.
pub(crate) fn request_bytes(port: u16, path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Sends `request` and reads one response, within [`REQUEST_TIMEOUT`]; returns its status.
pub(crate) async fn send(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> anyhow::Result<u16> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(stream, buf, request))
        .await
        .context("a request timed out")?
}

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

async fn bare(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(body);
    HttpResponse::Accepted().finish()
}

/// The baseline: one route that reads the body (up to `body_limit` bytes) and answers 202, with
/// `workers` actix-web workers (0: one per core, as `Application` does). Returns its port.
pub(crate) fn start_bare(
    workers: usize,
    body_limit: usize,
) -> anyhow::Result<(u16, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(web::PayloadConfig::new(body_limit))
            .default_service(web::to(bare))
    })
    .disable_signals();
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((port, handle))
}

/// An open-loop request sent this long after it was due counts as late: the generator fell
/// behind its schedule (the timer alone wakes up to a millisecond or two late).
pub(crate) const LATE: Duration = Duration::from_millis(5);

/// When the `i`-th request of an open-loop run at `rate` requests/s is due, after `start`.
pub(crate) fn scheduled(start: tokio::time::Instant, rate: f64, i: u64) -> tokio::time::Instant {
    start + Duration::from_secs_f64(i as f64 / rate.max(1e-9))
}

/// Sleeps until the `i`-th request of an open-loop run at `rate` requests/s is due; returns
/// when that was and whether the request goes out [`LATE`].
pub(crate) async fn wait_until_due(
    start: tokio::time::Instant,
    rate: f64,
    i: u64,
) -> (tokio::time::Instant, bool) {
    let due = scheduled(start, rate, i);
    tokio::time::sleep_until(due).await;
    (due, due.elapsed() > LATE)
}

/// Answers other than 202, by status.
#[derive(Default)]
pub(crate) struct Refused(BTreeMap<u16, u64>);

impl Refused {
    pub fn add(&mut self, status: u16) {
        *self.0.entry(status).or_default() += 1;
    }

    pub fn merge(&mut self, other: Refused) {
        for (status, n) in other.0 {
            *self.0.entry(status).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `3×503, 1×500`, or `none`.
    pub fn text(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0
            .iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a load generator's clients saw of a run.
#[derive(Default)]
pub(crate) struct Answers {
    /// Requests answered 202.
    pub accepted: u64,
    /// Any other answer, by status.
    pub refused: Refused,
    /// From sending (open loop: from when it was due) to the 202, in ns, of every accepted
    /// request.
    pub latencies: Vec<u64>,
    /// Open loop: requests that went out more than [`LATE`] after they were due.
    pub late: u64,
    pub elapsed: Duration,
}

impl Answers {
    pub fn record(&mut self, status: u16, latency: Duration) {
        if status == 202 {
            self.accepted += 1;
            self.latencies
                .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        } else {
            self.refused.add(status);
        }
    }

    fn merge(&mut self, other: Answers) {
        self.accepted += other.accepted;
        self.late += other.late;
        self.refused.merge(other.refused);
        self.latencies.extend(other.latencies);
    }

    /// Requests sent and answered.
    pub fn sent(&self) -> u64 {
        self.accepted + self.refused.total()
    }

    /// Requests accepted per second.
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Awaits every client task of a run started at `started` and merges what each saw; a failed
/// client fails the run, but only once all have finished.
pub(crate) async fn gather(
    clients: Vec<tokio::task::JoinHandle<anyhow::Result<Answers>>>,
    started: std::time::Instant,
) -> anyhow::Result<Answers> {
    let mut all = Answers::default();
    let mut failure = None;
    for client in clients {
        match client.await.context("client task") {
            Ok(Ok(part)) => all.merge(part),
            Ok(Err(error)) | Err(error) => failure = Some(error),
        }
    }
    all.elapsed = started.elapsed();
    match failure {
        Some(error) => Err(error),
        None => Ok(all),
    }
}
