//! History lists newest first (`order=desc`, the cursor paging backwards) and messages
//! filtered by endpoint and delivery status, tenant-scoped.

use graphhook_domain::platform::ids::TenantId;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{client::each, errors::assert_code};
use graphhook_tests::{
    client::tenant_get,
    fixtures::{send_event, setup},
};
use reqwest::Method;
use serde_json::{Value, json};

async fn create_endpoint(app: &TestApp, key: &str, body: Value) -> String {
    let response = app
        .as_tenant(key)
        .send(Method::POST, "/api/v1/endpoints", Some(body))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let endpoint: Value = response.json().await.unwrap();
    endpoint["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    each(page, "id").into_iter().map(str::to_owned).collect()
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
        let (status, page) = tenant_get(app, key, &url).await;
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
    let contoso = app.as_tenant(&s.key);
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
        send_event(&app, s.tenant, event_type).await;
    }
    app.drain_jobs().await;

    for list in ["/api/v1/messages", "/api/v1/deliveries", "/api/v1/events"] {
        let (_, everything) = contoso.get(&format!("{list}?limit=200")).await;
        let oldest_first = ids(&everything);
        assert!(oldest_first.len() >= 4, "{list}: {everything}");
        let mut sorted = oldest_first.clone();
        sorted.sort();
        assert_eq!(sorted, oldest_first, "{list}: by id is oldest first");
        let (_, asc) = contoso.get(&format!("{list}?limit=200&order=asc")).await;
        assert_eq!(ids(&asc), oldest_first, "{list}: asc is the default");

        let (_, newest) = contoso.get(&format!("{list}?order=desc&limit=200")).await;
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
        let (_, older) = contoso
            .get(&format!("{list}?order=desc&limit=200&cursor={middle}"))
            .await;
        assert_eq!(ids(&older), newest_first[2..], "{list}");
    }

    // With the other filters.
    let (_, users) = contoso
        .get("/api/v1/messages?order=desc&event_type=graph.user.updated&limit=2")
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
    let (_, created) = contoso
        .get("/api/v1/events?order=desc&event_type=endpoint.created&limit=1")
        .await;
    let (all_created, _) = pages(&app, &s.key, "/api/v1/events?event_type=endpoint.created").await;
    assert_eq!(all_created.len(), 4);
    assert_eq!(ids(&created), [all_created[3].clone()], "the newest one");
}

#[tokio::test]
async fn a_bad_order_is_a_query_error() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let contoso = app.as_tenant(&s.key);
    for list in ["/api/v1/messages", "/api/v1/deliveries", "/api/v1/events"] {
        for order in ["sideways", "DESC", ""] {
            let path = format!("{list}?order={order}");
            let (status, body) = contoso.get(&path).await;
            assert_code(status, &body, 400, "invalid_query");
            assert!(body["message"].is_string(), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn messages_are_filtered_by_endpoint_and_delivery_status() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let contoso = app.as_tenant(&s.key);
    let failing = Receiver::start(Mode::Echo);
    let groups = create_endpoint(
        &app,
        &s.key,
        json!({"url": failing.url, "filter_types": ["graph.group.*"]}),
    )
    .await;
    failing.set_mode(Mode::Status(500));
    let user = send_event(&app, s.tenant, "graph.user.updated").await;
    let group = send_event(&app, s.tenant, "graph.group.deleted").await;
    let later = send_event(&app, s.tenant, "graph.group.created").await;
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
        let (status, page) = contoso.get(&format!("/api/v1/messages?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
        let (_, desc) = contoso
            .get(&format!("/api/v1/messages?{query}&order=desc"))
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
        let (status, body) = contoso.get(&format!("/api/v1/messages?{bad}")).await;
        assert_code(status, &body, 400, "invalid_query");
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
        mine.push(send_event(&app, s.tenant, "graph.user.updated").await);
        theirs.push(send_event(&app, other_tenant, "graph.user.updated").await);
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
            let (status, none) = app
                .as_tenant(key)
                .get(&format!(
                    "/api/v1/messages?order={order}&endpoint_id={foreign_endpoint}"
                ))
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
            let (_, listed) = app
                .as_tenant(key)
                .get(&format!("/api/v1/deliveries?order={order}&limit=200"))
                .await;
            let message_ids = each(&listed, "message_id");
            assert_eq!(
                message_ids, expected,
                "{order}: one delivery per own message"
            );
            for id in &deliveries {
                let (status, _) = app
                    .as_tenant(key)
                    .get(&format!("/api/v1/deliveries/{id}/attempts"))
                    .await;
                assert_eq!(status, 200, "the delivery is this tenant's");
            }
            let (events, _) =
                pages(&app, key, &format!("/api/v1/events?order={order}&limit=1")).await;
            assert_eq!(events.len(), 1, "only its own endpoint.created");
            let (_, event) = app.as_tenant(key).get("/api/v1/events").await;
            assert_eq!(event["data"][0]["endpoint_id"], endpoint.as_str());
        }
    }
}
