//! What a failed upkeep attempt leads to: a throttled tenant waits, a refused subscription
//! fails, anything else is tried again with backoff (warning the tenant once when the next try
//! would come after the subscription expires).

use chrono::{DateTime, Duration, Utc};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};

use super::{Done, Failure, Upkept, under_lease};
use crate::{
    delivery::event_catalogue::Event,
    graph::subscriptions::upkeep::{Claimed, Recorded, emit, record, release, throttle},
    platform::entities::subscription,
    platform::error::DomainResult,
    services::Services,
};

/// The wait before the next try after `failures` failures in a row, with ±20 % jitter (`unit`
/// is the random draw in `[0, 1]`).
fn backoff(settings: &crate::Settings, failures: i32, unit: f64) -> Duration {
    let s = &settings.subscriptions;
    let exp = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
    let secs = s
        .retry_initial_secs
        .saturating_mul(1u64 << exp)
        .min(s.retry_max_secs);
    let jitter = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    Duration::milliseconds((secs as f64 * 1000.0 * jitter) as i64)
}

/// What a failure leads to.
#[derive(Debug, PartialEq)]
enum Decision {
    /// Graph throttles the tenant: none of its upkeep is handed out before `until`.
    Throttle { until: DateTime<Utc>, wait: u64 },
    /// Graph refused this subscription: it is `failed`, and the tenant is told.
    Fail { reason: String, event: Value },
    /// The consent is gone; the subscription was paused where the token was refused.
    ConsentGone,
    /// Tried again at `next`; `event` tells the tenant, once, that the next try comes after the
    /// subscription expires.
    Retry {
        error: String,
        next: DateTime<Utc>,
        event: Option<Value>,
    },
}

fn decide(
    settings: &crate::Settings,
    subscription: &subscription::Model,
    failure: Failure,
    now: DateTime<Utc>,
    unit: f64,
) -> Decision {
    match failure {
        Failure::Throttled(retry_after) => {
            let wait = retry_after.unwrap_or(settings.subscriptions.throttle_default_secs);
            let until = now + Duration::seconds(i64::try_from(wait).unwrap_or(60).max(1));
            Decision::Throttle { until, wait }
        }
        Failure::Forbidden(reason) => Decision::Fail {
            event: json!({
                "status": "failed",
                "error": reason,
                "expirationDateTime": subscription.expires_at,
            }),
            reason,
        },
        Failure::ConsentGone => Decision::ConsentGone,
        Failure::NotFound | Failure::Transient(_) => {
            let error = match failure {
                Failure::Transient(e) => e,
                _ => "Graph no longer knows the subscription".to_owned(),
            };
            let next = now + backoff(settings, subscription.failures, unit);
            let warn = subscription.expiry_warned_at.is_none()
                && subscription.expires_at.is_none_or(|e| next >= e);
            let event = warn.then(|| {
                json!({
                    "status": "active",
                    "error": error,
                    "expirationDateTime": subscription.expires_at,
                    "nextAttemptAt": next,
                })
            });
            Decision::Retry { error, next, event }
        }
    }
}

pub(super) async fn failed(
    services: &Services,
    subscription: &subscription::Model,
    claimed: &Claimed,
    failure: Failure,
) -> DomainResult<Upkept> {
    let now = services.clock.now();
    match decide(
        &services.settings,
        subscription,
        failure,
        now,
        rand::random(),
    ) {
        Decision::Throttle { until, wait } => {
            let txn = services.db.begin().await?;
            throttle(&txn, subscription.tenant_id, until).await?;
            // This one stays due.
            release(&txn, claimed).await?;
            txn.commit().await?;
            metrics::counter!("graphhook_graph_throttled_total").increment(1);
            tracing::info!(wait, "Graph throttles the tenant; its upkeep waits");
            Ok(Upkept::only(Done::Throttled))
        }
        Decision::Fail { reason, event } => {
            let done = fail(services, subscription, claimed, &reason, event, now).await?;
            if done.done == Done::Failed {
                tracing::warn!(%reason, "Graph refused the subscription; it is failed");
            }
            Ok(done)
        }
        Decision::ConsentGone => Ok(Upkept::only(Done::ConsentGone)),
        Decision::Retry { error, next, event } => {
            let done = retry(services, subscription, claimed, &error, next, event, now).await?;
            if done.done == Done::Retrying {
                tracing::warn!(%error, failures = subscription.failures + 1, "upkeep failed; trying again later");
            }
            Ok(done)
        }
    }
}

async fn fail(
    services: &Services,
    subscription: &subscription::Model,
    claimed: &Claimed,
    reason: &str,
    event: Value,
    now: DateTime<Utc>,
) -> DomainResult<Upkept> {
    let failure = Written {
        change: r"UPDATE subscriptions
                 SET status = 'failed', last_error = $3, due_at = NULL,
                     lease_token = NULL, lease_until = NULL, updated_at = $4
               WHERE id = $1 AND lease_token = $2",
        values: vec![reason.to_owned().into(), now.into()],
        done: Done::Failed,
        trigger: "graph_refused",
        detail: reason.to_owned(),
        event: Some(event),
    };
    write(services, subscription, claimed, failure).await
}

/// What a failure leaves: its change to the subscription (SQL for [`under_lease`], with the
/// values from `$3` on), the upkeep log line and, when there is one, the
/// `graph.subscription.renewal_failed` event.
struct Written<'a> {
    change: &'a str,
    values: Vec<sea_orm::Value>,
    done: Done,
    trigger: &'static str,
    detail: String,
    event: Option<Value>,
}

/// Writes a failure in one transaction, while the lease holds.
async fn write(
    services: &Services,
    subscription: &subscription::Model,
    claimed: &Claimed,
    failure: Written<'_>,
) -> DomainResult<Upkept> {
    let Some(txn) = under_lease(&services.db, claimed, failure.change, failure.values).await?
    else {
        return Ok(Upkept::only(Done::Skipped));
    };
    let action = subscription.due_action.as_str();
    let line = Recorded::of(
        subscription,
        action,
        failure.trigger,
        "failed",
        Some(failure.detail),
    );
    record(&txn, &services.clock, subscription, line).await?;
    let mut deliveries = Vec::new();
    if let Some(event) = failure.event {
        let event_type = Event::SubscriptionRenewalFailed.name();
        deliveries = emit(&txn, &services.clock, subscription, event_type, event).await?;
    }
    txn.commit().await?;
    Ok(Upkept {
        done: failure.done,
        deliveries,
    })
}

async fn retry(
    services: &Services,
    subscription: &subscription::Model,
    claimed: &Claimed,
    error: &str,
    next: DateTime<Utc>,
    event: Option<Value>,
    now: DateTime<Utc>,
) -> DomainResult<Upkept> {
    let failure = Written {
        change: r"UPDATE subscriptions
                 SET failures = failures + 1, last_error = $3,
                     due_at = CASE WHEN action_version = $4 THEN $5 ELSE due_at END,
                     expiry_warned_at = CASE WHEN $6 THEN $7 ELSE expiry_warned_at END,
                     lease_token = NULL, lease_until = NULL, updated_at = $7
               WHERE id = $1 AND lease_token = $2",
        values: vec![
            error.to_owned().into(),
            subscription.action_version.into(),
            next.into(),
            event.is_some().into(),
            now.into(),
        ],
        done: Done::Retrying,
        trigger: "retry",
        detail: format!("{error}; next try at {}", next.to_rfc3339()),
        event,
    };
    write(services, subscription, claimed, failure).await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::{Settings, platform::entities::subscription::DueAction};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn subscription(expires_in: Duration) -> subscription::Model {
        let mut model = super::super::success::tests_support::subscription(now(), DueAction::Renew);
        model.expires_at = Some(now() + expires_in);
        model
    }

    /// The decision under the default settings, now, with the jitter's midpoint.
    fn decide_now(sub: &subscription::Model, failure: Failure) -> Decision {
        decide(&Settings::default(), sub, failure, now(), 0.5)
    }

    #[test]
    fn throttling_waits_for_retry_after_or_the_default() {
        let settings = Settings::default();
        let sub = subscription(Duration::days(2));
        let told = decide_now(&sub, Failure::Throttled(Some(30)));
        assert_eq!(
            told,
            Decision::Throttle {
                until: now() + Duration::seconds(30),
                wait: 30
            }
        );
        let default = settings.subscriptions.throttle_default_secs;
        let untold = decide_now(&sub, Failure::Throttled(None));
        assert_eq!(
            untold,
            Decision::Throttle {
                until: now() + Duration::seconds(default as i64),
                wait: default
            }
        );
        // A Retry-After of 0 still waits a second.
        let zero = decide_now(&sub, Failure::Throttled(Some(0)));
        assert!(
            matches!(zero, Decision::Throttle { until, .. } if until == now() + Duration::seconds(1))
        );
    }

    #[test]
    fn a_refusal_fails_the_subscription_with_graphs_reason() {
        let sub = subscription(Duration::days(2));
        let decision = decide_now(
            &sub,
            Failure::Forbidden("403 ExtensionError: access denied".into()),
        );
        let Decision::Fail { reason, event } = decision else {
            panic!("{decision:?}");
        };
        assert_eq!(reason, "403 ExtensionError: access denied");
        assert_eq!(event["status"], "failed");
        assert_eq!(event["error"], reason);
    }

    #[test]
    fn consent_gone_changes_nothing_here() {
        let sub = subscription(Duration::days(2));
        let decision = decide_now(&sub, Failure::ConsentGone);
        assert_eq!(decision, Decision::ConsentGone);
    }

    #[test]
    fn a_transient_failure_backs_off_exponentially_without_telling_the_tenant_while_time_is_left() {
        let settings = Settings::default();
        let mut sub = subscription(Duration::days(2));
        let first = decide_now(&sub, Failure::Transient("502".into()));
        let initial = settings.subscriptions.retry_initial_secs as i64;
        assert_eq!(
            first,
            Decision::Retry {
                error: "502".into(),
                next: now() + Duration::seconds(initial),
                event: None
            }
        );
        sub.failures = 3;
        let Decision::Retry { next, .. } = decide_now(&sub, Failure::Transient("502".into()))
        else {
            panic!("a retry");
        };
        let expected = (initial * 8).min(settings.subscriptions.retry_max_secs as i64);
        assert_eq!(next, now() + Duration::seconds(expected));
        let Decision::Retry { error, .. } = decide_now(&sub, Failure::NotFound) else {
            panic!("a retry");
        };
        assert_eq!(error, "Graph no longer knows the subscription");
    }

    #[test]
    fn the_tenant_is_told_once_when_the_next_try_comes_after_expiry() {
        let mut sub = subscription(Duration::seconds(1));
        let Decision::Retry { event, next, .. } =
            decide_now(&sub, Failure::Transient("502".into()))
        else {
            panic!("a retry");
        };
        let event = event.expect("told");
        assert_eq!(event["status"], "active");
        assert_eq!(event["nextAttemptAt"], json!(next));
        sub.expiry_warned_at = Some(now());
        let again = decide_now(&sub, Failure::Transient("502".into()));
        assert!(
            matches!(again, Decision::Retry { event: None, .. }),
            "{again:?}"
        );
    }

    #[test]
    fn backoff_stays_within_its_jitter_and_its_cap() {
        let settings = Settings::default();
        let initial = settings.subscriptions.retry_initial_secs as f64;
        assert_eq!(
            backoff(&settings, 0, 0.0),
            Duration::milliseconds((initial * 800.0) as i64)
        );
        assert_eq!(
            backoff(&settings, 0, 1.0),
            Duration::milliseconds((initial * 1200.0) as i64)
        );
        let cap = settings.subscriptions.retry_max_secs as f64;
        assert_eq!(
            backoff(&settings, 40, 0.5),
            Duration::milliseconds((cap * 1000.0) as i64)
        );
    }
}
