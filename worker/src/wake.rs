//! Waking an idle lane the moment work arrives, instead of at its next poll.
//!
//! apalis fetches when its poll strategy fires; an interval alone puts up to
//! `worker.poll_interval_ms` (250 ms on the ingest queue) between a notification's 202 and the
//! start of its processing. Every push of jobs due now moves them to the ready list with one
//! Lua script ([`graphhook_domain::platform::jobs::Queues::promote_due`]), which also publishes the
//! queue's name on `{prefix}:wake`. Each worker process subscribes to that channel once and
//! fires the lane's [`WakeUp`] strategy, beside the interval, which stays as the fallback: a
//! wake-up lost (no subscriber yet, a dropped connection) costs one interval, never a job.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use futures::{StreamExt, task::AtomicWaker};
use graphhook_domain::platform::secret::ExposeSecret;
use tokio::sync::watch;

use graphhook_domain::Services;

/// One lane's pending wake-up and the poller waiting for it.
#[derive(Debug, Default)]
pub struct Signal {
    pending: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Makes the lane fetch now (or as soon as it polls again, if it is busy).
    pub fn wake(&self) {
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// The poll strategy that fires on a wake-up.
#[derive(Debug, Clone)]
pub struct WakeUp {
    signal: Arc<Signal>,
}

impl WakeUp {
    pub fn new(signal: Arc<Signal>) -> Self {
        Self { signal }
    }
}

impl PollStrategy for WakeUp {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        self.signal.waker.register(cx.waker());
        if self.signal.pending.swap(false, Ordering::AcqRel) {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// The wake-up signal of every queue this process works on.
#[derive(Debug, Default)]
pub struct Wakeups {
    signals: HashMap<&'static str, Arc<Signal>>,
}

impl Wakeups {
    /// The signal of `queue` (made on first use).
    pub fn add(&mut self, queue: &'static str) -> Arc<Signal> {
        self.signals.entry(queue).or_default().clone()
    }

    fn wake_all(&self) {
        for signal in self.signals.values() {
            signal.wake();
        }
    }

    fn wake(&self, queue: &str) {
        if let Some(signal) = self.signals.get(queue) {
            signal.wake();
        }
    }
}

/// How long after subscribing every lane is woken a second time.
const AGAIN_AFTER: Duration = Duration::from_secs(1);

/// Listens on the wake-up channel until `stopped`, subscribing again after a lost connection.
pub async fn listen(ctx: Services, wakeups: Arc<Wakeups>, mut stopped: watch::Receiver<bool>) {
    let channel = ctx.queues.wake_channel();
    let mut backoff = Duration::from_millis(100);
    while !*stopped.borrow() {
        let ended = tokio::select! {
            ended = subscribe(&ctx, &channel, &wakeups) => ended,
            _ = stopped.changed() => return,
        };
        if let Err(error) = ended {
            tracing::debug!(%error, "the wake-up subscription ended; polling covers the gap");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.changed() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn subscribe(ctx: &Services, channel: &str, wakeups: &Wakeups) -> redis::RedisResult<()> {
    let client = redis::Client::open(ctx.settings.redis.url.expose_secret())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    // Jobs pushed while no one listened would wait for the interval: wake every lane once now,
    // and once more a moment later for a lane that was still registering with Redis (it lets a
    // wake-up pass while it does).
    wakeups.wake_all();
    let mut messages = pubsub.into_on_message();
    let again = tokio::time::sleep(AGAIN_AFTER);
    tokio::pin!(again);
    let mut woken_again = false;
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = &mut again, if !woken_again => {
                woken_again = true;
                wakeups.wake_all();
                continue;
            }
        };
        let Some(message) = message else { break };
        if let Ok(queue) = message.get_payload::<String>() {
            wakeups.wake(&queue);
        }
    }
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "the subscription connection closed",
    )))
}

#[cfg(test)]
mod tests {

    use futures::task::noop_waker_ref;

    use super::*;

    #[test]
    fn a_wake_up_fires_the_strategy_once() {
        let mut wakeups = Wakeups::default();
        let signal = wakeups.add("ingest.process");
        let mut strategy = WakeUp::new(signal);
        let mut cx = Context::from_waker(noop_waker_ref());
        let snapshot = PollSnapshot::default();
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
        wakeups.wake("ingest.process");
        wakeups.wake("another.queue");
        assert_eq!(
            strategy.poll_drive(&mut cx, &snapshot),
            Poll::Ready(Some(()))
        );
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
    }
}
