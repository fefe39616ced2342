//! Deterministic waits: run the maintenance tick or the queued jobs until what a test waits
//! for has happened, within a bound that fails the test rather than hanging it.

use std::time::Duration;

pub use crate::poll::poll;
use crate::{Receiver, TestApp, receiver::Received};

const WITHIN: Duration = Duration::from_secs(15);

/// Runs the maintenance job for tick `n` (retention runs on whole minutes), then the jobs it
/// queued.
pub async fn tick_at(app: &TestApp, n: i64) {
    graphhook_worker::jobs::queue_depths::run(
        graphhook_domain::platform::jobs::QueueDepthsTick { tick: n },
        &app.services,
    )
    .await
    .unwrap_or_else(|e| panic!("tick {n}: {e:#}"));
    app.drain_jobs().await;
}

/// One maintenance tick at the clock's second (hands out due upkeep, sweeps due deliveries)
/// and every job it queued.
pub async fn tick(app: &TestApp) {
    tick_at(app, app.clock.now().timestamp()).await;
}

/// Ticks until `done` holds, for at most 15 seconds.
pub async fn settle_until<F, Fut>(app: &TestApp, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    poll(WITHIN, Duration::from_millis(50), || {
        let done = done();
        async move {
            tick(app).await;
            if done.await {
                Ok(())
            } else {
                Err(format!("never happened: {what}"))
            }
        }
    })
    .await;
}

/// Ticks (the sweeper enqueues deliveries written without a job) until `n` requests of
/// `event_type` reached the receiver. Returns every request of `event_type` that arrived, in
/// order.
pub async fn deliver_until(
    app: &TestApp,
    receiver: &Receiver,
    event_type: &str,
    n: usize,
) -> Vec<Received> {
    settle_until(app, &format!("{n} {event_type}"), || async {
        receiver.count(event_type) >= n
    })
    .await;
    receiver.all_of(event_type)
}

/// Runs queued jobs (no tick) until `n` requests of `event_type` reached the receiver. Returns
/// every request of `event_type` that arrived, in order.
pub async fn drain_until(
    app: &TestApp,
    receiver: &Receiver,
    event_type: &str,
    n: usize,
) -> Vec<Received> {
    poll(WITHIN, Duration::from_millis(50), || async {
        app.drain_jobs().await;
        let count = receiver.count(event_type);
        if count >= n {
            Ok(())
        } else {
            Err(format!("{count} of {n} {event_type} arrived"))
        }
    })
    .await;
    receiver.all_of(event_type)
}

/// Ticks until the history of subscription `id` holds `(action, trigger, outcome)`.
pub async fn until_history_has(
    app: &TestApp,
    id: &str,
    action: &str,
    trigger: &str,
    outcome: &str,
) {
    let entry = (action.to_owned(), trigger.to_owned(), outcome.to_owned());
    settle_until(app, &format!("{action} {trigger} {outcome}"), || async {
        crate::graph::subscription_history(app, id)
            .await
            .contains(&entry)
    })
    .await;
}

/// Drains queued jobs until a request of `event_type` reached the receiver: the first one.
pub async fn drained_first(app: &TestApp, receiver: &Receiver, event_type: &str) -> Received {
    drain_until(app, receiver, event_type, 1).await.remove(0)
}

/// Ticks until a request of `event_type` reached the receiver: the first one.
pub async fn delivered_first(app: &TestApp, receiver: &Receiver, event_type: &str) -> Received {
    deliver_until(app, receiver, event_type, 1).await.remove(0)
}
