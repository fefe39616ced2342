//! What `graphhook bench ingest` prints: a table per pacing (closed loop, then open loop at
//! `--rate`), each server's line per batch size, the ingest/bare ratios, the durability check
//! and the memory.

use std::time::Duration;

use graphhook_domain::Settings;

use super::{Batch, IngestOptions, Measured};
use crate::bench::percentiles;
use crate::bench_http::Answers;

pub(super) struct Summary<'a> {
    pub settings: &'a Settings,
    pub options: &'a IngestOptions,
    pub warm_up: Duration,
    /// Each way of reaching Postgres, and whether Postgres saw the connection encrypted.
    pub tls: &'a [(&'static str, bool)],
    pub batches: &'a mut [Batch],
    pub acknowledged: u64,
    pub stored: u64,
    pub peak_rss: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn label(items: usize) -> String {
    if items == 1 {
        "1 item".to_owned()
    } else {
        format!("{items} items")
    }
}

fn row(items: usize, server: &str, load: &mut Answers, open: bool) -> String {
    let (p50, p99) = percentiles(&mut load.latencies);
    let mut line = format!(
        "{:<10} {:<38} {:>11.0} {:>11.0} {:>9.2} {:>9.2} {:>8}",
        label(items),
        server,
        load.rate(),
        load.rate() * items as f64,
        ms(p50),
        ms(p99),
        load.refused.total()
    );
    if open {
        line.push_str(&format!(" {:>6}", load.late));
    }
    line
}

fn header(open: bool) -> String {
    let mut line = format!(
        "{:<10} {:<38} {:>11} {:>11} {:>9} {:>9} {:>8}",
        "batch", "server", "requests/s", "items/s", "p50 (ms)", "p99 (ms)", "non-202"
    );
    if open {
        line.push_str(&format!(" {:>6}", "late"));
    }
    line
}

pub(super) fn lines(summary: &mut Summary<'_>) -> Vec<String> {
    let settings = summary.settings;
    let options = summary.options;
    let workers = api_workers(settings);
    let tls = tls_line(summary.tls);
    let mut lines = vec![
        format!(
            "graphhook bench ingest: {} keep-alive connections, {} s per run after {} s of warm-up, {workers} api workers, ingest.writers = {}",
            options.connections,
            options.seconds,
            summary.warm_up.as_secs_f64(),
            settings.ingest.writers
        ),
        format!("api to Postgres: {tls}"),
        "closed loop (each connection sends its next request when the last is answered):".into(),
        header(false),
    ];
    for batch in summary.batches.iter_mut() {
        lines.extend(closed_loop_rows(batch));
    }
    if let Some(rate) = options.rate {
        lines.push(format!(
            "open loop at {rate:.0} requests/s (each request sent when due, its latency counted from then; late: sent over 5 ms after due):"
        ));
        lines.push(header(true));
        for batch in summary.batches.iter_mut() {
            let items = batch.items;
            for measured in batch.bare.iter_mut().chain(batch.ingest.iter_mut()) {
                if let Some(open) = &mut measured.open {
                    lines.push(row(items, &measured.server, open, true));
                }
            }
        }
    }
    let (acknowledged, stored) = (summary.acknowledged, summary.stored);
    lines.push(format!(
        "durability: {acknowledged} batches acknowledged with 202 (warm-ups included), {stored} rows in inbound_batches{}",
        if acknowledged == stored { ": all there" } else { ": MISMATCH" }
    ));
    lines.push(format!(
        "peak RSS {:.0} MiB (api, baseline server and clients in this one process)",
        summary.peak_rss
    ));
    lines
}

/// The api's worker count as the report names it.
fn api_workers(settings: &Settings) -> String {
    if settings.api.workers > 0 {
        settings.api.workers.to_string()
    } else {
        format!(
            "{} (one per core)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    }
}

/// Whether each of the api's links to Postgres is encrypted.
fn tls_line(tls: &[(&'static str, bool)]) -> String {
    tls.iter()
        .map(|(label, encrypted)| {
            format!(
                "{label}: Postgres sees the connection {}",
                if *encrypted {
                    "encrypted"
                } else {
                    "in the clear"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One batch size's closed-loop rows, then how ingest compares with the bare server.
fn closed_loop_rows(batch: &mut Batch) -> Vec<String> {
    let mut lines = Vec::new();
    let items = batch.items;
    let size = batch.body.len();
    let bare_rate = batch.bare.as_ref().map_or(0.0, |b| b.closed.rate());
    let mut others = Vec::new();
    for measured in batch.bare.iter_mut().chain(batch.ingest.iter_mut()) {
        let Measured { server, closed, .. } = measured;
        lines.push(row(items, server, closed, false));
        if closed.refused.total() > 0 {
            others.push(format!("{} {}", short(server), closed.refused.text()));
        }
    }
    let ratios = batch
        .ingest
        .iter()
        .map(|m| {
            let link = short(&m.server).trim_start_matches("ingest, ");
            format!("{link} {:.2}×", m.closed.rate() / bare_rate.max(1e-9))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let others = if others.is_empty() {
        "none".to_owned()
    } else {
        others.join("; ")
    };
    lines.push(format!(
        "{:<10} ingest / bare: {ratios} ({size} bytes a request; other answers: {others})",
        ""
    ));
    lines
}

/// A server's name without the explanation in brackets.
fn short(server: &str) -> &str {
    server.split(" (").next().unwrap_or(server)
}
