//! What a failed upkeep attempt leads to: a throttled tenant waits, a refused subscription
//! fails, anything else is tried again with backoff (warning the tenant once when the next try
//! would come after the subscription expires).

use chrono::Duration;
use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};
use serde_json::json;

use super::{Done, Failure, Upkept, under_lease};
use crate::{
    entities::subscription,
    error::DomainResult,
    subscriptions::{
        Deps,
        upkeep::{Claimed, Recorded, emit, record, release, throttle},
    },
};

/// The wait before the next try after `failures` failures in a row, with ±20 % jitter.
fn backoff(deps_settings: &crate::Settings, failures: i32) -> Duration {
    let s = &deps_settings.subscriptions;
    let exp = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
    let secs = s
        .retry_initial_secs
        .saturating_mul(1u64 << exp)
        .min(s.retry_max_secs);
    let jitter = 0.8 + 0.4 * rand::random::<f64>();
    Duration::milliseconds((secs as f64 * 1000.0 * jitter) as i64)
}

pub(super) async fn failed<C: ConnectionTrait + TransactionTrait>(
    deps: &Deps<'_, C>,
    subscription: &subscription::Model,
    claimed: &Claimed,
    failure: Failure,
) -> DomainResult<Upkept> {
    let now = deps.clock.now();
    let action = subscription.due_action.as_str();
    match failure {
        Failure::Throttled(retry_after) => {
            let wait = retry_after.unwrap_or(deps.settings.subscriptions.throttle_default_secs);
            let until = now + Duration::seconds(i64::try_from(wait).unwrap_or(60).max(1));
            // None of the tenant's upkeep is handed out before then; this one stays due.
            let txn = deps.db.begin().await?;
            throttle(&txn, subscription.tenant_id, until).await?;
            release(&txn, claimed).await?;
            txn.commit().await?;
            metrics::counter!("graphhook_graph_throttled_total").increment(1);
            tracing::info!(wait, "Graph throttles the tenant; its upkeep waits");
            Ok(Upkept::only(Done::Throttled))
        }
        Failure::Forbidden(reason) => {
            let Some(txn) = under_lease(
                deps.db,
                r"UPDATE subscriptions
                         SET status = 'failed', last_error = $3, due_at = NULL,
                             lease_token = NULL, lease_until = NULL, updated_at = $4
                       WHERE id = $1 AND lease_token = $2",
                vec![
                    subscription.id.into(),
                    claimed.lease.into(),
                    reason.clone().into(),
                    now.into(),
                ],
            )
            .await?
            else {
                return Ok(Upkept::only(Done::Skipped));
            };
            record(
                &txn,
                deps.clock,
                subscription,
                Recorded {
                    action,
                    trigger: "graph_refused",
                    outcome: "failed",
                    graph_id: subscription.graph_id.as_deref(),
                    detail: Some(reason.clone()),
                },
            )
            .await?;
            let deliveries = emit(
                &txn,
                deps.clock,
                subscription,
                "graph.subscription.renewal_failed",
                json!({"status": "failed", "error": reason, "expirationDateTime": subscription.expires_at}),
            )
            .await?;
            txn.commit().await?;
            tracing::warn!(%reason, "Graph refused the subscription; it is failed");
            Ok(Upkept {
                done: Done::Failed,
                deliveries,
            })
        }
        Failure::ConsentGone => Ok(Upkept::only(Done::ConsentGone)),
        Failure::NotFound | Failure::Transient(_) => {
            let error = match failure {
                Failure::Transient(e) => e,
                _ => "Graph no longer knows the subscription".to_owned(),
            };
            let next = now + backoff(deps.settings, subscription.failures);
            let warn = subscription.expiry_warned_at.is_none()
                && subscription.expires_at.is_none_or(|e| next >= e);
            let Some(txn) = under_lease(
                deps.db,
                r"UPDATE subscriptions
                         SET failures = failures + 1, last_error = $3,
                             due_at = CASE WHEN action_version = $4 THEN $5 ELSE due_at END,
                             expiry_warned_at = CASE WHEN $6 THEN $7 ELSE expiry_warned_at END,
                             lease_token = NULL, lease_until = NULL, updated_at = $7
                       WHERE id = $1 AND lease_token = $2",
                vec![
                    subscription.id.into(),
                    claimed.lease.into(),
                    error.clone().into(),
                    subscription.action_version.into(),
                    next.into(),
                    warn.into(),
                    now.into(),
                ],
            )
            .await?
            else {
                return Ok(Upkept::only(Done::Skipped));
            };
            record(
                &txn,
                deps.clock,
                subscription,
                Recorded {
                    action,
                    trigger: "retry",
                    outcome: "failed",
                    graph_id: subscription.graph_id.as_deref(),
                    detail: Some(format!("{error}; next try at {}", next.to_rfc3339())),
                },
            )
            .await?;
            let deliveries = match warn {
                true => {
                    emit(
                        &txn,
                        deps.clock,
                        subscription,
                        "graph.subscription.renewal_failed",
                        json!({
                            "status": "active",
                            "error": error,
                            "expirationDateTime": subscription.expires_at,
                            "nextAttemptAt": next,
                        }),
                    )
                    .await?
                }
                false => Vec::new(),
            };
            txn.commit().await?;
            tracing::warn!(%error, failures = subscription.failures + 1, "upkeep failed; trying again later");
            Ok(Upkept {
                done: Done::Retrying,
                deliveries,
            })
        }
    }
}
