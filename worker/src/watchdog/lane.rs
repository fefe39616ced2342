//! What a lane (the apalis worker of one queue in this process) tells the watchdog, and what the
//! watchdog can do to it.
//!
//! Everything here is in-process and lock-light, because it is written from the hot paths: the
//! lane's Redis connection notes every answered command, its backend notes every job it hands
//! out, and its job layer notes when jobs start and end. Times are milliseconds since the
//! process's `Lanes` were made (monotonic, comparable across lanes).

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::Waker,
    time::{Duration, Instant},
};

/// A fault the watchdog must catch, injected on purpose (tests, drills).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The lane's fetch loop stops where it is, as a fetch that never returns or a lost
    /// wake-up would: no fetch, no heartbeat, no acknowledgement.
    Hang,
    /// The lane keeps its heartbeat but takes no job, as when its slots never free.
    StopFetching,
}

/// The lanes of this process.
#[derive(Debug)]
pub struct Lanes {
    lanes: Vec<Arc<LaneState>>,
    epoch: Instant,
}

impl Default for Lanes {
    fn default() -> Self {
        Self {
            lanes: Vec::new(),
            epoch: Instant::now(),
        }
    }
}

impl Lanes {
    /// Adds the lane of `queue`, whose jobs run `concurrency` at a time.
    pub(crate) fn add(&mut self, queue: &'static str, concurrency: usize) -> Arc<LaneState> {
        let lane = Arc::new(LaneState::new(queue, concurrency, self.epoch));
        self.lanes.push(lane.clone());
        lane
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<LaneState>> {
        self.lanes.iter()
    }

    pub(crate) fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// The lanes marked stalled right now, by queue name.
    pub fn stalled(&self) -> Vec<&'static str> {
        self.lanes
            .iter()
            .filter(|lane| lane.stalled.load(Ordering::Relaxed))
            .map(|lane| lane.queue)
            .collect()
    }

    /// How many times the watchdog restarted the lane of `queue`.
    pub fn restarts(&self, queue: &str) -> u64 {
        self.lanes
            .iter()
            .find(|lane| lane.queue == queue)
            .map_or(0, |lane| lane.restarts.load(Ordering::Relaxed))
    }

    /// How many times the watchdog restarted any lane.
    pub fn restarts_total(&self) -> u64 {
        self.lanes
            .iter()
            .map(|lane| lane.restarts.load(Ordering::Relaxed))
            .sum()
    }

    /// Injects `fault` into the running worker of `queue`'s lane (the restarted one runs
    /// cleanly). Returns whether the lane exists.
    pub fn inject(&self, queue: &str, fault: Fault) -> bool {
        let Some(lane) = self.lanes.iter().find(|lane| lane.queue == queue) else {
            return false;
        };
        let generation = lane.generation.load(Ordering::Acquire);
        let slot = match fault {
            Fault::Hang => &lane.hang,
            Fault::StopFetching => &lane.stop_fetching,
        };
        slot.store(generation, Ordering::Release);
        true
    }

    /// Whether the apalis worker named `worker` was stopped by the watchdog (rather than dying).
    pub(crate) fn stopped_by_watchdog(&self, worker: &str) -> bool {
        self.lanes.iter().any(|lane| {
            lane.tripped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .any(|name| name == worker)
        })
    }
}

/// One lane's signals and controls.
#[derive(Debug)]
pub struct LaneState {
    pub(crate) queue: &'static str,
    pub(crate) concurrency: usize,
    epoch: Instant,
    /// The apalis worker running the lane now: a new one per (re)start.
    generation: AtomicU64,
    generation_started: AtomicU64,
    worker: Mutex<String>,
    /// When a Redis command of the lane's backend (fetch, heartbeat, acknowledgement) was last
    /// answered.
    last_answer: AtomicU64,
    /// When the lane's backend last handed a job to the lane.
    last_job_taken: AtomicU64,
    /// Jobs holding one of the lane's slots: id → start.
    running: Mutex<Running>,
    /// The generation the watchdog asked to end (0: none).
    trip: AtomicU64,
    /// Names of workers the watchdog ended whose jobs are not released yet.
    tripped: Mutex<Vec<String>>,
    hang: AtomicU64,
    stop_fetching: AtomicU64,
    /// Wakes the lane's worker, so a lane that nothing else wakes still sees the watchdog.
    waker: Mutex<Option<Waker>>,
    stalled: AtomicBool,
    restarts: AtomicU64,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    started: BTreeMap<u64, u64>,
}

/// The lane's signals at one moment, for the watchdog to judge.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signals {
    pub generation: u64,
    pub generation_started: u64,
    pub last_answer: u64,
    pub last_job_taken: u64,
    pub running: usize,
    /// When the longest-running job holding a slot started.
    pub oldest_started: Option<u64>,
}

/// What the lane's backend should do on this poll.
pub(crate) enum Verdict {
    Run,
    /// The watchdog ended this worker: fail, so the monitor starts a new one.
    Stop,
    /// An injected hang: never ready.
    Hang,
    /// An injected fault: ready, but fetch nothing.
    NoFetch,
}

impl LaneState {
    fn new(queue: &'static str, concurrency: usize, epoch: Instant) -> Self {
        Self {
            queue,
            concurrency,
            epoch,
            generation: AtomicU64::new(0),
            generation_started: AtomicU64::new(0),
            worker: Mutex::new(String::new()),
            last_answer: AtomicU64::new(0),
            last_job_taken: AtomicU64::new(0),
            running: Mutex::new(Running::default()),
            trip: AtomicU64::new(0),
            tripped: Mutex::new(Vec::new()),
            hang: AtomicU64::new(0),
            stop_fetching: AtomicU64::new(0),
            waker: Mutex::new(None),
            stalled: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// A new apalis worker named `worker` takes over the lane; returns its generation.
    pub(crate) fn begin(&self, worker: &str) -> u64 {
        let mut current = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        worker.clone_into(&mut current);
        self.generation_started.store(self.now(), Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub(crate) fn answered(&self) {
        self.last_answer.store(self.now(), Ordering::Release);
    }

    pub(crate) fn job_taken(&self) {
        self.last_job_taken.store(self.now(), Ordering::Release);
    }

    pub(crate) fn job_started(self: &Arc<Self>) -> JobGuard {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let id = running.next;
        running.next += 1;
        running.started.insert(id, self.now());
        JobGuard {
            lane: self.clone(),
            id,
        }
    }

    /// What the backend of `generation` should do, remembering how to wake it.
    pub(crate) fn verdict(&self, generation: u64, waker: &Waker) -> Verdict {
        {
            let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
        if self.trip.load(Ordering::Acquire) == generation {
            Verdict::Stop
        } else if self.hang.load(Ordering::Acquire) == generation {
            Verdict::Hang
        } else if self.stop_fetching.load(Ordering::Acquire) == generation {
            Verdict::NoFetch
        } else {
            Verdict::Run
        }
    }

    pub(crate) fn signals(&self) -> Signals {
        let (running, oldest_started) = {
            let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            (
                running.started.len(),
                running.started.values().next().copied(),
            )
        };
        Signals {
            generation: self.generation.load(Ordering::Acquire),
            generation_started: self.generation_started.load(Ordering::Acquire),
            last_answer: self.last_answer.load(Ordering::Acquire),
            last_job_taken: self.last_job_taken.load(Ordering::Acquire),
            running,
            oldest_started,
        }
    }

    /// Ends the running worker (it fails on its next poll, which this wakes) and returns its
    /// name, whose jobs are released once the lane runs again.
    pub(crate) fn trip(&self) -> String {
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        {
            let mut tripped = self.tripped.lock().unwrap_or_else(PoisonError::into_inner);
            if !tripped.contains(&worker) {
                tripped.push(worker.clone());
            }
        }
        self.trip
            .store(self.generation.load(Ordering::Acquire), Ordering::Release);
        self.restarts.fetch_add(1, Ordering::Relaxed);
        if let Some(waker) = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            waker.wake();
        }
        worker
    }

    /// The workers the watchdog ended whose jobs are still to be released.
    pub(crate) fn tripped(&self) -> Vec<String> {
        self.tripped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn released(&self, worker: &str) {
        self.tripped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|name| name != worker);
    }

    pub(crate) fn current_worker(&self) -> String {
        self.worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::Relaxed);
    }
}

/// Marks a job as holding a slot until dropped (finished, failed, timed out or abandoned).
pub(crate) struct JobGuard {
    lane: Arc<LaneState>,
    id: u64,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.lane
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .started
            .remove(&self.id);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
