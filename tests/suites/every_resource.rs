//! Every resource the product promises, end to end: a subscription through the tenant api
//! (app-only, or through a connected user where Graph allows nothing else), a change at the
//! emulator, and a webhook at the tenant's endpoint whose Standard Webhooks signature verifies.

use graphhook_tests::fixtures::receiving;

use graphhook_tests::{
    Tenant, TenantWithEndpoint,
    client::create_subscription,
    connections::{ALICE, CONSUMERS, CONTOSO_USER, GROUP, connect},
    fixtures::{TENANT, USER, verifies_with},
    graph::change,
    waits::deliver_until,
};
use serde_json::json;

#[tokio::test]
async fn every_resource_of_the_brief_reaches_the_endpoint_as_a_verified_webhook() {
    let (app, receiver, TenantWithEndpoint { key, secret, .. }) =
        receiving(Tenant::Onboarded).await;
    let work = connect(&app, &key, "work", &["conversation"], CONTOSO_USER).await;
    let personal = connect(&app, &key, "personal", &["drive_item"], ALICE).await;
    let site = "contoso.sharepoint.com,5b1e2c3d-0000-4000-8000-000000000003,6c2f3d4e-0000-4000-8000-000000000004";
    // (what the brief names, the request, the change at Graph, the event type)
    let cases = [
        (
            "messages",
            json!({"resource": format!("users/{USER}/messages"), "change_types": ["created"]}),
            json!({"tenant": TENANT, "resource": format!("users/{USER}/messages"), "changeType": "created"}),
            "graph.message.created",
        ),
        (
            "calendar events",
            json!({"resource": format!("users/{USER}/events"), "change_types": ["created"]}),
            json!({"tenant": TENANT, "resource": format!("users/{USER}/events"), "changeType": "created"}),
            "graph.event.created",
        ),
        (
            "contacts",
            json!({"resource": format!("users/{USER}/contacts"), "change_types": ["created"]}),
            json!({"tenant": TENANT, "resource": format!("users/{USER}/contacts"), "changeType": "created"}),
            "graph.contact.created",
        ),
        (
            "users",
            json!({"resource": "users", "change_types": ["updated"]}),
            json!({"tenant": TENANT, "resource": "users", "changeType": "updated"}),
            "graph.user.updated",
        ),
        (
            "groups",
            json!({"resource": "groups", "change_types": ["updated"]}),
            json!({"tenant": TENANT, "resource": "groups", "changeType": "updated"}),
            "graph.group.updated",
        ),
        (
            "group conversations",
            json!({"resource": format!("groups/{GROUP}/conversations"), "change_types": ["created"], "connection_id": work}),
            json!({"tenant": TENANT, "resource": format!("groups/{GROUP}/conversations"), "changeType": "created"}),
            "graph.conversation.created",
        ),
        (
            "a SharePoint site's drive",
            json!({"resource": format!("sites/{site}/drive/root"), "change_types": ["updated"]}),
            json!(null),
            "graph.drive_item.updated",
        ),
        (
            "a personal OneDrive folder",
            json!({"resource": "me/drive/items/PHOTOS", "change_types": ["updated"], "connection_id": personal}),
            json!({"tenant": CONSUMERS, "resource": format!("users/{ALICE}/drive/items/PHOTOS"), "changeType": "updated"}),
            "graph.drive_item.updated",
        ),
    ];
    for (name, request, at_graph, event_type) in cases {
        let (status, created, _) = create_subscription(&app, &key, request).await;
        assert_eq!(status, 201, "{name}: {created}");
        let subscription = created["id"].as_str().unwrap().to_owned();
        let at_graph = match at_graph {
            serde_json::Value::Null => {
                // The site's drive as Graph was given it.
                let drive = created["graph_resource"].as_str().unwrap();
                json!({"tenant": TENANT, "resource": drive, "changeType": "updated"})
            }
            given => given,
        };
        let before = receiver.count(event_type);
        change(&app, at_graph).await;
        deliver_until(&app, &receiver, event_type, before + 1).await;
        let webhook = receiver
            .received()
            .into_iter()
            .find(|r| {
                r.event_type() == event_type && r.json()["data"]["subscriptionId"] == subscription
            })
            .unwrap_or_else(|| panic!("{name}: no {event_type} for {subscription}"));
        assert!(verifies_with(&webhook, &secret), "{name}: the signature");
    }
}
