//! Throttling of slow endpoints (§3.4, D23 wording): per notification URL, a notification
//! whose POST took longer than the slow threshold (2,900 ms; a timeout too) counts as slow.
//! Once the URL has received the minimum number of notifications (100) in the current window,
//! ≥ 10 % slow puts it in the *slow* state (new notifications wait 10 minutes, failed ones are
//! retried every 10 minutes) and ≥ 15 % in the *drop* state (notifications are dropped). The
//! ratio is evaluated after every POST and the counters reset every window (10 minutes), which
//! ends either state.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::Behaviour;

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum State {
    #[default]
    Normal,
    Slow,
    Drop,
}

/// The thresholds, from the behaviour switches.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub slow_ms: u64,
    pub min_samples: u64,
    pub slow_percent: u64,
    pub drop_percent: u64,
    pub window: Duration,
    /// How long new notifications wait, and failed ones between retries, in the slow state.
    pub slow_delay: Duration,
}

impl Thresholds {
    pub fn from_behaviour(b: &Behaviour) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1_000));
        Self {
            slow_ms: b.slow_threshold_ms,
            min_samples: b.throttle_min_samples.max(1),
            slow_percent: b.slow_percent,
            drop_percent: b.drop_percent,
            window: secs(b.throttle_window_secs.max(1)),
            slow_delay: secs(b.slow_delay_secs),
        }
    }
}

/// One URL's counters and state.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub url: String,
    pub state: State,
    /// Start of the current window (emulator clock).
    pub window_start: DateTime<Utc>,
    /// Notifications delivered to (or timed out at) the URL in this window.
    pub samples: u64,
    /// Of those, the slow ones.
    pub slow: u64,
}

impl Endpoint {
    pub fn new(url: &str, now: DateTime<Utc>) -> Self {
        Self {
            url: url.to_owned(),
            state: State::Normal,
            window_start: now,
            samples: 0,
            slow: 0,
        }
    }

    /// Starts a new window when the current one is over; the state is evaluated afresh.
    pub fn roll(&mut self, now: DateTime<Utc>, t: &Thresholds) {
        if now >= self.window_start + t.window {
            self.window_start = now;
            self.samples = 0;
            self.slow = 0;
            self.state = State::Normal;
        }
    }

    /// Counts `items` notifications carried by one POST.
    pub fn record(&mut self, items: u64, slow: bool, now: DateTime<Utc>, t: &Thresholds) {
        self.roll(now, t);
        self.samples += items;
        if slow {
            self.slow += items;
        }
        self.state = if self.samples < t.min_samples {
            State::Normal
        } else if self.slow * 100 >= t.drop_percent * self.samples {
            State::Drop
        } else if self.slow * 100 >= t.slow_percent * self.samples {
            State::Slow
        } else {
            State::Normal
        };
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_state_follows_the_slow_ratio_once_there_are_enough_samples() {
        let t = Thresholds::from_behaviour(&Behaviour::default());
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut e = Endpoint::new("https://x.example/n", now);
        e.record(20, true, now, &t);
        e.record(79, false, now, &t);
        assert_eq!(e.state, State::Normal, "99 samples are not enough");
        e.record(1, false, now, &t);
        assert_eq!(e.state, State::Drop, "20 %");
        e.record(60, false, now, &t);
        assert_eq!(e.state, State::Slow, "12.5 %");
        e.record(40, false, now, &t);
        assert_eq!(e.state, State::Slow, "10 %");
        e.record(1, false, now, &t);
        assert_eq!(e.state, State::Normal, "under 10 %");
        e.record(1, true, now + Duration::minutes(10), &t);
        assert_eq!((e.samples, e.slow), (1, 1), "a new window");
    }
}
