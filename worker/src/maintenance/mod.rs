//! The maintenance tick's chores: what keeps the service honest between requests, as a table
//! of what runs and how often. The tick (`maintenance.queue_depths`, see
//! [`crate::jobs::queue_depths`]) runs once per `worker.tick_interval_secs` however many worker
//! processes run, measures the queues, then runs every chore that is due, in this order. One
//! file per chore.
//!
//! | chore | every | what |
//! |---|---|---|
//! | `circuits` | tick | publishes how many endpoints' circuits are open |
//! | `finished` | minute | trims finished jobs from Redis |
//! | `retention` | minute | removes payloads, attempts and events past retention |
//! | `dedup` | minute | forgets inbound items past the deduplication window |
//! | `inbound` | tick | queues inbound batches whose processing job was lost |
//! | `upkeep` | tick | hands out subscriptions due for renewal (or another action) |
//! | `reconcile` | tick | hands out tenants due for reconciliation with Graph |
//! | `expiry` | tick | publishes how soon the nearest subscription expires |
//! | `upkeep_history` | minute | removes upkeep history past retention |
//! | `operator_tokens` | minute | forgets revoked operator tokens that have expired |
//! | `offboarded` | minute | removes the data of tenants offboarded past their retention |
//! | `abandoned` | minute | removes connections nobody signed in to, a week after their link expired |
//! | `events` | tick | turns operational events into messages for the endpoints that want them |
//! | `due` | tick | queues due deliveries whose job is missing (Redis lost it) |

use std::{future::Future, pin::Pin};

use graphhook_domain::Services;

use crate::jobs::JobError;

mod abandoned;
mod circuits;
mod dedup;
mod due;
mod events;
mod expiry;
mod finished;
mod inbound;
mod offboarded;
mod operator_tokens;
mod reconcile;
mod retention;
mod upkeep;
mod upkeep_history;

/// How often a chore runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Every {
    Tick,
    /// On the ticks that start a minute (every tick when ticks are a minute or longer).
    Minute,
}

impl Every {
    pub fn due(self, tick: i64, interval_secs: u64) -> bool {
        let interval = interval_secs.max(1) as i64;
        match self {
            Every::Tick => true,
            Every::Minute => (tick / interval) % (60 / interval).max(1) == 0,
        }
    }
}

type Run =
    for<'a> fn(&'a Services) -> Pin<Box<dyn Future<Output = Result<u64, JobError>> + Send + 'a>>;

/// One chore: its name, how often it runs, what it does (returning how many things it did),
/// and the line logged when that is more than none.
pub struct Chore {
    pub name: &'static str,
    pub every: Every,
    run: Run,
    done: &'static str,
}

macro_rules! chore {
    ($name:literal, $every:ident, $module:ident, $done:literal) => {
        Chore {
            name: $name,
            every: Every::$every,
            run: |ctx| Box::pin($module::run(ctx)),
            done: $done,
        }
    };
}

pub const CHORES: [Chore; 14] = [
    chore!("circuits", Tick, circuits, ""),
    chore!("finished", Minute, finished, "trimmed finished jobs"),
    chore!(
        "retention",
        Minute,
        retention,
        "removed what is past retention"
    ),
    chore!(
        "dedup",
        Minute,
        dedup,
        "forgot inbound items past the deduplication window"
    ),
    chore!(
        "inbound",
        Tick,
        inbound,
        "queued unprocessed inbound batches again"
    ),
    chore!("upkeep", Tick, upkeep, "queued subscription upkeep"),
    chore!(
        "reconcile",
        Tick,
        reconcile,
        "queued subscription reconciliation"
    ),
    chore!("expiry", Tick, expiry, ""),
    chore!(
        "upkeep_history",
        Minute,
        upkeep_history,
        "removed upkeep history past retention"
    ),
    chore!(
        "operator_tokens",
        Minute,
        operator_tokens,
        "forgot expired revoked operator tokens"
    ),
    chore!(
        "offboarded",
        Minute,
        offboarded,
        "removed the data of offboarded tenants"
    ),
    chore!(
        "abandoned",
        Minute,
        abandoned,
        "removed connections nobody signed in to"
    ),
    chore!("events", Tick, events, "published operational events"),
    chore!("due", Tick, due, "enqueued due deliveries"),
];

/// Runs the chores due at `tick`, in the table's order; returns what each did.
pub async fn run(ctx: &Services, tick: i64) -> Result<Vec<(&'static str, u64)>, JobError> {
    let interval = ctx.settings.worker.tick_interval_secs;
    let mut done = Vec::new();
    for chore in CHORES.iter().filter(|c| c.every.due(tick, interval)) {
        let count = (chore.run)(ctx).await?;
        if count > 0 && !chore.done.is_empty() {
            tracing::info!(chore = chore.name, count, "{}", chore.done);
        }
        done.push((chore.name, count));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_chores_run_on_the_ticks_that_start_a_minute() {
        // Two-second ticks: ticks are seconds since the epoch, a multiple of the interval.
        assert!(Every::Minute.due(120, 2));
        assert!(!Every::Minute.due(122, 2));
        assert!(Every::Tick.due(122, 2));
        // Ticks of a minute or longer: every tick.
        assert!(Every::Minute.due(180, 60));
        assert!(Every::Minute.due(300, 300));
    }

    #[test]
    fn every_chore_has_a_name_of_its_own() {
        let mut names: Vec<_> = CHORES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CHORES.len());
    }
}
