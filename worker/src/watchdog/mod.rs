//! The lane watchdog: restarts a lane that stopped making progress while work waits.
//!
//! A lane is the apalis worker of one queue in this process. The monitor restarts a lane whose
//! worker *died*; a lane can also stop without dying: under heavy load the delivery lanes once
//! went silent (no heartbeat, due deliveries `pending`, jobs stuck in the lane's in-flight set)
//! while `/healthz` said `ok` and nothing was logged, until the process was restarted. This
//! module watches progress instead of death.
//!
//! Every `period` (a quarter of `worker.watchdog_stall_secs`, between 0.25 and 5 s) it judges
//! each lane from what the lane itself reports in-process ([`lane`], fed by [`wrap`]), so the
//! judgement holds even when Redis is the thing that hangs:
//!
//! - **silent**: no Redis command of the lane's fetch loop (fetch, heartbeat, lease renewal,
//!   acknowledgement) was answered for the stall window, while work waits. A busy lane still
//!   heartbeats, so this never holds for a healthy one (the window is at least two heartbeats);
//! - **not taking work**: jobs have been ready in Redis at every check for the stall window and
//!   the lane took none of them, although a slot was free or the jobs holding the slots have run
//!   past `worker.job_timeout_secs` (plus the window; the job timeout frees a slot at
//!   `job_timeout_secs`, so one held longer is stuck). A lane busy with jobs still within their
//!   timeout is not stalled, however long the queue.
//!
//! "Work waits" is the lane's ready list plus its due scheduled jobs in Redis; when Redis does
//! not answer, Postgres for the lanes whose work it knows (see [`waiting`]).
//!
//! A stalled lane is logged at `error` (naming the lane and what did not advance), counted in
//! `graphhook_worker_lane_restarts_total{lane}` (`lane` is the queue name), and shown by the
//! worker's `/healthz` (503 `lane_stalled`) until it runs again. Its worker is ended: the backend
//! fails its next poll (the watchdog wakes it), the monitor drops it, hung fetch and all, and
//! starts another under a new name. Once the new worker reaches Redis, the jobs the old one held
//! go back to the queue's ready list to run again (jobs are idempotent: a delivery's claim is a
//! conditional update). A restarted lane gets a whole window to show progress before it can be
//! restarted again. A job whose code blocks its thread cannot be cancelled; it runs on, but no
//! longer holds the lane.

mod lane;
mod waiting;
mod wrap;

use std::{fmt, sync::Arc, time::Duration};

use tokio::sync::watch;

pub use lane::{Fault, Lanes};
pub(crate) use lane::{LaneState, Signals};
pub(crate) use wrap::{LaneConnection, TrackJobsLayer, Watched};

use graphhook_domain::Services;

/// How long one check waits for Redis or Postgres.
const ASK_WITHIN: Duration = Duration::from_secs(2);

/// Watches `lanes` until `stopped` turns true.
pub(crate) async fn run(ctx: Services, lanes: Arc<Lanes>, mut stopped: watch::Receiver<bool>) {
    let settings = &ctx.settings.worker;
    let limits = Limits {
        stall: settings.watchdog_stall_secs.saturating_mul(1000),
        job_timeout: settings.job_timeout_secs.saturating_mul(1000),
    };
    let period = Duration::from_millis(limits.stall / 4)
        .clamp(Duration::from_millis(250), Duration::from_secs(5));
    let queues: Vec<&'static str> = lanes.iter().map(|lane| lane.queue).collect();
    let mut watches: Vec<Watch> = queues.iter().map(|_| Watch::default()).collect();
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            changed = stopped.changed() => {
                if changed.is_err() || *stopped.borrow() {
                    return;
                }
                continue;
            }
        }
        let ready = waiting::ready_in_redis(&ctx, &queues, ASK_WITHIN).await;
        let now = lanes.now_ms();
        for ((lane, watch), index) in lanes.iter().zip(&mut watches).zip(0..) {
            let ready = ready.as_ref().and_then(|counts| counts.get(index).copied());
            check(&ctx, lane, watch, ready, now, &limits).await;
        }
    }
}

struct Limits {
    stall: u64,
    job_timeout: u64,
}

/// What the watchdog remembers of one lane between checks.
#[derive(Default)]
struct Watch {
    /// Since when Redis has shown jobs ready for the lane at every check.
    waiting_since: Option<u64>,
    /// The lane's last restart, until the lane runs again.
    restarted: Option<Restarted>,
}

struct Restarted {
    at: u64,
    generation: u64,
}

/// Why a lane is stalled.
enum Stall {
    Silent { for_ms: u64 },
    NotTaking(NotTaking),
}

struct NotTaking {
    for_ms: u64,
    ready: u64,
    running: usize,
    concurrency: usize,
    longest_ms: u64,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |ms: u64| ms as f64 / 1000.0;
        match self {
            Stall::Silent { for_ms } => write!(
                f,
                "its fetch loop reached Redis (fetch, heartbeat, acknowledgement) not once in \
                 {:.1} s while work waited",
                secs(*for_ms)
            ),
            Stall::NotTaking(n) => write!(
                f,
                "it took no job in {:.1} s while {} waited ({} of {} slots busy, the longest for \
                 {:.1} s)",
                secs(n.for_ms),
                n.ready,
                n.running,
                n.concurrency,
                secs(n.longest_ms)
            ),
        }
    }
}

async fn check(
    ctx: &Services,
    lane: &LaneState,
    watch: &mut Watch,
    ready: Option<u64>,
    now: u64,
    limits: &Limits,
) {
    let signals = lane.signals();
    match ready {
        Some(0) => watch.waiting_since = None,
        Some(_) => {
            watch.waiting_since.get_or_insert(now);
        }
        // Unknown: keep what the last answer said.
        None => {}
    }
    if let Some(restarted) = &watch.restarted {
        // Running again: the worker started after the restart has reached Redis.
        if signals.generation > restarted.generation
            && signals.last_answer >= signals.generation_started
        {
            lane.set_stalled(false);
            watch.restarted = None;
            tracing::info!(
                lane = lane.queue,
                worker = %lane.current_worker(),
                "lane running again after the watchdog restarted it"
            );
        } else if now.saturating_sub(restarted.at) < limits.stall {
            return;
        }
    }
    if watch.restarted.is_none() {
        release_held_jobs(ctx, lane).await;
    }
    if let Some(stall) = judge(ctx, lane, watch, &signals, ready, now, limits).await {
        restart(lane, watch, &signals, &stall, now);
    }
}

async fn judge(
    ctx: &Services,
    lane: &LaneState,
    watch: &Watch,
    signals: &Signals,
    ready: Option<u64>,
    now: u64,
    limits: &Limits,
) -> Option<Stall> {
    // Nothing the current worker did counts from before it started.
    let silent_for = now.saturating_sub(signals.last_answer.max(signals.generation_started));
    if silent_for >= limits.stall {
        let waiting = match ready {
            Some(n) if n > 0 => true,
            _ => waiting::waiting_in_postgres(ctx, lane.queue, ASK_WITHIN).await == Some(true),
        };
        if waiting {
            return Some(Stall::Silent { for_ms: silent_for });
        }
    }
    let (Some(ready @ 1..), Some(since)) = (ready, watch.waiting_since) else {
        return None;
    };
    // Jobs waited through the whole window, the worker ran through all of it, and it took none.
    let window_start = now.checked_sub(limits.stall)?;
    if since > window_start
        || signals.generation_started > window_start
        || signals.last_job_taken >= window_start
    {
        return None;
    }
    let idle = now.saturating_sub(signals.last_job_taken.max(signals.generation_started));
    let longest_ms = signals
        .oldest_started
        .map_or(0, |started| now.saturating_sub(started));
    let busy_within_timeout = signals.running >= lane.concurrency
        && longest_ms < limits.job_timeout.saturating_add(limits.stall);
    if busy_within_timeout {
        return None;
    }
    Some(Stall::NotTaking(NotTaking {
        for_ms: idle,
        ready,
        running: signals.running,
        concurrency: lane.concurrency,
        longest_ms,
    }))
}

fn restart(lane: &LaneState, watch: &mut Watch, signals: &Signals, stall: &Stall, now: u64) {
    metrics::counter!("graphhook_worker_lane_restarts_total", "lane" => lane.queue).increment(1);
    lane.set_stalled(true);
    let worker = lane.trip();
    tracing::error!(
        lane = lane.queue,
        %worker,
        "lane stalled: {stall}; restarting it under a new name, its jobs go back to the queue"
    );
    watch.restarted = Some(Restarted {
        at: now,
        generation: signals.generation,
    });
}

/// Hands the jobs of workers the watchdog ended back to their queue (tried again at the next
/// check if Redis does not answer).
async fn release_held_jobs(ctx: &Services, lane: &LaneState) {
    for worker in lane.tripped() {
        match waiting::release(ctx, lane.queue, &worker, ASK_WITHIN).await {
            Ok(released) => {
                lane.released(&worker);
                tracing::info!(
                    lane = lane.queue,
                    %worker,
                    released,
                    "jobs of the stopped worker are back on the queue"
                );
            }
            Err(error) => {
                tracing::warn!(lane = lane.queue, %worker, %error, "could not release the stopped worker's jobs yet");
                return;
            }
        }
    }
}
