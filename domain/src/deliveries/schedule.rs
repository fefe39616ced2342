//! The retry schedule (webhooks.md): after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h, 14 h, 20 h and 24 h — ten attempts over about three days — each delay with ±20 %
//! jitter. A `Retry-After` from the endpoint is honoured, clamped to 1 s – 24 h.

use chrono::Duration;

/// The delays before attempts 2 to 10, in seconds.
pub const DELAYS_SECS: [i64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// Attempts in all, the first included.
pub const MAX_ATTEMPTS: i32 = DELAYS_SECS.len() as i32 + 1;

/// The delay before the next attempt after `attempts_made` attempts (1-based), with jitter
/// `unit` in [0, 1) mapped onto ±20 %; `None` when no attempt is left.
pub fn delay(attempts_made: i32, unit: f64) -> Option<Duration> {
    let base = *DELAYS_SECS.get(usize::try_from(attempts_made - 1).ok()?)?;
    let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    Some(Duration::milliseconds(
        (base as f64 * 1000.0 * factor).round() as i64,
    ))
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

    use super::*;

    #[test]
    fn every_delay_follows_the_schedule_within_twenty_percent() {
        let mut rng = StdRng::seed_from_u64(42);
        for (index, base) in DELAYS_SECS.iter().enumerate() {
            for _ in 0..200 {
                let d = delay(index as i32 + 1, rng.random::<f64>()).unwrap();
                let ms = d.num_milliseconds() as f64;
                assert!(
                    ms >= *base as f64 * 800.0 && ms <= *base as f64 * 1200.0,
                    "attempt {}: {ms} ms",
                    index + 1
                );
            }
        }
        assert_eq!(delay(1, 0.5), Some(Duration::seconds(5)));
        assert_eq!(delay(1, 0.0), Some(Duration::seconds(4)));
        assert_eq!(delay(9, 1.0), Some(Duration::seconds(103_680)));
        assert_eq!(delay(10, 0.5), None, "ten attempts in all");
        assert_eq!(MAX_ATTEMPTS, 10);
    }

    #[test]
    fn retry_after_is_clamped() {
        assert_eq!(retry_after(Some("120")), Some(Duration::seconds(120)));
        assert_eq!(retry_after(Some("0")), Some(Duration::seconds(1)));
        assert_eq!(retry_after(Some("999999")), Some(Duration::seconds(86_400)));
        assert_eq!(retry_after(Some("soon")), None);
    }
}
