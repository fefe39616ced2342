//! The one source of "now".
//!
//! Every decision that depends on time (expiry, renewal, retries, token lifetimes, consent
//! `state`) asks a [`Clock`]. Production uses the system clock; tests use a manual clock that
//! they move forward, and share it with the emulator so both sides agree on the time. SQL
//! receives `now` from here instead of calling `now()`.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, SubsecRound, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    inner: ClockKind,
}

#[derive(Clone, Debug, Default)]
enum ClockKind {
    #[default]
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self {
            inner: ClockKind::System,
        }
    }

    /// A clock that stands still at `start` until it is moved with [`Clock::advance`] or
    /// [`Clock::set`]. Clones share the same time.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self {
            inner: ClockKind::Manual(Arc::new(Mutex::new(start.trunc_subsecs(6)))),
        }
    }

    /// The current time, at microsecond precision (what Postgres stores).
    pub fn now(&self) -> DateTime<Utc> {
        match &self.inner {
            ClockKind::System => Utc::now().trunc_subsecs(6),
            ClockKind::Manual(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self.inner, ClockKind::Manual(_))
    }

    /// Moves a manual clock forward. Returns `false` (and does nothing) on the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.inner {
            ClockKind::System => false,
            ClockKind::Manual(t) => {
                let mut guard = t.lock().unwrap_or_else(PoisonError::into_inner);
                *guard += by;
                true
            }
        }
    }

    /// Sets a manual clock. Returns `false` (and does nothing) on the system clock.
    pub fn set(&self, to: DateTime<Utc>) -> bool {
        match &self.inner {
            ClockKind::System => false,
            ClockKind::Manual(t) => {
                *t.lock().unwrap_or_else(PoisonError::into_inner) = to.trunc_subsecs(6);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").map(|t| t.to_utc());
        let start = start.unwrap_or_default();
        let clock = Clock::manual(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        assert!(other.advance(Duration::minutes(5)));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::hours(1)));
        let delta = (clock.now() - Utc::now()).num_seconds().abs();
        assert!(delta < 5, "system clock is {delta}s away from Utc::now()");
    }
}
