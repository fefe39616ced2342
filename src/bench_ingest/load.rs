//! The two ways `graphhook bench ingest` loads a server: closed loop (each connection sends its
//! next request as soon as the last is answered, which finds the ceiling) and open loop (a
//! request due every 1/rate s whatever the answers, which measures latency below saturation;
//! a request sent late counts its wait, so a generator falling behind cannot hide latency).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::bench_http::{Answers, connect, gather, send, wait_until_due};

/// How a run paces its requests.
#[derive(Clone, Copy)]
pub(super) enum Pace {
    /// Each connection back to back.
    Closed,
    /// One request due every 1/rate s (requests per second), on whichever connection is free.
    Open(f64),
}

/// `connections` clients, each on one keep-alive connection, sending `request` for `duration`.
pub(super) async fn drive(
    port: u16,
    request: Arc<[u8]>,
    connections: usize,
    duration: Duration,
    pace: Pace,
) -> anyhow::Result<Answers> {
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let deadline = start + duration;
    let total = match pace {
        Pace::Closed => u64::MAX,
        Pace::Open(rate) => (rate * duration.as_secs_f64()).ceil() as u64,
    };
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        let next = next.clone();
        clients.push(tokio::spawn(async move {
            let mut stream = connect(port).await?;
            let mut buf = Vec::with_capacity(4096);
            let mut load = Answers {
                latencies: Vec::with_capacity(1 << 14),
                ..Answers::default()
            };
            loop {
                let due = match pace {
                    Pace::Closed => {
                        let now = tokio::time::Instant::now();
                        if now >= deadline {
                            break;
                        }
                        now
                    }
                    Pace::Open(rate) => {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let (due, late) = wait_until_due(start, rate, i).await;
                        load.late += u64::from(late);
                        due
                    }
                };
                let status = send(&mut stream, &mut buf, &request).await?;
                load.record(status, due.elapsed());
            }
            anyhow::Ok(load)
        }));
    }
    gather(clients, started).await
}
