use serde_json::{Value, json, value::RawValue};

use super::*;
use crate::platform::entities::subscription::{self, DueAction};

fn subscription() -> subscription::Model {
    let now = chrono::Utc::now();
    let mut model =
        crate::graph::subscriptions::act::tests_support::subscription(now, DueAction::Renew);
    model.kind = "message".into();
    model.resource = "users/u1/messages".into();
    model
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

#[test]
fn lifecycle_events_map_to_their_event_and_upkeep_action() {
    let item = json!({"tenantId": "t", "subscriptionExpirationDateTime": "2026-12-09T10:00:00.0000000+00:00"});
    let cases = [
        (
            "reauthorizationRequired",
            "graph.subscription.reauthorization_required",
            Some(DueAction::Reauthorize),
        ),
        (
            "subscriptionRemoved",
            "graph.subscription.removed",
            Some(DueAction::Recreate),
        ),
        ("missed", "graph.subscription.missed", None),
    ];
    for (event, event_type, action) in cases {
        let shaped = lifecycle(&item, &subscription(), event).unwrap();
        assert_eq!(shaped.event_type, event_type);
        assert_eq!(shaped.action.as_ref().map(|(a, _)| *a), action);
        if let Some((_, trigger)) = &shaped.action {
            assert_eq!(trigger, &format!("lifecycle:{event}"));
        }
        assert_eq!(shaped.data["lifecycleEvent"], event);
        assert_eq!(shaped.data["subscriptionExpiresAt"], "2026-12-09T10:00:00Z");
    }
    assert_eq!(
        lifecycle(&item, &subscription(), "somethingNew").unwrap_err(),
        "unknown_lifecycle_event"
    );
}

#[test]
fn a_change_names_its_kind_and_change_type_and_leaves_out_what_graph_did_not_send() {
    let item = json!({"changeType": "created", "resource": "Users/u1/Messages/m1"});
    let shaped = change(&item, None, &subscription(), None).unwrap();
    assert_eq!(shaped.event_type, "graph.message.created");
    let data = shaped.data.as_object().unwrap();
    assert!(!data.contains_key("id") && !data.contains_key("tenantId"));
    assert_eq!(data["resourceIds"]["messageId"], "m1");
    assert!(!data.contains_key("connectionId"));
    assert!(shaped.verbatim.is_empty());
    assert!(shaped.action.is_none());
}

#[test]
fn a_change_without_a_known_change_type_is_malformed() {
    for item in [
        json!({}),
        json!({"changeType": "moved"}),
        json!({"changeType": 3}),
    ] {
        assert_eq!(
            change(&item, None, &subscription(), None).unwrap_err(),
            "malformed"
        );
    }
}

#[test]
fn resource_data_and_content_go_on_as_graph_wrote_them() {
    let text = r#"{"changeType":"updated","resourceData":{"b":1,"a":42.0}}"#;
    let item: Value = serde_json::from_str(text).unwrap();
    let raw_item = raw(text);
    let shaped = change(
        &item,
        Some(&raw_item),
        &subscription(),
        Some(raw(r#"{"subject":"\u00E9"}"#)),
    )
    .unwrap();
    assert!(
        shaped.data.get("resourceData").is_none(),
        "written verbatim instead"
    );
    let verbatim: Vec<(&str, &str)> = shaped.verbatim.iter().map(|(k, v)| (*k, v.get())).collect();
    assert_eq!(
        verbatim,
        [
            ("resourceData", r#"{"b":1,"a":42.0}"#),
            ("content", r#"{"subject":"\u00E9"}"#)
        ]
    );
}

#[test]
fn a_change_through_a_connection_names_it() {
    let mut through = subscription();
    through.connection_id = Some(uuid::Uuid::nil());
    let item = json!({"changeType": "created"});
    let shaped = change(&item, None, &through, None).unwrap();
    assert!(
        shaped.data["connectionId"]
            .as_str()
            .unwrap()
            .starts_with("conn_")
    );
}

#[test]
fn identity_hashes_graphs_bytes_and_sees_an_id_or_an_etag() {
    let item = json!({"id": "n1"});
    let (by_bytes, identified) = identity(&item, Some(&raw(r#"{"id": "n1"}"#)));
    assert!(identified);
    let (by_value, _) = identity(&item, None);
    assert_ne!(
        by_bytes, by_value,
        "the bytes Graph sent, not our re-encoding"
    );
    let etag = json!({"resourceData": {"@odata.etag": "W/\"1\""}});
    assert!(identity(&etag, None).1);
    for anonymous in [
        json!({}),
        json!({"id": ""}),
        json!({"resourceData": {"@odata.etag": ""}}),
    ] {
        assert!(!identity(&anonymous, None).1, "{anonymous}");
    }
}
