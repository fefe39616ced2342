//! Retry schedules: the deployment's (`webhooks.retry_schedule_secs`) and an endpoint's own
//! (`retry_schedule`), set through the api and followed by the delivery engine.

use graphhook_domain::platform::ids::TenantId;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{
    client::create_endpoint,
    errors::refused,
    fixtures::{endpoint_row, message},
    retries::fails_through,
};
use reqwest::Method;
use serde_json::{Value, json};

const FABRIKAM: &str = "4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b";

async fn contoso(app: &TestApp) -> String {
    app.create_contoso().await
}

async fn patch(app: &TestApp, key: &str, id: &str, body: Value) -> reqwest::Response {
    app.as_tenant(key)
        .send(
            Method::PATCH,
            &format!("/api/v1/endpoints/{id}"),
            Some(body),
        )
        .await
}

async fn stored(app: &TestApp, id: &str) -> Option<Value> {
    endpoint_row(app, id).await.retry_schedule
}

#[tokio::test]
async fn an_endpoints_retry_schedule_is_set_read_back_changed_and_cleared_with_null() {
    let app = TestApp::spawn().await;
    let key = contoso(&app).await;
    let receiver = Receiver::start(Mode::Echo);
    let (status, plain) = create_endpoint(&app, &key, json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{plain}");
    assert_eq!(plain["retry_schedule"], Value::Null, "{plain}");

    let url = format!("{}?own=1", receiver.url);
    let body = json!({"url": url, "retry_schedule": [10, 20]});
    let (status, own) = create_endpoint(&app, &key, body).await;
    assert_eq!(status, 201, "{own}");
    assert_eq!(own["retry_schedule"], json!([10, 20]));
    let id = own["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/endpoints/{id}");
    let (_, shown) = app.as_tenant(&key).get(&path).await;
    assert_eq!(shown["retry_schedule"], json!([10, 20]));
    let (_, list) = app.as_tenant(&key).get("/api/v1/endpoints").await;
    let listed: Vec<&Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["retry_schedule"])
        .collect();
    assert_eq!(listed, [&Value::Null, &json!([10, 20])]);
    assert_eq!(stored(&app, &id).await, Some(json!([10, 20])));

    let response = patch(&app, &key, &id, json!({"retry_schedule": [60, 86_400]})).await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["retry_schedule"], json!([60, 86_400]));

    // A change that does not name it keeps it.
    let response = patch(&app, &key, &id, json!({"description": "orders"})).await;
    let kept: Value = response.json().await.unwrap();
    assert_eq!(
        (&kept["description"], &kept["retry_schedule"]),
        (&json!("orders"), &json!([60, 86_400]))
    );

    let response = patch(&app, &key, &id, json!({"retry_schedule": null})).await;
    assert_eq!(response.status(), 200);
    let cleared: Value = response.json().await.unwrap();
    assert_eq!(cleared["retry_schedule"], Value::Null, "{cleared}");
    let (_, shown) = app.as_tenant(&key).get(&path).await;
    assert_eq!(shown["retry_schedule"], Value::Null);
    assert_eq!(stored(&app, &id).await, None, "NULL in the row");

    // Twenty delays of a day each is the most a schedule may be.
    let response = patch(&app, &key, &id, json!({"retry_schedule": vec![86_400; 20]})).await;
    assert_eq!(response.status(), 200);
    let longest: Value = response.json().await.unwrap();
    assert_eq!(longest["retry_schedule"].as_array().unwrap().len(), 20);
}

/// Every bad value: (body, whether the error names the field; a shape error does not, as for
/// every other field).
fn bad_schedules() -> Vec<(Value, bool)> {
    let long: Vec<u64> = (1..=100_000).collect();
    vec![
        (json!([]), true),
        (json!(vec![5; 21]), true),
        (json!(long), true),
        (json!([10, 0]), true),
        (json!([-5]), true),
        (json!([86_401]), true),
        (json!([u64::MAX]), true),
        (json!([1.5]), false),
        (json!([10, "20"]), false),
        (json!([null]), false),
        (json!("10,20"), false),
        (json!(10), false),
        (json!({"delays": [10]}), false),
        (json!(true), false),
    ]
}

#[tokio::test]
async fn a_bad_retry_schedule_is_a_422_in_the_one_error_shape_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let key = contoso(&app).await;
    let receiver = Receiver::start(Mode::Echo);
    let body = json!({"url": receiver.url, "retry_schedule": [30]});
    let (status, endpoint) = create_endpoint(&app, &key, body).await;
    assert_eq!(status, 201, "{endpoint}");
    let id = endpoint["id"].as_str().unwrap().to_owned();

    for (bad, names_the_field) in bad_schedules() {
        let url = format!("{}?bad=1", receiver.url);
        let response = app
            .as_tenant(&key)
            .send(
                Method::POST,
                "/api/v1/endpoints",
                Some(json!({"url": url, "retry_schedule": bad})),
            )
            .await;
        let error = refused(response, 422, "validation_failed").await;
        if names_the_field {
            assert_eq!(
                error["details"]["field"], "retry_schedule",
                "{bad}: {error}"
            );
        } else {
            // A shape error says what the body was expected to hold there.
            assert_eq!(error["details"]["rule"], "json_type", "{bad}: {error}");
            assert!(
                error["details"]["expected"]
                    .as_str()
                    .is_some_and(|e| e.contains("retry")),
                "{bad}: {error}"
            );
        }

        let response = patch(&app, &key, &id, json!({"retry_schedule": bad})).await;
        let error = refused(response, 422, "validation_failed").await;
        if names_the_field {
            assert_eq!(
                error["details"]["field"], "retry_schedule",
                "{bad}: {error}"
            );
        }
    }
    let (_, list) = app.as_tenant(&key).get("/api/v1/endpoints").await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(
        data.len(),
        1,
        "no endpoint was registered with a bad schedule"
    );
    assert_eq!(
        data[0]["retry_schedule"],
        json!([30]),
        "nor was one changed"
    );

    // The body is still JSON that must parse.
    let response = app
        .client
        .patch(app.url(&format!("/api/v1/endpoints/{id}")))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"retry_schedule": [10, 20"#)
        .send()
        .await
        .unwrap();
    refused(response, 400, "invalid_json").await;
}

#[tokio::test]
async fn another_tenant_cannot_change_an_endpoints_retry_schedule() {
    let app = TestApp::spawn().await;
    let key = contoso(&app).await;
    let fabrikam = app.create_tenant(FABRIKAM, "Fabrikam").await;
    let receiver = Receiver::start(Mode::Echo);
    let body = json!({"url": receiver.url, "retry_schedule": [10, 20]});
    let (_, endpoint) = create_endpoint(&app, &key, body).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();

    for body in [
        json!({"retry_schedule": [1]}),
        json!({"retry_schedule": null}),
    ] {
        let response = patch(&app, &fabrikam, &id, body).await;
        refused(response, 404, "not_found").await;
    }
    let path = format!("/api/v1/endpoints/{id}");
    let (status, _) = app.as_tenant(&fabrikam).get(&path).await;
    assert_eq!(status, 404);
    let (_, mine) = app.as_tenant(&key).get(&path).await;
    assert_eq!(mine["retry_schedule"], json!([10, 20]));
    assert_eq!(stored(&app, &id).await, Some(json!([10, 20])));
}

/// Registers an active endpoint on `receiver` with `body`'s settings; returns its id.
async fn endpoint_on(app: &TestApp, key: &str, url: &str, mut body: Value) -> String {
    body["url"] = json!(url);
    let (status, endpoint) = create_endpoint(app, key, body).await;
    assert_eq!(
        (status, &endpoint["status"]),
        (201, &json!("active")),
        "{endpoint}"
    );
    endpoint["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_endpoint_with_its_own_schedule_is_retried_on_it_and_exhausted_after_three_attempts() {
    let app = TestApp::spawn().await;
    let key = contoso(&app).await;
    let receiver = Receiver::start(Mode::Echo);
    let body = json!({"retry_schedule": [10, 20]});
    endpoint_on(&app, &key, &receiver.url, body).await;
    receiver.set_mode(Mode::Status(500));
    let tenant: TenantId = app.tenants().await[0].id.into();
    let (message, created) = message(&app, tenant, 1).await;
    assert_eq!(created.len(), 1);

    fails_through(&app, &[created[0].id], &[10, 20]).await;
    let sent: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.header("webhook-id") == Some(message.webhook_id.as_str()))
        .collect();
    assert_eq!(sent.len(), 3, "three attempts in all");
}

#[tokio::test]
async fn an_endpoint_without_a_schedule_of_its_own_follows_the_deployments() {
    let app = TestApp::spawn_with(|s| s.webhooks.retry_schedule_secs = vec![2, 4, 6]).await;
    let key = contoso(&app).await;
    let receiver = Receiver::start(Mode::Echo);
    let never = endpoint_on(&app, &key, &format!("{}?n=1", receiver.url), json!({})).await;
    // One whose own schedule was cleared follows the deployment's too.
    let own = json!({"retry_schedule": [10, 20]});
    let cleared = endpoint_on(&app, &key, &format!("{}?n=2", receiver.url), own).await;
    let response = patch(&app, &key, &cleared, json!({"retry_schedule": null})).await;
    assert_eq!(response.status(), 200);
    receiver.set_mode(Mode::Status(500));
    let tenant: TenantId = app.tenants().await[0].id.into();
    let (message, created) = message(&app, tenant, 1).await;
    assert_eq!(created.len(), 2);
    let ids: Vec<uuid::Uuid> = created.iter().map(|d| d.id).collect();

    fails_through(&app, &ids, &[2, 4, 6]).await;
    let sent = receiver
        .received()
        .into_iter()
        .filter(|r| r.header("webhook-id") == Some(message.webhook_id.as_str()))
        .count();
    assert_eq!(sent, 8, "four attempts to each of {never} and {cleared}");
}
