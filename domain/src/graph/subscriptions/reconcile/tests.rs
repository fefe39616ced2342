use super::*;
use crate::{
    graph::subscriptions::act::tests_support::subscription,
    platform::entities::subscription::DueAction,
};

const OURS: &str = "https://relay.example.com/graph/notifications";

fn now() -> DateTime<Utc> {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

/// A Graph subscription of `resource` that Graphhook would have created `age` ago.
fn at_graph(resource: &str, age: Duration, url: &str, state: Option<&str>) -> GraphSubscription {
    let settings = Settings::default();
    let kind = resources::parse(resource).unwrap().kind;
    let expires = now() - age + lifetime(&settings, resources::spec(kind).max_minutes);
    GraphSubscription {
        id: uuid::Uuid::new_v4().to_string(),
        expiration_date_time: expires.to_rfc3339(),
        resource: resource.to_owned(),
        change_type: "updated".to_owned(),
        notification_url: Some(url.to_owned()),
        client_state: state.map(str::to_owned),
        include_resource_data: None,
        creator_id: None,
    }
}

/// A row of ours for `resource`, whose client state is `state`, with no Graph id, expiry or
/// upkeep planned.
fn row(resource: &str, status: SubscriptionStatus, state: &str) -> subscription::Model {
    subscription::Model {
        id: SubscriptionId::new().uuid(),
        tenant_id: uuid::Uuid::new_v4(),
        graph_id: None,
        resource: resource.to_owned(),
        client_state_hash: hash(state),
        status,
        expires_at: None,
        renew_at: None,
        due_at: None,
        action_version: 0,
        ..subscription(now(), DueAction::Renew)
    }
}

fn judge(graph: &GraphSubscription, rows: &[subscription::Model]) -> Verdict {
    verdict(graph, OURS, rows, &[], now(), &Settings::default())
}

#[test]
fn only_this_deployments_old_subscriptions_without_a_row_are_deleted() {
    let old = Duration::minutes(10);
    assert_eq!(
        judge(&at_graph("users", old, OURS, None), &[]),
        Verdict::Delete("no_row")
    );
    let staging = "https://staging.example.com/graph/notifications";
    assert_eq!(
        judge(&at_graph("users", old, staging, None), &[]),
        Verdict::Keep
    );
    let young = Duration::minutes(4);
    assert_eq!(
        judge(&at_graph("users", young, OURS, None), &[]),
        Verdict::Keep
    );

    let graph = at_graph("groups", old, OURS, Some("s"));
    let mut held = row("groups", SubscriptionStatus::Failed, "other");
    held.graph_id = Some(graph.id.clone());
    assert_eq!(judge(&graph, &[held]), Verdict::Keep);
}

#[test]
fn a_create_or_recreation_in_flight_keeps_what_it_is_about_to_claim() {
    let old = Duration::minutes(10);
    // Its creating row, by clientState, or by target when Graph does not echo clientState.
    let creating = row("users", SubscriptionStatus::Creating, "s1");
    assert_eq!(
        judge(
            &at_graph("users", old, OURS, Some("s1")),
            std::slice::from_ref(&creating)
        ),
        Verdict::Keep
    );
    assert_eq!(
        judge(
            &at_graph("users", old, OURS, None),
            std::slice::from_ref(&creating)
        ),
        Verdict::Keep
    );
    assert_eq!(
        judge(&at_graph("users", old, OURS, Some("s2")), &[creating]),
        Verdict::Delete("no_row")
    );
    // A recreation holds its row's lease.
    let mut leased = row("users", SubscriptionStatus::Active, "s3");
    leased.lease_until = Some(now() + Duration::minutes(1));
    assert_eq!(
        judge(
            &at_graph("users", old, OURS, None),
            std::slice::from_ref(&leased)
        ),
        Verdict::Keep
    );
    leased.lease_until = Some(now() - Duration::minutes(1));
    assert_eq!(
        judge(&at_graph("users", old, OURS, None), &[leased]),
        Verdict::Delete("no_row")
    );
}

#[test]
fn an_abandoned_creates_subscription_is_deleted_however_young() {
    let abandoned = row("users", SubscriptionStatus::Creating, "gone");
    let graph = at_graph("users", Duration::zero(), OURS, Some("gone"));
    assert_eq!(
        verdict(&graph, OURS, &[], &[abandoned], now(), &Settings::default()),
        Verdict::Delete("creation_abandoned")
    );
}

#[test]
fn the_creation_time_comes_from_the_expiry_less_the_kinds_lifetime() {
    let settings = Settings::default();
    let graph = at_graph("drives/d1/root", Duration::minutes(7), OURS, None);
    assert_eq!(
        created_at(&graph, &settings),
        Some(now() - Duration::minutes(7))
    );
    let mut rich = at_graph(
        &format!("users/{}/messages", "u1"),
        Duration::zero(),
        OURS,
        None,
    );
    rich.include_resource_data = Some(true);
    // Read with the rich lifetime (a day), an expiry asked for the plain one looks younger.
    assert!(created_at(&rich, &settings).unwrap() > now());
    rich.expiration_date_time = "not a time".to_owned();
    assert_eq!(created_at(&rich, &settings), None);
    assert_eq!(
        verdict(&rich, OURS, &[], &[], now(), &settings),
        Verdict::Keep,
        "an unreadable expiry is never taken for old"
    );
}
