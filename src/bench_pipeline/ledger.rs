//! The ledger of a pipeline run: every notification the generator sent (in which run, for which
//! tenant, when), whether the api acknowledged it, and every webhook that arrived for it (at
//! which endpoint, under which `webhook-id`, when). The exactly-once check and the latency
//! figures are read from it. The closed loop's window of outstanding notifications lives here
//! too, since an arrival at the last of a notification's endpoints is what frees its place.

use std::{
    collections::BTreeMap,
    ops::Range,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;

use crate::bench::percentiles;

pub(super) struct Ledger {
    epoch: Instant,
    /// Endpoints per tenant: every notification is due at each of its tenant's.
    fanout: usize,
    inner: Mutex<Inner>,
    /// Places in the closed loop's window of notifications sent and not yet arrived everywhere.
    pub window: Semaphore,
    /// Webhooks received, of any kind: the drain watches it for progress.
    received: AtomicU64,
}

#[derive(Default)]
struct Inner {
    notifications: Vec<Notification>,
    /// Webhooks of another event type than the generator's, by type (operational events).
    other_types: BTreeMap<String, u64>,
    /// Webhooks of the generator's event type that name no notification it sent.
    unknown: u64,
    /// Webhooks whose signature did not verify with their endpoint's secret.
    bad_signatures: u64,
    /// Webhooks that reached an endpoint of another tenant than their notification's.
    misrouted: u64,
    /// Per run: acknowledged notifications not yet arrived everywhere.
    outstanding: Vec<u64>,
}

impl Inner {
    fn outstanding(&mut self, run: usize) -> &mut u64 {
        if self.outstanding.len() <= run {
            self.outstanding.resize(run + 1, 0);
        }
        &mut self.outstanding[run]
    }
}

struct Notification {
    run: usize,
    tenant: usize,
    /// When it was sent (open loop: when it was due), ns since the epoch.
    sent: u64,
    acked: Option<bool>,
    /// Whether it holds a place in the window until it has arrived everywhere.
    windowed: bool,
    arrivals: Vec<Arrival>,
    /// When it had arrived at every endpoint of its tenant (0: not yet).
    completed: u64,
}

struct Arrival {
    /// The endpoint, among its tenant's.
    endpoint: usize,
    at: u64,
    webhook_id: Box<str>,
}

/// What the ledger says of one run.
pub(super) struct RunFigures {
    pub sent: u64,
    pub acked: u64,
    /// Notifications in POSTs answered other than 202.
    pub refused: u64,
    /// Notifications that arrived everywhere, per second, from `from` to the last of them.
    pub throughput: f64,
    /// Latency of each webhook of an acknowledged notification sent from `from` on.
    pub p50: Duration,
    pub p99: Duration,
    pub webhooks: u64,
}

/// The exactly-once verdict over every run.
#[derive(Default)]
pub(super) struct Verdict {
    pub acked: u64,
    /// Webhooks due: every acknowledged notification at each endpoint of its tenant.
    pub due: u64,
    pub delivered_once: u64,
    /// (notification, endpoint) pairs with no arrival.
    pub lost: u64,
    /// Arrivals beyond the first, at the same endpoint, for the same notification.
    pub duplicates: u64,
    /// Of those, the ones under another `webhook-id` than the first (made twice, not resent).
    pub duplicates_new_id: u64,
    /// Notifications the api did not acknowledge that arrived anyway.
    pub refused_but_arrived: u64,
    pub unknown: u64,
    pub bad_signatures: u64,
    pub misrouted: u64,
    pub other_types: BTreeMap<String, u64>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.unknown == 0
            && self.bad_signatures == 0
            && self.misrouted == 0
    }
}

impl Ledger {
    pub fn new(fanout: usize, window: usize) -> Self {
        Self {
            epoch: Instant::now(),
            fanout,
            inner: Mutex::new(Inner::default()),
            window: Semaphore::new(window),
            received: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the ledger half-written: every change is one push or
        // one field, so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// ns since the ledger's epoch (never 0, which means "not yet").
    pub fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    pub fn now(&self) -> u64 {
        self.ns(Instant::now())
    }

    /// Numbers `count` new notifications of `tenant`, sent at `sent`.
    pub fn issue(
        &self,
        run: usize,
        tenant: usize,
        count: usize,
        sent: u64,
        windowed: bool,
    ) -> Range<u64> {
        let mut inner = self.lock();
        let start = inner.notifications.len() as u64;
        inner.notifications.extend((0..count).map(|_| Notification {
            run,
            tenant,
            sent,
            acked: None,
            windowed,
            arrivals: Vec::new(),
            completed: 0,
        }));
        start..start + count as u64
    }

    /// Records the api's answer to the POST that carried `seqs`. Refused notifications give
    /// their place in the window back: they are not expected to arrive.
    pub fn answered(&self, seqs: Range<u64>, acked: bool) {
        let mut inner = self.lock();
        let (mut freed, mut waiting, mut run) = (0, 0, 0);
        for seq in seqs {
            if let Some(n) = inner.notifications.get_mut(seq as usize) {
                n.acked = Some(acked);
                run = n.run;
                if acked && n.completed == 0 {
                    waiting += 1;
                }
                if !acked && n.windowed && n.completed == 0 {
                    n.windowed = false;
                    freed += 1;
                }
            }
        }
        *inner.outstanding(run) += waiting;
        drop(inner);
        self.window.add_permits(freed);
    }

    /// Records a webhook that arrived at `endpoint` (numbered across tenants) for `seq`.
    pub fn arrived(&self, endpoint: usize, seq: u64, webhook_id: &str) {
        let at = self.now();
        self.received.fetch_add(1, Ordering::Relaxed);
        let fanout = self.fanout;
        let mut inner = self.lock();
        let Some(n) = inner.notifications.get_mut(seq as usize) else {
            inner.unknown += 1;
            return;
        };
        if endpoint / fanout != n.tenant {
            inner.misrouted += 1;
            return;
        }
        let endpoint = endpoint % fanout;
        let first_here = !n.arrivals.iter().any(|a| a.endpoint == endpoint);
        n.arrivals.push(Arrival {
            endpoint,
            at,
            webhook_id: webhook_id.into(),
        });
        if !first_here || n.completed != 0 {
            return;
        }
        let mut reached: Vec<usize> = n.arrivals.iter().map(|a| a.endpoint).collect();
        reached.sort_unstable();
        reached.dedup();
        if reached.len() < fanout {
            return;
        }
        n.completed = at;
        let release = std::mem::take(&mut n.windowed);
        let (run, acked) = (n.run, n.acked == Some(true));
        if acked {
            *inner.outstanding(run) -= 1;
        }
        drop(inner);
        if release {
            self.window.add_permits(1);
        }
    }

    pub fn other_type(&self, event_type: &str) {
        self.received.fetch_add(1, Ordering::Relaxed);
        *self
            .lock()
            .other_types
            .entry(event_type.to_owned())
            .or_default() += 1;
    }

    pub fn unknown(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.lock().unknown += 1;
    }

    pub fn bad_signature(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.lock().bad_signatures += 1;
    }

    /// Webhooks received so far, of any kind.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Acknowledged notifications of `run` not yet arrived at every endpoint.
    pub fn outstanding(&self, run: usize) -> u64 {
        self.lock().outstanding.get(run).copied().unwrap_or(0)
    }

    /// The figures of `run`, measured from `from` (ns): the closed loop's warm-up comes before.
    pub fn figures(&self, run: usize, from: u64) -> RunFigures {
        let inner = self.lock();
        let mut figures = RunFigures {
            sent: 0,
            acked: 0,
            refused: 0,
            throughput: 0.0,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            webhooks: 0,
        };
        let mut latencies = Vec::new();
        let (mut completed, mut last) = (0u64, from);
        for n in inner.notifications.iter().filter(|n| n.run == run) {
            figures.sent += 1;
            match n.acked {
                Some(true) => figures.acked += 1,
                Some(false) => figures.refused += 1,
                None => {}
            }
            if n.completed >= from {
                completed += 1;
                last = last.max(n.completed);
            }
            if n.acked == Some(true) && n.sent >= from {
                figures.webhooks += n.arrivals.len() as u64;
                latencies.extend(n.arrivals.iter().map(|a| a.at.saturating_sub(n.sent)));
            }
        }
        figures.throughput = completed as f64 / ((last - from) as f64 / 1e9).max(1e-9);
        (figures.p50, figures.p99) = percentiles(&mut latencies);
        figures
    }

    /// Whether every acknowledged notification arrived exactly once at each of its tenant's
    /// endpoints, by `webhook-id`.
    pub fn verdict(&self) -> Verdict {
        let inner = self.lock();
        let mut verdict = Verdict {
            unknown: inner.unknown,
            bad_signatures: inner.bad_signatures,
            misrouted: inner.misrouted,
            other_types: inner.other_types.clone(),
            ..Verdict::default()
        };
        // Per endpoint of the notification at hand: arrivals, and the first one's webhook-id.
        let mut seen: Vec<(u64, Option<&str>)> = vec![(0, None); self.fanout];
        for n in &inner.notifications {
            let acked = n.acked == Some(true);
            if acked {
                verdict.acked += 1;
                verdict.due += self.fanout as u64;
            } else if !n.arrivals.is_empty() {
                verdict.refused_but_arrived += 1;
            }
            seen.iter_mut().for_each(|s| *s = (0, None));
            for arrival in &n.arrivals {
                let (count, first) = &mut seen[arrival.endpoint];
                *count += 1;
                match first {
                    None => *first = Some(&arrival.webhook_id),
                    Some(first) => {
                        verdict.duplicates += 1;
                        if *first != &*arrival.webhook_id {
                            verdict.duplicates_new_id += 1;
                        }
                    }
                }
            }
            if acked {
                verdict.delivered_once +=
                    seen.iter().filter(|(count, _)| *count == 1).count() as u64;
                verdict.lost += seen.iter().filter(|(count, _)| *count == 0).count() as u64;
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_counts_losses_duplicates_and_misrouted_webhooks_per_endpoint() {
        let ledger = Ledger::new(2, 10);
        let seqs = ledger.issue(1, 0, 2, ledger.now(), true);
        ledger.answered(seqs, true);
        assert_eq!(ledger.outstanding(1), 2);
        // The first reaches both endpoints once, and gives its place in the window back.
        ledger.arrived(0, 0, "msg_a");
        ledger.arrived(1, 0, "msg_a");
        assert_eq!(ledger.window.available_permits(), 11);
        // The second twice at endpoint 0 (once under a new id), never at endpoint 1.
        ledger.arrived(0, 1, "msg_b");
        ledger.arrived(0, 1, "msg_c");
        // Endpoint 2 is the next tenant's.
        ledger.arrived(2, 0, "msg_a");
        let verdict = ledger.verdict();
        assert_eq!(
            (
                verdict.acked,
                verdict.due,
                verdict.delivered_once,
                verdict.lost
            ),
            (2, 4, 2, 1)
        );
        assert_eq!((verdict.duplicates, verdict.duplicates_new_id), (1, 1));
        assert_eq!(verdict.misrouted, 1);
        assert!(!verdict.passed());
        assert_eq!(ledger.outstanding(1), 1);
    }

    #[test]
    fn a_refused_post_frees_its_places_and_is_not_due() {
        let ledger = Ledger::new(1, 4);
        let seqs = ledger.issue(1, 0, 3, ledger.now(), true);
        ledger.answered(seqs, false);
        assert_eq!(ledger.window.available_permits(), 7);
        assert_eq!(ledger.outstanding(1), 0);
        let verdict = ledger.verdict();
        assert_eq!((verdict.acked, verdict.due, verdict.lost), (0, 0, 0));
        assert!(verdict.passed());
    }
}
