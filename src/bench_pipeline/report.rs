//! What `graphhook bench pipeline` prints: the setup, the generator's ceiling, a line per run,
//! the exactly-once verdict, the connections each endpoint saw and the processes' memory.

use std::time::Duration;

use super::{Measured, PipelineOptions, ledger::Verdict};
use crate::bench::percentiles;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ack_percentiles(latencies: &[u64]) -> (Duration, Duration) {
    let mut latencies = latencies.to_vec();
    percentiles(&mut latencies)
}

/// The runs' table: a row per run, and what other answers it got.
fn phase_table(measured: &Measured) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(format!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "run",
        "offered/s",
        "notif./s",
        "p50 (ms)",
        "p99 (ms)",
        "ack p50",
        "ack p99",
        "sent",
        "refused",
        "late",
        "conns"
    ));
    for phase in &measured.phases {
        let (a50, a99) = ack_percentiles(&phase.sent.latencies);
        let figures = &phase.figures;
        lines.push(format!(
            "{:<36} {:>9} {:>9.0} {:>9.1} {:>9.1} {:>8.2} {:>8.2} {:>8} {:>8} {:>6} {:>6}{}",
            phase.name,
            phase
                .offered
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.0}")),
            figures.throughput,
            ms(figures.p50),
            ms(figures.p99),
            ms(a50),
            ms(a99),
            figures.sent,
            figures.refused,
            phase.sent.late,
            phase.connections,
            if phase.drained {
                String::new()
            } else {
                "  (gave up waiting: see below)".to_owned()
            }
        ));
        if phase.sent.refused.total() > 0 {
            lines.push(format!(
                "{:<36} answers other than 202: {}",
                "",
                phase.sent.refused.text()
            ));
        }
    }
    lines
}

pub(super) fn lines(
    options: &PipelineOptions,
    measured: &Measured,
    verdict: &Verdict,
) -> Vec<String> {
    let mut lines = vec![format!(
        "graphhook bench pipeline{}: {} tenant(s) × {} endpoint(s), {} worker process(es), {} notification(s) per POST, {} connections, {} s per run{}, closed-loop window {}",
        if options.smoke { " --smoke" } else { "" },
        options.tenants,
        options.endpoints,
        options.workers,
        options.items,
        options.connections,
        options.seconds,
        options
            .limit
            .map(|l| format!(" (at most {l} notifications)"))
            .unwrap_or_default(),
        options.window,
    )];
    let ceiling = &measured.ceiling;
    let (c50, c99) = ack_percentiles(&ceiling.latencies);
    let posts_per_sec = ceiling.sent() as f64 / ceiling.elapsed.as_secs_f64().max(1e-9);
    lines.push(format!(
        "generator ceiling (the same POSTs to a bare actix-web server answering 202): {posts_per_sec:.0} POSTs/s, {:.0} notifications/s, p50 {:.2} ms, p99 {:.2} ms",
        posts_per_sec * options.items as f64,
        ms(c50),
        ms(c99)
    ));
    lines.extend(phase_table(measured));
    lines.push(
        "  notif./s: notifications that reached every endpoint of their tenant, per second from the run's start (the closed loop's: after its warm-up) to the last arrival; p50/p99: from the POST (open loop: from when it was due) to each webhook's arrival, the closed loop's being mostly its window's queue; ack: POST to 202; late: open-loop POSTs sent over 5 ms after due; conns: TCP connections the receivers accepted".into(),
    );
    lines.push(verdict_line(verdict));
    lines.push(connections_line(&measured.connections, options.endpoints));
    let rss = measured
        .rss
        .iter()
        .map(|(name, mib)| format!("{name} {mib:.0} MiB"))
        .collect::<Vec<_>>()
        .join(", ");
    lines.push(format!(
        "peak RSS (VmHWM): {rss}; this process (generator and receivers) {:.0} MiB",
        measured.own_rss
    ));
    lines
}

fn verdict_line(v: &Verdict) -> String {
    let others = if v.other_types.is_empty() {
        "none".to_owned()
    } else {
        v.other_types
            .iter()
            .map(|(t, n)| format!("{n}×{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "exactly once: {}; {} acknowledged notifications, {} webhooks due, {} arrived exactly once, {} lost, {} duplicates ({} under a new webhook-id); {} bad signatures, {} at another tenant's endpoint, {} naming no notification sent; {} refused by the api but delivered; other event types: {others}",
        if v.passed() { "PASSED" } else { "FAILED" },
        v.acked,
        v.due,
        v.delivered_once,
        v.lost,
        v.duplicates,
        v.duplicates_new_id,
        v.bad_signatures,
        v.misrouted,
        v.unknown,
        v.refused_but_arrived,
    )
}

fn connections_line(connections: &[u64], per_tenant: usize) -> String {
    let total: u64 = connections.iter().sum();
    if connections.len() <= 16 {
        let each = connections
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}.{} {n}", i / per_tenant, i % per_tenant))
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "new TCP connections per endpoint (tenant.endpoint), whole run: {each} (total {total})"
        );
    }
    let mut sorted = connections.to_vec();
    sorted.sort_unstable();
    format!(
        "new TCP connections per endpoint, whole run: min {}, median {}, max {} over {} endpoints (total {total})",
        sorted.first().copied().unwrap_or(0),
        sorted[sorted.len() / 2],
        sorted.last().copied().unwrap_or(0),
        sorted.len()
    )
}

/// Why the run failed, in one line.
pub(super) fn failure(v: &Verdict) -> String {
    format!(
        "not every acknowledged notification arrived exactly once per endpoint: {} lost, {} duplicates, {} bad signatures, {} misrouted, {} unknown",
        v.lost, v.duplicates, v.bad_signatures, v.misrouted, v.unknown
    )
}
