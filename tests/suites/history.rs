//! Delivery history through the tenant api: lists, resend, recover, isolation.

use graphhook_domain::{
    deliveries::{self, NewMessage},
    ids::TenantId,
};
use graphhook_tests::{Mode, Receiver, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

struct Setup {
    key: String,
    tenant: TenantId,
    endpoint: String,
    receiver: Receiver,
}

async fn setup(app: &TestApp) -> Setup {
    let receiver = Receiver::start(Mode::Echo);
    let key = app
        .create_tenant(graphhook_emulator::config::DEFAULT_TENANT_ID, "Contoso")
        .await;
    let endpoint: Value = app
        .tenant_request(
            Method::POST,
            "/api/v1/endpoints",
            &key,
            Some(json!({"url": receiver.url})),
        )
        .await
        .json()
        .await
        .unwrap();
    let tenant = app.tenants().await[0].id.into();
    Setup {
        key,
        tenant,
        endpoint: endpoint["id"].as_str().unwrap().to_owned(),
        receiver,
    }
}

async fn send(app: &TestApp, tenant: TenantId, event_type: &str) -> String {
    let new = NewMessage {
        tenant,
        event_type: event_type.into(),
        data: json!({"x": 1}),
        endpoint_ids: None,
    };
    let (message, _) = deliveries::create_message(&app.jobs.delivery_deps(), new)
        .await
        .unwrap();
    message.webhook_id
}

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    crate::endpoints::call(app, Method::GET, path, key).await
}

#[tokio::test]
async fn messages_deliveries_and_attempts_are_listed_with_filters() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let first = send(&app, s.tenant, "graph.user.updated").await;
    send(&app, s.tenant, "graph.group.deleted").await;
    app.drain_jobs().await;

    let (_, messages) = get(&app, &s.key, "/api/v1/messages").await;
    assert_eq!(messages["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        messages["data"][0]["id"],
        first.as_str(),
        "a message's id is its webhook-id"
    );
    assert_eq!(messages["data"][0]["payload"]["type"], "graph.user.updated");
    let (_, only) = get(
        &app,
        &s.key,
        "/api/v1/messages?event_type=graph.group.deleted",
    )
    .await;
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    let (_, page) = get(&app, &s.key, "/api/v1/messages?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = get(
        &app,
        &s.key,
        &format!("/api/v1/messages?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(next["data"][0]["event_type"], "graph.group.deleted");

    let (_, deliveries) = get(
        &app,
        &s.key,
        &format!(
            "/api/v1/deliveries?endpoint_id={}&status=delivered",
            s.endpoint
        ),
    )
    .await;
    assert_eq!(deliveries["data"].as_array().unwrap().len(), 2);
    let (_, by_type) = get(
        &app,
        &s.key,
        "/api/v1/deliveries?event_type=graph.user.updated",
    )
    .await;
    assert_eq!(by_type["data"].as_array().unwrap().len(), 1);
    let delivery = by_type["data"][0]["id"].as_str().unwrap();
    let (_, attempts) = get(
        &app,
        &s.key,
        &format!("/api/v1/deliveries/{delivery}/attempts"),
    )
    .await;
    assert_eq!(attempts["data"][0]["trigger"], "scheduled");
    assert_eq!(attempts["data"][0]["status_code"], 204);
    let (status, _) = get(&app, &s.key, "/api/v1/deliveries?status=lost").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn resend_and_recover_deliver_again_with_the_same_webhook_id() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let webhook_id = send(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;

    let response = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/messages/{webhook_id}/resend"),
            &s.key,
            Some(json!({"endpoint_id": s.endpoint})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let delivery: Value = response.json().await.unwrap();
    app.drain_jobs().await;
    let path = format!(
        "/api/v1/deliveries/{}/attempts",
        delivery["id"].as_str().unwrap()
    );
    let (_, attempts) = get(&app, &s.key, &path).await;
    let triggers: Vec<&str> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["scheduled", "manual"]);

    // Failures, then recovery.
    s.receiver.set_mode(Mode::Status(500));
    let failing = send(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    s.receiver.set_mode(Mode::Echo);
    let since = (app.clock.now() - chrono::Duration::hours(1)).to_rfc3339();
    let response = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/endpoints/{}/recover", s.endpoint),
            &s.key,
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(response.json::<Value>().await.unwrap()["recovered"], 1);
    app.drain_jobs().await;
    let (_, deliveries) = get(
        &app,
        &s.key,
        &format!("/api/v1/deliveries?message_id={failing}"),
    )
    .await;
    assert_eq!(deliveries["data"][0]["status"], "delivered");
    let path = format!(
        "/api/v1/deliveries/{}/attempts",
        deliveries["data"][0]["id"].as_str().unwrap()
    );
    let (_, attempts) = get(&app, &s.key, &path).await;
    let triggers: Vec<&str> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers, ["scheduled", "recovery"]);

    let sent: Vec<_> = s
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == "graph.user.updated")
        .collect();
    let ids: Vec<&str> = sent.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        ids.iter().filter(|i| **i == webhook_id).count(),
        2,
        "the resend kept the webhook-id"
    );
    assert_eq!(
        ids.iter().filter(|i| **i == failing).count(),
        2,
        "the recovery kept the webhook-id"
    );
}

#[tokio::test]
async fn another_tenant_cannot_list_resend_or_recover_this_tenants_messages() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let webhook_id = send(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    let other = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;

    for path in ["/api/v1/messages", "/api/v1/deliveries"] {
        let (status, body) = get(&app, &other, path).await;
        assert_eq!(status, 200);
        assert!(body["data"].as_array().unwrap().is_empty(), "{path}");
    }
    let (status, _) = get(&app, &other, &format!("/api/v1/messages/{webhook_id}")).await;
    assert_eq!(status, 404);
    let (_, mine) = get(&app, &s.key, "/api/v1/deliveries").await;
    let delivery = mine["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        get(
            &app,
            &other,
            &format!("/api/v1/deliveries/{delivery}/attempts")
        )
        .await
        .0,
        404
    );
    let resend = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/messages/{webhook_id}/resend"),
            &other,
            Some(json!({"endpoint_id": s.endpoint})),
        )
        .await;
    assert_eq!(resend.status().as_u16(), 404);
    let recover = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/endpoints/{}/recover", s.endpoint),
            &other,
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(recover.status().as_u16(), 404);
    let sent = s
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == "graph.user.updated")
        .count();
    assert_eq!(sent, 1, "nothing was sent again");
}

#[tokio::test]
async fn a_test_send_is_a_message_in_the_history_and_a_failed_one_is_retried() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    s.receiver.set_mode(Mode::Status(503));
    let response = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/endpoints/{}/test", s.endpoint),
            &s.key,
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let test: Value = response.json().await.unwrap();
    assert_eq!(test["delivered"], false);
    assert_eq!(test["status"], 503);
    let webhook_id = test["message_id"].as_str().unwrap().to_owned();

    let (status, message) = get(&app, &s.key, &format!("/api/v1/messages/{webhook_id}")).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["event_type"], "endpoint.test");
    let (_, failed) = get(
        &app,
        &s.key,
        &format!("/api/v1/deliveries?message_id={webhook_id}"),
    )
    .await;
    let delivery = &failed["data"][0];
    assert_eq!(delivery["status"], "failed", "{failed}");
    assert_eq!(delivery["attempt_count"], 1);
    assert!(delivery["next_attempt_at"].is_string());

    // The retry comes when it is due, with the same webhook-id.
    s.receiver.set_mode(Mode::Echo);
    let due = delivery["next_attempt_at"].as_str().unwrap();
    app.clock
        .set(chrono::DateTime::parse_from_rfc3339(due).unwrap().into());
    deliveries::sweep_due(&app.db, &app.clock, &app.jobs.queues, 100)
        .await
        .unwrap();
    app.drain_jobs().await;
    let (_, retried) = get(
        &app,
        &s.key,
        &format!("/api/v1/deliveries?message_id={webhook_id}"),
    )
    .await;
    assert_eq!(retried["data"][0]["status"], "delivered", "{retried}");
    let tests: Vec<_> = s
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == "endpoint.test")
        .collect();
    assert_eq!(tests.len(), 2);
    assert!(
        tests
            .iter()
            .all(|r| r.header("webhook-id") == Some(webhook_id.as_str()))
    );
}

#[tokio::test]
async fn retention_removes_old_payloads_attempts_and_events_in_batches() {
    use graphhook_domain::deliveries::retention::{self, Retention};
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let start = app.clock.now();
    crate::deliveries::tick(&app, 0).await;
    let old = send(&app, s.tenant, "graph.user.updated").await;
    let older = send(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;
    app.clock.set(start + chrono::Duration::days(31));
    let recent = send(&app, s.tenant, "graph.user.updated").await;
    app.drain_jobs().await;

    // Payloads past 30 days go (the endpoint.created event's and two more), in batches of one;
    // attempts stay for 90 days.
    let keep = Retention {
        payloads: chrono::Duration::days(30),
        attempts: chrono::Duration::days(90),
    };
    let removed = retention::apply(&app.db, &app.clock, keep, 1, 10)
        .await
        .unwrap();
    assert_eq!((removed.payloads, removed.attempts), (3, 0));
    for (id, kept) in [(&old, false), (&older, false), (&recent, true)] {
        let (_, message) = get(&app, &s.key, &format!("/api/v1/messages/{id}")).await;
        assert_eq!(message["payload"].is_object(), kept, "{message}");
    }
    let response = app
        .tenant_request(
            Method::POST,
            &format!("/api/v1/messages/{old}/resend"),
            &s.key,
            Some(json!({"endpoint_id": s.endpoint})),
        )
        .await;
    assert_eq!(response.status(), 409, "nothing left to resend");
    // At most `max_batches` batches of each kind a run.
    app.clock.set(start + chrono::Duration::days(91));
    let removed = retention::apply(&app.db, &app.clock, keep, 1, 1)
        .await
        .unwrap();
    assert_eq!((removed.payloads, removed.attempts), (1, 1));

    // The maintenance tick applies the configured retention (30 and 90 days).
    crate::deliveries::tick(&app, 60).await;
    let (_, deliveries) = get(&app, &s.key, "/api/v1/deliveries").await;
    let mut attempts = Vec::new();
    for delivery in deliveries["data"].as_array().unwrap() {
        let id = delivery["id"].as_str().unwrap();
        let (_, list) = get(&app, &s.key, &format!("/api/v1/deliveries/{id}/attempts")).await;
        attempts.push(list["data"].as_array().unwrap().len());
    }
    assert_eq!(
        attempts,
        [0, 0, 0, 1],
        "only the recent message's attempt is left"
    );
    let (_, events) = get(&app, &s.key, "/api/v1/events").await;
    assert!(
        events["data"].as_array().unwrap().is_empty(),
        "the published endpoint.created is gone: {events}"
    );
    let (_, messages) = get(&app, &s.key, "/api/v1/messages").await;
    assert_eq!(
        messages["data"].as_array().unwrap().len(),
        4,
        "messages themselves stay"
    );
}

async fn create_endpoint(app: &TestApp, key: &str, body: Value) -> String {
    let response = app
        .tenant_request(Method::POST, "/api/v1/endpoints", key, Some(body))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let endpoint: Value = response.json().await.unwrap();
    endpoint["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of a list, following `next_cursor`; checks each cursor is its page's last id.
async fn pages(app: &TestApp, key: &str, path: &str) -> (Vec<String>, usize) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let (mut all, mut count, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{separator}cursor={c}"),
            None => path.to_owned(),
        };
        let (status, page) = get(app, key, &url).await;
        assert_eq!(status, 200, "{url}: {page}");
        let page_ids = ids(&page);
        all.extend(page_ids.iter().cloned());
        count += 1;
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(Some(next), page_ids.last().map(String::as_str), "{url}");
                cursor = Some(next.to_owned());
            }
            None => return (all, count),
        }
    }
}

#[tokio::test]
async fn order_desc_lists_newest_first_and_the_cursor_pages_backwards() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    // More operational events: three endpoints more (`endpoint.created`).
    for i in 0..3 {
        create_endpoint(
            &app,
            &s.key,
            json!({"url": format!("{}?n={i}", s.receiver.url)}),
        )
        .await;
    }
    for event_type in ["graph.user.updated", "graph.group.deleted"].repeat(3) {
        send(&app, s.tenant, event_type).await;
    }
    app.drain_jobs().await;

    for list in ["/api/v1/messages", "/api/v1/deliveries", "/api/v1/events"] {
        let (_, everything) = get(&app, &s.key, &format!("{list}?limit=200")).await;
        let oldest_first = ids(&everything);
        assert!(oldest_first.len() >= 4, "{list}: {everything}");
        let mut sorted = oldest_first.clone();
        sorted.sort();
        assert_eq!(sorted, oldest_first, "{list}: by id is oldest first");
        let (_, asc) = get(&app, &s.key, &format!("{list}?limit=200&order=asc")).await;
        assert_eq!(ids(&asc), oldest_first, "{list}: asc is the default");

        let (_, newest) = get(&app, &s.key, &format!("{list}?order=desc&limit=200")).await;
        let newest_first: Vec<String> = oldest_first.iter().rev().cloned().collect();
        assert_eq!(ids(&newest), newest_first, "{list}");
        assert!(newest["next_cursor"].is_null());

        // Two at a time, backwards, over several pages: every item once, newest first.
        let (paged, count) = pages(&app, &s.key, &format!("{list}?order=desc&limit=2")).await;
        assert_eq!(paged, newest_first, "{list}");
        assert!(count >= 2, "{list}: {count} pages");
        // And forwards, as before.
        let (paged, _) = pages(&app, &s.key, &format!("{list}?limit=2")).await;
        assert_eq!(paged, oldest_first, "{list}");
        // A cursor from the middle: only older items follow.
        let middle = &newest_first[1];
        let (_, older) = get(
            &app,
            &s.key,
            &format!("{list}?order=desc&limit=200&cursor={middle}"),
        )
        .await;
        assert_eq!(ids(&older), newest_first[2..], "{list}");
    }

    // With the other filters.
    let (_, users) = get(
        &app,
        &s.key,
        "/api/v1/messages?order=desc&event_type=graph.user.updated&limit=2",
    )
    .await;
    assert_eq!(users["data"].as_array().unwrap().len(), 2);
    assert!(
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["event_type"] == "graph.user.updated")
    );
    let (rest, _) = pages(
        &app,
        &s.key,
        "/api/v1/messages?order=desc&event_type=graph.user.updated&limit=2",
    )
    .await;
    assert_eq!(rest.len(), 3);
    let (_, created) = get(
        &app,
        &s.key,
        "/api/v1/events?order=desc&event_type=endpoint.created&limit=1",
    )
    .await;
    let (all_created, _) = pages(&app, &s.key, "/api/v1/events?event_type=endpoint.created").await;
    assert_eq!(all_created.len(), 4);
    assert_eq!(ids(&created), [all_created[3].clone()], "the newest one");
}

#[tokio::test]
async fn a_bad_order_is_a_query_error() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    for list in ["/api/v1/messages", "/api/v1/deliveries", "/api/v1/events"] {
        for order in ["sideways", "DESC", ""] {
            let (status, body) = get(&app, &s.key, &format!("{list}?order={order}")).await;
            assert_eq!(status, 400, "{list}?order={order}: {body}");
            assert_eq!(body["code"], "invalid_query", "{body}");
            assert!(body["message"].is_string(), "{body}");
        }
    }
}

#[tokio::test]
async fn messages_are_filtered_by_endpoint_and_delivery_status() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let failing = Receiver::start(Mode::Echo);
    let groups = create_endpoint(
        &app,
        &s.key,
        json!({"url": failing.url, "filter_types": ["graph.group.*"]}),
    )
    .await;
    failing.set_mode(Mode::Status(500));
    let user = send(&app, s.tenant, "graph.user.updated").await;
    let group = send(&app, s.tenant, "graph.group.deleted").await;
    let later = send(&app, s.tenant, "graph.group.created").await;
    app.drain_jobs().await;

    let all = || vec![user.clone(), group.clone(), later.clone()];
    let cases = [
        (format!("endpoint_id={}", s.endpoint), all()),
        (
            format!("endpoint_id={groups}"),
            vec![group.clone(), later.clone()],
        ),
        ("status=delivered".to_owned(), all()),
        (
            "status=failed".to_owned(),
            vec![group.clone(), later.clone()],
        ),
        ("status=exhausted".to_owned(), vec![]),
        ("status=pending".to_owned(), vec![]),
        // Both: one delivery to that endpoint in that status.
        (
            format!("endpoint_id={groups}&status=failed"),
            vec![group.clone(), later.clone()],
        ),
        (format!("endpoint_id={groups}&status=delivered"), vec![]),
        (format!("endpoint_id={}&status=failed", s.endpoint), vec![]),
        (
            format!("endpoint_id={groups}&status=failed&event_type=graph.group.created"),
            vec![later.clone()],
        ),
    ];
    for (query, expected) in cases {
        let (status, page) = get(&app, &s.key, &format!("/api/v1/messages?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
        let (_, desc) = get(
            &app,
            &s.key,
            &format!("/api/v1/messages?{query}&order=desc"),
        )
        .await;
        let newest_first: Vec<String> = expected.into_iter().rev().collect();
        assert_eq!(ids(&desc), newest_first, "{query}&order=desc");
    }
    // Paging backwards keeps the filter.
    let (paged, count) = pages(
        &app,
        &s.key,
        &format!("/api/v1/messages?endpoint_id={groups}&order=desc&limit=1"),
    )
    .await;
    assert_eq!(paged, [later.clone(), group.clone()]);
    assert_eq!(count, 3, "two full pages, then an empty one");

    for bad in ["status=lost", "endpoint_id=nope"] {
        let (status, body) = get(&app, &s.key, &format!("/api/v1/messages?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_query", "{body}");
    }
}

#[tokio::test]
async fn another_tenants_history_never_appears_in_either_order_or_filter() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let other_key = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let other_tenant: TenantId = app
        .tenants()
        .await
        .into_iter()
        .map(|t| TenantId::from(t.id))
        .find(|t| *t != s.tenant)
        .unwrap();
    let other_receiver = Receiver::start(Mode::Echo);
    let other_endpoint =
        create_endpoint(&app, &other_key, json!({"url": other_receiver.url})).await;
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..3 {
        mine.push(send(&app, s.tenant, "graph.user.updated").await);
        theirs.push(send(&app, other_tenant, "graph.user.updated").await);
    }
    app.drain_jobs().await;

    for (key, own, endpoint, foreign_endpoint) in [
        (&s.key, &mine, &s.endpoint, &other_endpoint),
        (&other_key, &theirs, &other_endpoint, &s.endpoint),
    ] {
        for order in ["asc", "desc"] {
            let (messages, _) = pages(
                &app,
                key,
                &format!("/api/v1/messages?order={order}&limit=2"),
            )
            .await;
            let mut expected = own.clone();
            if order == "desc" {
                expected.reverse();
            }
            assert_eq!(messages, expected, "{order}");
            let (filtered, _) = pages(
                &app,
                key,
                &format!("/api/v1/messages?order={order}&endpoint_id={endpoint}&status=delivered"),
            )
            .await;
            assert_eq!(filtered, expected, "{order}");
            // The other tenant's endpoint matches nothing here.
            let (status, none) = get(
                &app,
                key,
                &format!("/api/v1/messages?order={order}&endpoint_id={foreign_endpoint}"),
            )
            .await;
            assert_eq!(status, 200);
            assert!(ids(&none).is_empty(), "{none}");

            let (deliveries, _) = pages(
                &app,
                key,
                &format!("/api/v1/deliveries?order={order}&limit=2"),
            )
            .await;
            assert_eq!(deliveries.len(), 3);
            let (_, listed) = get(
                &app,
                key,
                &format!("/api/v1/deliveries?order={order}&limit=200"),
            )
            .await;
            let message_ids: Vec<&str> = listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["message_id"].as_str().unwrap())
                .collect();
            assert_eq!(
                message_ids, expected,
                "{order}: one delivery per own message"
            );
            for id in &deliveries {
                let (status, _) =
                    get(&app, key, &format!("/api/v1/deliveries/{id}/attempts")).await;
                assert_eq!(status, 200, "the delivery is this tenant's");
            }
            let (events, _) =
                pages(&app, key, &format!("/api/v1/events?order={order}&limit=1")).await;
            assert_eq!(events.len(), 1, "only its own endpoint.created");
            let (_, event) = get(&app, key, "/api/v1/events").await;
            assert_eq!(event["data"][0]["endpoint_id"], endpoint.as_str());
        }
    }
}
