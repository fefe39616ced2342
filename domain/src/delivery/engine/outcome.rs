//! Step 4's decision: what one sent attempt means for its delivery and its endpoint. Pure, so
//! every branch is tested here; `record::record_outcome` loads the facts and writes the
//! decision in one transaction.

use chrono::{DateTime, Duration, Utc};

use super::{Attempted, schedule};
use crate::{
    delivery::event_catalogue::Event, delivery::webhooks::sender::Outcome,
    platform::entities::delivery::DeliveryStatus,
};

/// `message.attempt.failing` is recorded at this many failures in a row.
pub const FAILING_AFTER: usize = 4;

/// What the decision depends on, read under the delivery's row lock.
pub(super) struct Facts<'a> {
    pub outcome: &'a Outcome,
    pub now: DateTime<Utc>,
    /// The failures in a row before this attempt (up to [`FAILING_AFTER`]).
    pub prior_failures: usize,
    /// The schedule's wait before the next attempt; `None`: no attempts are left.
    pub retry_delay: Option<Duration>,
    pub endpoint_active: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub auto_disable_after: Duration,
    /// The message's event type.
    pub event_type: &'a str,
}

/// What happens to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EndpointStep {
    Unchanged,
    /// A success ends its failing period.
    Healthy,
    /// Its first failure since it last succeeded: the failing period starts now.
    StartFailing,
    /// It answered 410 Gone: disabled (reason `gone`).
    DisableGone,
    /// It has failed for `auto_disable_after` since `since`: disabled (reason `failing`).
    DisableFailing {
        since: DateTime<Utc>,
    },
}

#[derive(Debug, PartialEq)]
pub(super) struct Decision {
    pub result: Attempted,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub endpoint: EndpointStep,
    /// A `message.attempt.*` event to record.
    pub event: Option<&'static str>,
}

pub(super) fn decide(facts: &Facts<'_>) -> Decision {
    let outcome = facts.outcome;
    let mut decision = if outcome.is_success() {
        Decision {
            result: Attempted::Delivered,
            status: DeliveryStatus::Delivered,
            next_attempt_at: None,
            last_error: None,
            endpoint: match facts.failing_since {
                Some(_) => EndpointStep::Healthy,
                None => EndpointStep::Unchanged,
            },
            event: None,
        }
    } else if outcome.status == Some(410) {
        Decision {
            result: Attempted::Gone,
            status: DeliveryStatus::Exhausted,
            next_attempt_at: None,
            last_error: Some("the endpoint answered 410 Gone and was disabled".into()),
            endpoint: match facts.endpoint_active {
                true => EndpointStep::DisableGone,
                false => EndpointStep::Unchanged,
            },
            event: None,
        }
    } else {
        failed(facts)
    };
    decision.event = trouble(&decision.result, facts);
    decision
}

fn failed(facts: &Facts<'_>) -> Decision {
    let outcome = facts.outcome;
    let error = match (&outcome.error, outcome.status) {
        (Some(e), _) => e.message.clone(),
        (None, Some(status)) => format!("the endpoint answered {status}"),
        (None, None) => "no answer".to_owned(),
    };
    let retry_after = outcome
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| schedule::retry_after(Some(v)));
    let (result, status, mut next_attempt_at) = match facts.retry_delay {
        Some(delay) => {
            let next = facts.now + retry_after.map_or(delay, |r| r.max(delay));
            (
                Attempted::Retrying(next),
                DeliveryStatus::Failed,
                Some(next),
            )
        }
        None => (Attempted::Exhausted, DeliveryStatus::Exhausted, None),
    };
    let endpoint = match (facts.endpoint_active, facts.failing_since) {
        (false, _) => EndpointStep::Unchanged,
        (true, None) => EndpointStep::StartFailing,
        (true, Some(since)) if facts.now - since >= facts.auto_disable_after => {
            // The endpoint is disabled: this delivery stops here, like the others waiting for it.
            next_attempt_at = None;
            EndpointStep::DisableFailing { since }
        }
        (true, Some(_)) => EndpointStep::Unchanged,
    };
    Decision {
        result,
        status,
        next_attempt_at,
        last_error: Some(error),
        endpoint,
        event: None,
    }
}

/// The `message.attempt.*` event an attempt earns: recovered after a failing streak, failing
/// when the streak reaches [`FAILING_AFTER`], exhausted. Never for those events' own messages,
/// which would feed themselves.
fn trouble(result: &Attempted, facts: &Facts<'_>) -> Option<&'static str> {
    if facts.event_type.starts_with("message.attempt.") {
        return None;
    }
    match result {
        Attempted::Delivered if facts.prior_failures >= FAILING_AFTER => {
            Some(Event::MessageAttemptRecovered.name())
        }
        Attempted::Retrying(_) if facts.prior_failures + 1 == FAILING_AFTER => {
            Some(Event::MessageAttemptFailing.name())
        }
        Attempted::Exhausted => Some(Event::MessageAttemptExhausted.name()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::delivery::webhooks::sender::{ErrorClass, SendError};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn answered(status: u16) -> Outcome {
        Outcome {
            status: Some(status),
            headers: Vec::new(),
            body: String::new(),
            duration_ms: 10,
            error: None,
        }
    }

    fn facts(outcome: &Outcome) -> Facts<'_> {
        Facts {
            outcome,
            now: now(),
            prior_failures: 0,
            retry_delay: Some(Duration::seconds(5)),
            endpoint_active: true,
            failing_since: None,
            auto_disable_after: Duration::hours(120),
            event_type: "graph.message.created",
        }
    }

    #[test]
    fn a_success_delivers_and_ends_a_failing_period() {
        let ok = answered(204);
        let first = decide(&facts(&ok));
        assert_eq!(first.result, Attempted::Delivered);
        assert_eq!(first.status, DeliveryStatus::Delivered);
        assert_eq!((first.next_attempt_at, first.last_error), (None, None));
        assert_eq!(first.endpoint, EndpointStep::Unchanged);
        assert_eq!(first.event, None);
        let after_trouble = decide(&Facts {
            failing_since: Some(now() - Duration::hours(1)),
            prior_failures: FAILING_AFTER,
            ..facts(&ok)
        });
        assert_eq!(after_trouble.endpoint, EndpointStep::Healthy);
        assert_eq!(after_trouble.event, Some("message.attempt.recovered"));
    }

    #[test]
    fn gone_exhausts_the_delivery_and_disables_an_active_endpoint_once() {
        let gone = answered(410);
        let decision = decide(&facts(&gone));
        assert_eq!(decision.result, Attempted::Gone);
        assert_eq!(decision.status, DeliveryStatus::Exhausted);
        assert_eq!(decision.next_attempt_at, None);
        assert_eq!(decision.endpoint, EndpointStep::DisableGone);
        let already = decide(&Facts {
            endpoint_active: false,
            ..facts(&gone)
        });
        assert_eq!(already.endpoint, EndpointStep::Unchanged);
    }

    #[test]
    fn a_failure_retries_on_the_schedule_or_later_when_retry_after_says_so() {
        let failed = answered(503);
        let decision = decide(&facts(&failed));
        let next = now() + Duration::seconds(5);
        assert_eq!(decision.result, Attempted::Retrying(next));
        assert_eq!(decision.status, DeliveryStatus::Failed);
        assert_eq!(decision.next_attempt_at, Some(next));
        assert_eq!(
            decision.last_error.as_deref(),
            Some("the endpoint answered 503")
        );
        assert_eq!(decision.endpoint, EndpointStep::StartFailing);

        let mut later = answered(429);
        later.headers = vec![("Retry-After".into(), "120".into())];
        let decision = decide(&facts(&later));
        assert_eq!(
            decision.next_attempt_at,
            Some(now() + Duration::seconds(120))
        );
        // A Retry-After shorter than the schedule does not hurry it.
        later.headers = vec![("retry-after".into(), "1".into())];
        assert_eq!(decide(&facts(&later)).next_attempt_at, Some(next));
    }

    #[test]
    fn no_answer_names_the_error_or_says_so() {
        let mut timeout = answered(0);
        timeout.status = None;
        assert_eq!(
            decide(&facts(&timeout)).last_error.as_deref(),
            Some("no answer")
        );
        timeout.error = Some(SendError {
            class: ErrorClass::Timeout,
            message: "timed out after 15 s".into(),
        });
        assert_eq!(
            decide(&facts(&timeout)).last_error.as_deref(),
            Some("timed out after 15 s")
        );
    }

    #[test]
    fn the_last_retry_exhausts_and_says_so_once() {
        let failed = answered(500);
        let decision = decide(&Facts {
            retry_delay: None,
            ..facts(&failed)
        });
        assert_eq!(decision.result, Attempted::Exhausted);
        assert_eq!(decision.status, DeliveryStatus::Exhausted);
        assert_eq!(decision.next_attempt_at, None);
        assert_eq!(decision.event, Some("message.attempt.exhausted"));
    }

    #[test]
    fn the_failing_event_comes_when_the_streak_reaches_the_threshold_only() {
        let failed = answered(500);
        let at = |prior| {
            decide(&Facts {
                prior_failures: prior,
                ..facts(&failed)
            })
            .event
        };
        assert_eq!(at(FAILING_AFTER - 2), None);
        assert_eq!(at(FAILING_AFTER - 1), Some("message.attempt.failing"));
        assert_eq!(at(FAILING_AFTER), None);
    }

    #[test]
    fn attempt_events_about_attempt_events_are_never_recorded() {
        let failed = answered(500);
        let decision = decide(&Facts {
            retry_delay: None,
            event_type: "message.attempt.exhausted",
            ..facts(&failed)
        });
        assert_eq!(decision.result, Attempted::Exhausted);
        assert_eq!(decision.event, None);
    }

    #[test]
    fn an_endpoint_failing_for_too_long_is_disabled_and_the_delivery_stops() {
        let failed = answered(500);
        let since = now() - Duration::hours(120);
        let decision = decide(&Facts {
            failing_since: Some(since),
            ..facts(&failed)
        });
        assert_eq!(decision.endpoint, EndpointStep::DisableFailing { since });
        assert_eq!(decision.status, DeliveryStatus::Failed);
        assert_eq!(decision.next_attempt_at, None);
        // Not yet that long: it keeps failing, retries go on.
        let decision = decide(&Facts {
            failing_since: Some(now() - Duration::hours(119)),
            ..facts(&failed)
        });
        assert_eq!(decision.endpoint, EndpointStep::Unchanged);
        assert!(decision.next_attempt_at.is_some());
        // A disabled endpoint is left as it is.
        let decision = decide(&Facts {
            endpoint_active: false,
            failing_since: Some(since),
            ..facts(&failed)
        });
        assert_eq!(decision.endpoint, EndpointStep::Unchanged);
        assert!(decision.next_attempt_at.is_some());
    }
}
