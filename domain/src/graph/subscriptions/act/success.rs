//! What a successful renewal, reauthorization or recreation changes: the subscription's new
//! expiry and next renewal, the upkeep log line and the events the tenant is told. Pure, so
//! every branch is tested here; [`super::succeeded`] writes it under the lease.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Done, Success};
use crate::{
    delivery::event_catalogue::Event,
    graph::subscriptions::renew_time,
    platform::config::Settings,
    platform::entities::subscription::{self, DueAction},
};

/// The row's new values, the log line and the events.
#[derive(Debug, PartialEq)]
pub(super) struct Plan {
    pub expires_at: DateTime<Utc>,
    pub renew_at: DateTime<Utc>,
    /// `Some` when Graph extended the lifetime (renewed or recreated).
    pub renewed_at: Option<DateTime<Utc>>,
    /// A recreation's new Graph id and the hash of its new `clientState`.
    pub graph_id: Option<String>,
    pub client_state: Option<String>,
    /// The upkeep log line: action, trigger and detail (outcome `succeeded`).
    pub action: &'static str,
    pub trigger: &'static str,
    pub detail: Option<String>,
    /// Events for the tenant, in order.
    pub events: Vec<(&'static str, Value)>,
    pub done: Done,
}

/// `unit` is the renewal jitter's random draw in `[0, 1]`.
pub(super) fn plan(
    settings: &Settings,
    subscription: &subscription::Model,
    success: &Success,
    now: DateTime<Utc>,
    unit: f64,
) -> Plan {
    let action = subscription.due_action;
    let trigger = match action {
        DueAction::Renew => "schedule",
        _ => "request",
    };
    let mut plan = match success {
        Success::Renewed { expires_at } => Plan {
            expires_at: *expires_at,
            renew_at: renew_time(settings, now, *expires_at, unit),
            renewed_at: Some(now),
            graph_id: None,
            client_state: None,
            action: action.as_str(),
            trigger,
            detail: Some(format!("expires {}", expires_at.to_rfc3339())),
            events: Vec::new(),
            done: Done::Renewed,
        },
        Success::Reauthorized => {
            let expires_at = subscription.expires_at.unwrap_or(now);
            Plan {
                expires_at,
                renew_at: subscription
                    .renew_at
                    .unwrap_or_else(|| renew_time(settings, now, expires_at, unit)),
                renewed_at: None,
                graph_id: None,
                client_state: None,
                action: "reauthorize",
                trigger,
                detail: None,
                events: Vec::new(),
                done: Done::Reauthorized,
            }
        }
        Success::Recreated { at_graph, reason } => Plan {
            expires_at: at_graph.expires_at,
            renew_at: at_graph.renew_at,
            renewed_at: Some(now),
            graph_id: Some(at_graph.graph_id.clone()),
            client_state: Some(at_graph.client_state.clone()),
            action: "recreate",
            trigger: if reason == "not_found" {
                "not_found"
            } else {
                trigger
            },
            detail: subscription
                .graph_id
                .as_ref()
                .map(|old| format!("replaces Graph subscription {old}")),
            events: vec![(
                Event::SubscriptionRecreated.name(),
                json!({
                    "reason": reason,
                    "expirationDateTime": at_graph.expires_at,
                    "resyncRecommended": true,
                }),
            )],
            done: Done::Recreated,
        },
    };
    if action == DueAction::Resume {
        plan.events.push((
            Event::SubscriptionResumed.name(),
            json!({"status": "active", "expirationDateTime": plan.expires_at}),
        ));
    }
    plan
}

/// A subscription row for the upkeep decisions' unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use chrono::{DateTime, Duration, Utc};

    use crate::platform::entities::subscription::{self, DueAction, SubscriptionStatus};

    pub fn subscription(now: DateTime<Utc>, action: DueAction) -> subscription::Model {
        subscription::Model {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            graph_id: Some("old-graph-id".into()),
            resource: "users".into(),
            kind: "user".into(),
            change_types: "updated".into(),
            include_resource_data: false,
            encryption_certificate_id: None,
            client_state_hash: Vec::new(),
            endpoint_ids: None,
            status: SubscriptionStatus::Active,
            expires_at: Some(now + Duration::hours(10)),
            last_error: None,
            created_at: now,
            updated_at: now,
            renew_at: Some(now + Duration::hours(5)),
            last_renewed_at: None,
            due_action: action,
            due_at: Some(now),
            action_version: 1,
            failures: 0,
            lease_token: None,
            lease_until: None,
            expiry_warned_at: None,
            connection_id: None,
            graph_tenant_id: None,
            requested_resource: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::graph::subscriptions::AtGraph;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn subscription(action: DueAction) -> subscription::Model {
        tests_support::subscription(now(), action)
    }

    /// The plan for a success of the subscription's due `action`, with the default settings
    /// and the middle of the renewal window.
    fn planned(action: DueAction, success: &Success) -> Plan {
        plan(
            &Settings::default(),
            &subscription(action),
            success,
            now(),
            0.5,
        )
    }

    fn recreated(reason: &str) -> Success {
        Success::Recreated {
            at_graph: AtGraph {
                graph_id: "new-graph-id".into(),
                client_state: "new-state".into(),
                certificate_label: None,
                expires_at: now() + Duration::days(29),
                renew_at: now() + Duration::days(20),
            },
            reason: reason.into(),
        }
    }

    #[test]
    fn a_renewal_takes_graphs_expiry_and_schedules_the_next_within_it() {
        let expires_at = now() + Duration::days(2);
        let plan = planned(DueAction::Renew, &Success::Renewed { expires_at });
        assert_eq!(plan.done, Done::Renewed);
        assert_eq!(plan.expires_at, expires_at);
        let settings = Settings::default();
        assert_eq!(plan.renew_at, renew_time(&settings, now(), expires_at, 0.5));
        assert!(plan.renew_at > now() && plan.renew_at < expires_at);
        assert_eq!(plan.renewed_at, Some(now()));
        assert_eq!((plan.action, plan.trigger), ("renew", "schedule"));
        assert_eq!(plan.graph_id, None);
        assert!(plan.events.is_empty());
    }

    #[test]
    fn a_reauthorization_keeps_the_expiry_and_the_renewal_it_had() {
        let settings = Settings::default();
        let before = subscription(DueAction::Reauthorize);
        let plan = plan(&settings, &before, &Success::Reauthorized, now(), 0.5);
        assert_eq!(plan.done, Done::Reauthorized);
        assert_eq!(Some(plan.expires_at), before.expires_at);
        assert_eq!(Some(plan.renew_at), before.renew_at);
        assert_eq!(plan.renewed_at, None, "Graph's lifetime did not change");
        assert_eq!((plan.action, plan.trigger), ("reauthorize", "request"));
        assert!(plan.events.is_empty());
        // Without a scheduled renewal, one is scheduled.
        let bare = subscription::Model {
            renew_at: None,
            ..before
        };
        let plan = super::plan(&settings, &bare, &Success::Reauthorized, now(), 0.0);
        assert!(plan.renew_at > now());
    }

    #[test]
    fn a_recreation_takes_the_new_id_and_state_and_tells_the_tenant_to_resync() {
        let plan = planned(DueAction::Recreate, &recreated("removed"));
        assert_eq!(plan.done, Done::Recreated);
        assert_eq!(plan.graph_id.as_deref(), Some("new-graph-id"));
        assert_eq!(plan.client_state.as_deref(), Some("new-state"));
        assert_eq!((plan.action, plan.trigger), ("recreate", "request"));
        assert_eq!(
            plan.detail.as_deref(),
            Some("replaces Graph subscription old-graph-id")
        );
        assert_eq!(plan.events.len(), 1);
        assert_eq!(plan.events[0].0, "graph.subscription.recreated");
        assert_eq!(plan.events[0].1["reason"], "removed");
        assert_eq!(plan.events[0].1["resyncRecommended"], true);
    }

    #[test]
    fn a_renewal_that_found_graph_had_forgotten_it_is_logged_as_not_found() {
        let plan = planned(DueAction::Renew, &recreated("not_found"));
        assert_eq!((plan.action, plan.trigger), ("recreate", "not_found"));
        assert_eq!(plan.events[0].1["reason"], "not_found");
    }

    #[test]
    fn a_resumption_also_says_resumed_after_what_it_did() {
        let expires_at = now() + Duration::days(2);
        let plan = planned(DueAction::Resume, &Success::Renewed { expires_at });
        assert_eq!((plan.action, plan.trigger), ("resume", "request"));
        let types: Vec<_> = plan.events.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, ["graph.subscription.resumed"]);
        assert_eq!(plan.events[0].1["status"], "active");
        let plan = planned(DueAction::Resume, &recreated("removed"));
        let types: Vec<_> = plan.events.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            types,
            ["graph.subscription.recreated", "graph.subscription.resumed"]
        );
    }
}
