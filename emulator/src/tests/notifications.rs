//! Change notifications (§3.1, §3.2): a change made through the control API reaches local
//! receivers in Graph's shape, batched per URL, and every attempt is on record.

use chrono::DateTime;
use reqwest::Method;
use serde_json::{Value, json};

use super::{fixtures, harness::*, inbox::*};
use crate::config::DEFAULT_TENANT_ID;

fn inbox_messages() -> String {
    format!("users/{USER}/mailFolders('inbox')/messages")
}

#[actix_web::test]
async fn a_change_reaches_the_receiver_in_graphs_shape() {
    let (emu, inbox, subscription) = subscribed(message_subscription).await;

    let queued = emu
        .change(json!({"tenant": DEFAULT_TENANT_ID, "resource": inbox_messages(), "changeType": "created", "count": 3}))
        .await;
    assert_eq!(queued.len(), 3);
    let posts = inbox.wait_for_posts(1).await;
    assert_eq!(posts.len(), 1, "three items due together go in one POST");
    let post = &posts[0];
    assert_eq!(post.query, "route=t42", "the URL's own query is kept");
    assert_eq!(
        post.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert!(
        post.body.get("validationTokens").is_none(),
        "basic notifications carry no JWT (§3.1)"
    );
    let items = post.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let sample: Value = serde_json::from_str(fixtures::CHANGE_NOTIFICATION).unwrap();
    let expiry = emu.clock.now() + chrono::Duration::minutes(60);
    let mut formats = std::collections::BTreeSet::new();
    for item in items {
        // §3.2: the same fields as Microsoft's sample.
        assert_eq!(
            fixtures::shape(item),
            fixtures::shape(&sample["value"][0]),
            "{item}"
        );
        assert_eq!(item["subscriptionId"], subscription["id"]);
        assert_eq!(item["clientState"], "secret-client-state");
        assert_eq!(item["changeType"], "created");
        assert_eq!(item["tenantId"], DEFAULT_TENANT_ID);
        let id = item["resourceData"]["id"].as_str().unwrap();
        // Normalized casing, not the subscription's `users/…/mailFolders('inbox')/messages`.
        assert_eq!(item["resource"], format!("Users/{USER}/Messages/{id}"));
        assert_eq!(item["resourceData"]["@odata.id"], item["resource"]);
        assert_eq!(
            item["resourceData"]["@odata.type"],
            "#Microsoft.Graph.Message"
        );
        assert!(
            item["resourceData"]["@odata.etag"]
                .as_str()
                .unwrap()
                .starts_with("W/\"")
        );
        let written = item["subscriptionExpirationDateTime"].as_str().unwrap();
        let parsed = DateTime::parse_from_rfc3339(written).unwrap();
        assert_eq!(parsed.timestamp(), expiry.timestamp(), "{written}");
        let zone = if written.ends_with('Z') {
            "Z"
        } else {
            &written[written.len() - 6..]
        };
        formats.insert(zone.to_owned());
    }
    assert_eq!(formats.len(), 3, "three expiration formats (§3.2)");

    let deliveries = emu
        .wait_for_deliveries("the attempt on record", |d| count(d, "attempts") == 1)
        .await;
    let attempt = &deliveries["attempts"][0];
    assert_eq!(attempt["url"], inbox.url.as_str());
    assert_eq!(attempt["status"], 202);
    assert_eq!(attempt["delivered"], true);
    assert_eq!(attempt["retry"], 0);
    assert!(attempt["latencyMs"].is_u64());
    assert_eq!(attempt["items"].as_array().unwrap().len(), 3);
    assert_eq!(attempt["items"][0]["subscriptionId"], subscription["id"]);
    assert_eq!(count(&deliveries, "pending"), 0);
    assert_eq!(count(&deliveries, "dropped"), 0);
}

#[actix_web::test]
async fn a_change_reaches_only_the_subscriptions_that_hear_of_it() {
    let (emu, inbox, users) =
        subscribed(|emu, url| emu.subscription("updated", url, "users", 60)).await;

    // Another tenant, another user's mailbox, a change type nobody asked for: no notification.
    for change in [
        change_of(NEW_TENANT, "users", "updated"),
        change_of(DEFAULT_TENANT_ID, &inbox_messages(), "created"),
        change_of(DEFAULT_TENANT_ID, "users", "deleted"),
    ] {
        assert!(emu.change(change.clone()).await.is_empty(), "{change}");
    }

    // A user created shows as `updated` (§1.1), written `Users/{id}`, without an etag.
    let queued = emu
        .change(change_of(
            "contoso.onmicrosoft.com",
            &format!("users/{USER}"),
            "created",
        ))
        .await;
    assert_eq!(queued.len(), 1);
    let item = &inbox.wait_for_posts(1).await[0].body["value"][0];
    assert_eq!(item["subscriptionId"], users["id"]);
    assert_eq!(item["changeType"], "updated");
    assert_eq!(item["resource"], format!("Users/{USER}"));
    assert_eq!(item["resourceData"]["@odata.type"], "#Microsoft.Graph.User");
    assert_eq!(item["resourceData"]["id"], USER);
    assert!(item["resourceData"].get("@odata.etag").is_none());
    assert!(item.get("clientState").is_none(), "none was set");

    let refused = emu
        .control(
            Method::POST,
            "/changes",
            Some(change_of(
                DEFAULT_TENANT_ID,
                "users/abc/calendar",
                "updated",
            )),
        )
        .await;
    assert_eq!(
        refused.status().as_u16(),
        400,
        "not a resource Graph notifies about"
    );
}

#[actix_web::test]
async fn two_subscriptions_on_one_url_share_a_batch_across_tenants() {
    let emu = Emu::spawn_with(accept_unknown_users).await;
    emu.consent(NEW_TENANT, None).await;
    let inbox = inbox();
    let mut subscriptions = Vec::new();
    for tenant in [DEFAULT_TENANT_ID, NEW_TENANT] {
        let token = emu.token_for(tenant).await;
        let body = emu.subscription("created", &inbox.url, &format!("users/{USER}/messages"), 60);
        subscriptions.push(emu.subscribe(&token, body).await["id"].clone());
    }
    let change = |tenant: &str| change_of(tenant, &format!("users/{USER}/messages"), "created");

    // Two changes made at once: one POST with both tenants' items.
    let queued = emu
        .change(json!([change(DEFAULT_TENANT_ID), change(NEW_TENANT)]))
        .await;
    assert_eq!(queued.len(), 2);
    let posts = inbox.wait_for_posts(1).await;
    let items = posts[0].body["value"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{:#}", posts[0].body);
    assert_eq!(items[0]["subscriptionId"], subscriptions[0]);
    assert_eq!(items[1]["subscriptionId"], subscriptions[1]);
    assert_eq!(items[0]["tenantId"], DEFAULT_TENANT_ID);
    assert_eq!(items[1]["tenantId"], NEW_TENANT);

    // Changes made apart while deliveries are held also go out together.
    emu.behaviour(json!({"delivery_paused": true})).await;
    emu.change(change(NEW_TENANT)).await;
    emu.change(change(DEFAULT_TENANT_ID)).await;
    assert_eq!(count(&emu.deliveries().await, "pending"), 2);
    emu.behaviour(json!({"delivery_paused": false})).await;
    let posts = inbox.wait_for_posts(2).await;
    assert_eq!(posts[1].body["value"].as_array().unwrap().len(), 2);

    // At most `max_batch_items` per POST.
    emu.behaviour(json!({"max_batch_items": 2})).await;
    emu.change(json!({"tenant": DEFAULT_TENANT_ID, "resource": format!("users/{USER}/messages"), "changeType": "created", "count": 5}))
        .await;
    let posts = inbox.wait_for_posts(5).await;
    let sizes: Vec<usize> = posts[2..]
        .iter()
        .map(|p| p.body["value"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    let deliveries = emu
        .wait_for_deliveries("five attempts", |d| count(d, "attempts") == 5)
        .await;
    assert_eq!(
        deliveries["attempts"][0]["items"].as_array().unwrap().len(),
        2
    );
}

#[actix_web::test]
async fn an_answer_slower_than_the_timeout_is_an_attempt_without_status() {
    // A 200 ms timeout stands in for Graph's 3 s so the test stays fast.
    let emu = Emu::spawn_with(|c| c.behaviour.delivery_timeout_ms = 200).await;
    let token = emu.token().await;
    let inbox = inbox_with(|_| (202, 1_000));
    emu.subscribe(&token, emu.subscription("updated", &inbox.url, "users", 60))
        .await;
    emu.change(change_of(DEFAULT_TENANT_ID, "users", "updated"))
        .await;
    let deliveries = emu
        .wait_for_deliveries("the timed-out attempt", |d| count(d, "attempts") == 1)
        .await;
    let attempt = &deliveries["attempts"][0];
    assert_eq!(attempt["status"], Value::Null);
    assert_eq!(attempt["error"], "timeout");
    assert_eq!(attempt["delivered"], false);
    assert_eq!(inbox.received().len(), 1, "the receiver did get it");
}
