//! Ingest end to end, with the emulator as Graph: a change at Graph reaches the tenant's
//! receiver, signed; what is not ours is dropped; what we acknowledged is never lost.

use std::time::Duration;

use graphhook_domain::platform::entities::inbound_batch;
use graphhook_tests::fixtures::receiving;
use graphhook_tests::poll::poll;
use graphhook_tests::{
    Mode, Receiver, TestApp, fixtures::onboarded_receiving, fixtures::rich_message_delivered,
    graph::lifecycle_event, waits::drained_first,
};
use graphhook_tests::{
    Tenant, TenantWithEndpoint,
    client::{create_endpoint, post_body, subscribe},
    fixtures::{TENANT, USER, verifies_with},
    graph::{change, graph_subscription_id},
    tenant_with_endpoint,
    waits::drain_until,
};
use reqwest::Method;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

#[tokio::test]
async fn a_change_at_graph_reaches_the_tenant_signed_for_every_app_only_kind() {
    let (app, receiver, TenantWithEndpoint { key, secret, .. }) =
        receiving(Tenant::Onboarded).await;
    let cases = [
        (
            format!("users/{USER}/messages"),
            "created",
            "graph.message.created",
        ),
        (
            format!("users/{USER}/events"),
            "updated",
            "graph.event.updated",
        ),
        (
            format!("users/{USER}/contacts"),
            "deleted",
            "graph.contact.deleted",
        ),
        ("users".to_owned(), "updated", "graph.user.updated"),
        ("groups".to_owned(), "deleted", "graph.group.deleted"),
        (
            "drives/b!drive1/root".to_owned(),
            "updated",
            "graph.drive_item.updated",
        ),
    ];
    for (resource, change_type, event_type) in &cases {
        let id = subscribe(&app, &key, resource, &[change_type]).await;
        change(
            &app,
            json!({"tenant": TENANT, "resource": resource, "changeType": change_type, "count": 1}),
        )
        .await;
        drain_until(&app, &receiver, event_type, 1).await;
        let received = receiver.first_of(event_type);
        assert!(
            verifies_with(&received, &secret),
            "{event_type} is signed with the endpoint's secret"
        );
        let data = &received.json()["data"];
        assert_eq!(data["subscriptionId"], id.as_str(), "{data}");
        assert_eq!(data["changeType"], *change_type);
        assert_eq!(data["tenantId"], TENANT);
        assert!(
            data["resource"].is_string() && data["resourceData"].is_object(),
            "{data}"
        );
    }
    assert_eq!(
        receiver.received().len(),
        cases.len() + 1,
        "each once (and the verification)"
    );
}

#[tokio::test]
async fn duplicates_from_graph_are_delivered_once() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, &format!("users/{USER}/messages"), &["created"]).await;
    change(
        &app,
        json!({"tenant": TENANT, "resource": format!("users/{USER}/messages"),
               "changeType": "created", "count": 3, "duplicates": 1}),
    )
    .await;
    drain_until(&app, &receiver, "graph.message.created", 3).await;
    // Graph sent six items: each of the three twice.
    let items = |batches: Vec<inbound_batch::Model>| {
        batches
            .iter()
            .map(|b| {
                serde_json::from_slice::<Value>(&b.body).unwrap()["value"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum::<usize>()
    };
    poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            match items(inbound_batch::Entity::find().all(&app.db).await.unwrap()) {
                6.. => Ok(()),
                n => Err(format!("{n} of six items arrived")),
            }
        },
    )
    .await;
    app.drain_jobs().await;
    assert_eq!(receiver.count("graph.message.created"), 3);
}

#[tokio::test]
async fn items_that_are_not_ours_are_dropped_and_bad_bodies_get_4xx() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    let graph_id = graph_subscription_id(&app, "users").await;
    let item = |subscription: &str, client_state: &str| {
        json!({"subscriptionId": subscription, "clientState": client_state,
               "changeType": "updated", "resource": format!("Users/{USER}"), "tenantId": TENANT,
               "subscriptionExpirationDateTime": "2026-12-01T00:00:00Z",
               "resourceData": {"@odata.type": "#Microsoft.Graph.User", "id": USER}})
    };
    // Fifty items with a wrong clientState on a real subscription; an unknown subscription.
    let mut items = vec![item("6f9619ff-8b86-d011-b42d-00cf4fc964ff", "whatever")];
    items.extend((0..50).map(|n| item(&graph_id, &format!("not-the-client-state-{n}"))));
    let forged = json!({ "value": items });
    let (status, _) = post_body(&app, "/graph/notifications", forged.to_string()).await;
    assert_eq!(status, 202, "acknowledged like anything well-formed");
    app.drain_jobs().await;
    assert_eq!(receiver.count("graph.user.updated"), 0, "nothing delivered");
    let batch = inbound_batch::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(batch.processed_at.is_some());
    // One audit entry for the subscription, however many forged items: with their count.
    let audited = app.audit_entries("ingest.client_state_mismatch").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].details["items"], 50, "{:?}", audited[0].details);
    // Each drop is counted by its reason (the api and the jobs run in this process).
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (reason, count) in [("client_state_mismatch", 50), ("unknown_subscription", 1)] {
        let line = format!("graphhook_ingest_dropped_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }

    // Bodies that are not notification collections, and one too large.
    for (body, expected) in [
        ("{", 400),
        ("[]", 400),
        ("{\"value\": 3}", 400),
        ("{\"value\": [1, 2]}", 400),
        // Every Graph item names its subscription.
        ("{\"value\": [{}]}", 400),
        ("{\"value\": [{\"subscriptionId\": \"\"}]}", 400),
        ("{\"value\": [{\"subscriptionId\": 3}]}", 400),
        ("{\"value\": []}", 422),
    ] {
        let (status, error) = post_body(&app, "/graph/notifications", body).await;
        assert_eq!(status, expected, "{body}: {error}");
        assert!(error["code"].is_string(), "{error}");
    }
    // More items than one POST may hold.
    let many = vec![json!({"subscriptionId": "x"}); app.settings.ingest.max_items_per_post + 1];
    let (status, error) = post_body(
        &app,
        "/graph/notifications",
        json!({ "value": many }).to_string(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("payload_too_large")),
        "{error}"
    );
    let huge = format!(
        "{{\"value\": [{{\"x\": \"{}\"}}]}}",
        "a".repeat(app.settings.ingest.max_body_bytes)
    );
    let (status, error) = post_body(&app, "/graph/lifecycle", huge).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert_eq!(
        inbound_batch::Entity::find().count(&app.db).await.unwrap(),
        1,
        "only the well-formed batch was stored"
    );
}

#[tokio::test]
async fn a_lifecycle_event_reaches_the_tenant() {
    let (app, receiver, key) = onboarded_receiving().await;
    let id = subscribe(&app, &key, &format!("users/{USER}/messages"), &["created"]).await;
    let graph_id = graph_subscription_id(&app, &format!("users/{USER}/messages")).await;
    lifecycle_event(&app, &graph_id, "missed").await;
    let received = drained_first(&app, &receiver, "graph.subscription.missed").await;
    let data = &received.json()["data"];
    assert_eq!(
        (
            data["subscriptionId"].as_str(),
            data["lifecycleEvent"].as_str()
        ),
        (Some(id.as_str()), Some("missed"))
    );
}

#[tokio::test]
async fn a_batch_mixing_two_tenants_reaches_each_only_with_its_own_items() {
    const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";
    let app = TestApp::spawn().await;
    let contoso_receiver = Receiver::start(Mode::Echo);
    let fabrikam_receiver = Receiver::start(Mode::Echo);
    let contoso = tenant_with_endpoint(&app, Tenant::Onboarded, &contoso_receiver)
        .await
        .key;
    let fabrikam = app
        .onboard_tenant(FABRIKAM, "fabrikam.onmicrosoft.com", "Fabrikam")
        .await
        .key
        .unwrap();
    let (status, endpoint) =
        create_endpoint(&app, &fabrikam, json!({"url": fabrikam_receiver.url})).await;
    assert_eq!(status, 201, "{endpoint}");
    subscribe(&app, &contoso, "users", &["updated"]).await;
    subscribe(&app, &fabrikam, "users", &["updated"]).await;

    // One change call: Graph batches both tenants' notifications for our URL in one POST.
    change(
        &app,
        json!([
            {"tenant": TENANT, "resource": "users", "changeType": "updated", "count": 2},
            {"tenant": FABRIKAM, "resource": "users", "changeType": "updated", "count": 3},
        ]),
    )
    .await;
    drain_until(&app, &contoso_receiver, "graph.user.updated", 2).await;
    drain_until(&app, &fabrikam_receiver, "graph.user.updated", 3).await;
    let batches = inbound_batch::Entity::find().all(&app.db).await.unwrap();
    assert!(
        batches.iter().any(|b| {
            let body = String::from_utf8_lossy(&b.body);
            body.contains(TENANT) && body.contains(FABRIKAM)
        }),
        "one POST carried both tenants' items"
    );
    for (receiver, tenant, n) in [
        (&contoso_receiver, TENANT, 2),
        (&fabrikam_receiver, FABRIKAM, 3),
    ] {
        let events: Vec<Value> = receiver
            .received()
            .iter()
            .filter(|r| r.event_type() == "graph.user.updated")
            .map(|r| r.json())
            .collect();
        assert_eq!(events.len(), n);
        assert!(
            events.iter().all(|e| e["data"]["tenantId"] == tenant),
            "only its own items: {events:?}"
        );
    }
}

#[tokio::test]
async fn a_rich_notification_is_delivered_decrypted_and_forgeries_are_not() {
    let (app, receiver, _) = rich_message_delivered("Board minutes").await;
    let event = receiver.received()[1].json();
    let content = &event["data"]["content"];
    assert!(content.is_object(), "decrypted content: {event}");
    assert_eq!(content["subject"], "Board minutes", "{content}");

    // The same POST tampered with: the ciphertext, or the validation token.
    let original: Value = serde_json::from_slice(
        &inbound_batch::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .body,
    )
    .unwrap();
    let mut tampered = original.clone();
    let data = tampered["value"][0]["encryptedContent"]["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if data.starts_with('A') { "B" } else { "A" };
    tampered["value"][0]["encryptedContent"]["data"] = json!(format!("{flipped}{}", &data[1..]));
    let mut forged_token = original.clone();
    let token = forged_token["validationTokens"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let (head, _) = token.rsplit_once('.').unwrap();
    forged_token["validationTokens"][0] = json!(format!("{head}.c2lnbmF0dXJl"));
    forged_token["value"][0]["id"] = json!("another-notification-id");
    for body in [tampered, forged_token] {
        let (status, _) = post_body(&app, "/graph/notifications", body.to_string()).await;
        assert_eq!(status, 202);
    }
    app.drain_jobs().await;
    assert_eq!(
        receiver.count("graph.message.created"),
        1,
        "nothing forged delivered"
    );
    let rejected = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "ingest.rich_rejected")
        .count();
    assert_eq!(rejected, 2);
}

#[tokio::test]
async fn the_receivers_refuse_addresses_outside_the_allow_list_and_floods() {
    let app = TestApp::spawn_with(|s| s.ingest.max_requests_per_sec_per_address = 2).await;
    let body = json!({"value": [{"subscriptionId": "x"}]}).to_string();
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            post_body(&app, "/graph/notifications", body.clone())
                .await
                .0,
        );
    }
    // Two a second: seven requests within two seconds touch at most three one-second windows,
    // so at most six get through.
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(statuses[0], 202);
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 429),
        "{statuses:?}"
    );

    let listed =
        TestApp::spawn_with(|s| s.ingest.allow_networks = vec!["52.159.0.0/16".into()]).await;
    let (status, error) = post_body(&listed, "/graph/notifications", body).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("forbidden")));
    // The validation handshake is not an inbox write; it answers from anywhere.
    let handshake = "/graph/notifications?validationToken=abc";
    let response = listed.anonymous(Method::POST, handshake).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn two_updates_of_the_same_user_are_two_events() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "users", &["updated"]).await;
    for _ in 0..2 {
        change(
            &app,
            json!({"tenant": TENANT, "resource": format!("users/{USER}"), "changeType": "updated"}),
        )
        .await;
    }
    drain_until(&app, &receiver, "graph.user.updated", 2).await;
    let ids: Vec<Value> = receiver
        .received()
        .iter()
        .filter(|r| r.event_type() == "graph.user.updated")
        .map(|r| r.json()["data"]["resourceData"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!(USER), json!(USER)], "the same user, twice");
}
