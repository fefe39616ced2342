//! The retry schedule (webhooks.md): the delays before attempts 2, 3, …, each with ±20 %
//! jitter; after the last one the delivery is exhausted. The deployment's schedule is
//! `webhooks.retry_schedule_secs`, by default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and
//! 24 h (ten attempts over about three days); an endpoint may have its own
//! (`endpoints.retry_schedule`). A `Retry-After` from the endpoint is honoured, clamped to
//! 1 s – 24 h.

use chrono::Duration;
use serde_json::Value;

use crate::platform::entities::endpoint;

/// The default delays before attempts 2 to 10, in seconds (the default of
/// `webhooks.retry_schedule_secs`).
pub use crate::platform::config::DEFAULT_RETRY_DELAYS_SECS as DELAYS_SECS;

/// A schedule has at most this many delays (so at most 21 attempts)…
pub const MAX_DELAYS: usize = 20;

/// …each of 1 s to 24 h.
pub const MAX_DELAY_SECS: i64 = 86_400;

/// Delays before attempts 2, 3, …: 1 to [`MAX_DELAYS`] of them, each 1 to [`MAX_DELAY_SECS`]
/// seconds. Only [`Schedule::new`] makes one, so every schedule is within those bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    delays_secs: Vec<i64>,
}

/// Why delays do not make a schedule. The messages complete "retry_schedule: …" and
/// "webhooks.retry_schedule_secs: …".
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("must list 1 to {MAX_DELAYS} delays (seconds), not {0}")]
    Count(usize),
    #[error("every delay must be between 1 and {MAX_DELAY_SECS} seconds, not {0}")]
    Delay(i64),
    #[error("must be an array of whole seconds")]
    Shape,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            delays_secs: DELAYS_SECS.to_vec(),
        }
    }
}

impl Schedule {
    pub fn new(delays_secs: &[i64]) -> Result<Self, ScheduleError> {
        if delays_secs.is_empty() || delays_secs.len() > MAX_DELAYS {
            return Err(ScheduleError::Count(delays_secs.len()));
        }
        if let Some(bad) = delays_secs
            .iter()
            .find(|d| !(1..=MAX_DELAY_SECS).contains(*d))
        {
            return Err(ScheduleError::Delay(*bad));
        }
        Ok(Self {
            delays_secs: delays_secs.to_vec(),
        })
    }

    /// The deployment's schedule, `webhooks.retry_schedule_secs`.
    pub fn from_settings(
        settings: &crate::platform::config::WebhookSettings,
    ) -> Result<Self, ScheduleError> {
        Self::new(&settings.retry_schedule_secs)
    }

    /// A schedule stored as JSON (an array of seconds).
    pub fn from_json(value: &Value) -> Result<Self, ScheduleError> {
        let items = value.as_array().ok_or(ScheduleError::Shape)?;
        if items.len() > MAX_DELAYS {
            return Err(ScheduleError::Count(items.len()));
        }
        let delays: Vec<i64> = items
            .iter()
            .map(|v| v.as_i64().ok_or(ScheduleError::Shape))
            .collect::<Result<_, _>>()?;
        Self::new(&delays)
    }

    /// The schedule as stored: a JSON array of seconds.
    pub fn to_json(&self) -> Value {
        Value::from(self.delays_secs.clone())
    }

    /// The endpoint's own schedule, or the deployment's when it has none. A stored schedule
    /// that is not one (only the api writes them, after checking) counts as none.
    pub fn for_endpoint(endpoint: &endpoint::Model, deployment: &Schedule) -> Schedule {
        match endpoint.retry_schedule.as_ref().filter(|v| !v.is_null()) {
            None => deployment.clone(),
            Some(stored) => Self::from_json(stored).unwrap_or_else(|error| {
                tracing::warn!(endpoint = %endpoint.id, %error, "unusable stored retry schedule; the deployment's applies");
                deployment.clone()
            }),
        }
    }

    pub fn delays_secs(&self) -> &[i64] {
        &self.delays_secs
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> i32 {
        // At most MAX_DELAYS + 1.
        i32::try_from(self.delays_secs.len()).map_or(i32::MAX, |n| n + 1)
    }

    /// The delay before the next attempt after `attempts_made` attempts (1-based), with jitter
    /// `unit` in [0, 1) mapped onto ±20 %; `None` when no attempt is left.
    pub fn delay(&self, attempts_made: i32, unit: f64) -> Option<Duration> {
        let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
        let base = *self.delays_secs.get(index)?;
        let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
        Some(Duration::milliseconds(
            (base as f64 * 1000.0 * factor).round() as i64,
        ))
    }
}

/// A `Retry-After` value in seconds, clamped to 1 s – 24 h.
pub fn retry_after(header: Option<&str>) -> Option<Duration> {
    let secs: i64 = header?.trim().parse().ok()?;
    Some(Duration::seconds(secs.clamp(1, 86_400)))
}

/// A jitter unit from the process's random source.
pub fn random_unit() -> f64 {
    use rand::Rng;
    rand::rng().random::<f64>()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use serde_json::json;

    use super::*;

    fn within_twenty_percent(schedule: &Schedule) {
        let mut rng = StdRng::seed_from_u64(42);
        for (index, base) in schedule.delays_secs().iter().enumerate() {
            for _ in 0..200 {
                let d = schedule
                    .delay(index as i32 + 1, rng.random::<f64>())
                    .unwrap();
                let ms = d.num_milliseconds() as f64;
                assert!(
                    ms >= *base as f64 * 800.0 && ms <= *base as f64 * 1200.0,
                    "attempt {}: {ms} ms",
                    index + 1
                );
            }
        }
    }

    #[test]
    fn the_default_schedule_is_nine_delays_with_twenty_percent_jitter() {
        let schedule = Schedule::default();
        within_twenty_percent(&schedule);
        assert_eq!(schedule.delays_secs(), DELAYS_SECS);
        assert_eq!(schedule.delay(1, 0.5), Some(Duration::seconds(5)));
        assert_eq!(schedule.delay(1, 0.0), Some(Duration::seconds(4)));
        assert_eq!(schedule.delay(9, 1.0), Some(Duration::seconds(103_680)));
        assert_eq!(schedule.delay(10, 0.5), None, "ten attempts in all");
        assert_eq!(schedule.delay(0, 0.5), None);
        assert_eq!(schedule.delay(i32::MIN, 0.5), None);
        assert_eq!(schedule.max_attempts(), 10);
        assert_eq!(
            Schedule::from_settings(&crate::platform::config::WebhookSettings::default()),
            Ok(schedule)
        );
    }

    #[test]
    fn an_own_schedule_sets_the_delays_and_the_number_of_attempts() {
        let schedule = Schedule::new(&[10, 20]).unwrap();
        within_twenty_percent(&schedule);
        assert_eq!(schedule.delay(1, 0.5), Some(Duration::seconds(10)));
        assert_eq!(schedule.delay(2, 1.0), Some(Duration::seconds(24)));
        assert_eq!(schedule.delay(3, 0.5), None);
        assert_eq!(schedule.max_attempts(), 3);
        let longest = Schedule::new(&[MAX_DELAY_SECS; MAX_DELAYS]).unwrap();
        assert_eq!(longest.max_attempts(), 21);
        assert_eq!(Schedule::new(&[1]).unwrap().max_attempts(), 2);
    }

    #[test]
    fn a_schedule_has_one_to_twenty_delays_of_one_second_to_a_day() {
        assert_eq!(Schedule::new(&[]), Err(ScheduleError::Count(0)));
        assert_eq!(Schedule::new(&[5; 21]), Err(ScheduleError::Count(21)));
        assert_eq!(Schedule::new(&[5, 0]), Err(ScheduleError::Delay(0)));
        assert_eq!(Schedule::new(&[-5]), Err(ScheduleError::Delay(-5)));
        assert_eq!(Schedule::new(&[86_401]), Err(ScheduleError::Delay(86_401)));
        assert_eq!(
            ScheduleError::Count(21).to_string(),
            "must list 1 to 20 delays (seconds), not 21"
        );
    }

    #[test]
    fn a_schedule_round_trips_through_json_and_refuses_what_is_not_one() {
        let schedule = Schedule::new(&[10, 20, 86_400]).unwrap();
        assert_eq!(schedule.to_json(), json!([10, 20, 86_400]));
        assert_eq!(Schedule::from_json(&schedule.to_json()), Ok(schedule));
        for bad in [
            json!(null),
            json!("10,20"),
            json!({"delays": [10]}),
            json!([]),
            json!([1.5]),
            json!(["10"]),
            json!([0]),
            json!(vec![5; 21]),
        ] {
            assert!(Schedule::from_json(&bad).is_err(), "{bad}");
        }
    }

    fn endpoint_with(retry_schedule: Option<Value>) -> endpoint::Model {
        let now = chrono::Utc::now();
        endpoint::Model {
            id: uuid::Uuid::now_v7(),
            tenant_id: uuid::Uuid::now_v7(),
            url: "https://hooks.example.com".into(),
            description: String::new(),
            status: endpoint::EndpointStatus::Active,
            disabled_reason: None,
            filter_types: json!([]),
            headers: json!({}),
            headers_sealed: None,
            timeout_ms: 15_000,
            rate_limit_per_sec: None,
            max_in_flight: 64,
            ed25519_key: None,
            verified_at: Some(now),
            verification_error: None,
            failing_since: None,
            retry_schedule,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_endpoint_without_a_usable_schedule_of_its_own_follows_the_deployments() {
        let deployment = Schedule::new(&[1, 2, 3]).unwrap();
        let own = Schedule::for_endpoint(&endpoint_with(Some(json!([10, 20]))), &deployment);
        assert_eq!(own.delays_secs(), [10, 20]);
        for stored in [None, Some(json!(null)), Some(json!([])), Some(json!("x"))] {
            let schedule = Schedule::for_endpoint(&endpoint_with(stored.clone()), &deployment);
            assert_eq!(schedule, deployment, "{stored:?}");
        }
    }

    #[test]
    fn retry_after_is_clamped() {
        assert_eq!(retry_after(Some("120")), Some(Duration::seconds(120)));
        assert_eq!(retry_after(Some("0")), Some(Duration::seconds(1)));
        assert_eq!(retry_after(Some("999999")), Some(Duration::seconds(86_400)));
        assert_eq!(retry_after(Some("soon")), None);
    }
}
