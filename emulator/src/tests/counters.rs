//! What the control API counts: renewals and reauthorizations per subscription, and every call
//! that reached the subscription API (`GET /_emulator/calls`).

use reqwest::Method;
use serde_json::{Value, json};

use super::harness::*;

async fn listing_entry(emu: &Emu, id: &str) -> Value {
    let all = emu.control_json(Method::GET, "/subscriptions", None).await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|e| e["subscription"]["id"] == id)
        .cloned()
        .unwrap()
}

pub async fn calls(emu: &Emu) -> Value {
    let response = emu.control(Method::GET, "/calls", None).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

fn has_counters(subscription: &Value) -> bool {
    subscription.get("renewals").is_some() || subscription.get("reauthorizations").is_some()
}

#[actix_web::test]
async fn successful_patches_and_reauthorizations_are_counted_in_the_control_listing_only() {
    let emu = Emu::spawn().await;
    let sub = emu.subscribed().await;
    let entry = listing_entry(&emu, &sub.id).await;
    assert_eq!(
        (
            &entry["state"]["renewals"],
            &entry["state"]["reauthorizations"]
        ),
        (&json!(0), &json!(0))
    );

    let patch = |body: Value| emu.graph(Method::PATCH, &sub.path, &sub.token, Some(body));
    for minutes in [120, 240] {
        let renewed = patch(json!({"expirationDateTime": emu.expires_in(minutes)})).await;
        assert_eq!(renewed.status().as_u16(), 200);
    }
    // A new URL is a PATCH too.
    let moved = receiver(Answer::Echo);
    assert_eq!(
        patch(json!({"notificationUrl": moved.url}))
            .await
            .status()
            .as_u16(),
        200
    );
    // Refused PATCHes are not renewals.
    assert_eq!(
        graph_error(patch(json!({"resource": "users"})).await)
            .await
            .0,
        400
    );
    let refused = receiver(Answer::Accepted);
    assert_eq!(
        graph_error(patch(json!({"notificationUrl": refused.url})).await)
            .await
            .0,
        400
    );
    for _ in 0..2 {
        assert_eq!(emu.reauthorize(&sub.id, &sub.token).await, 204);
    }

    let entry = listing_entry(&emu, &sub.id).await;
    assert_eq!(
        (
            &entry["state"]["renewals"],
            &entry["state"]["reauthorizations"]
        ),
        (&json!(3), &json!(2)),
        "{entry}"
    );
    assert!(!has_counters(&entry["subscription"]), "{entry}");

    // Graph's own JSON never shows them.
    let got = emu
        .graph_json(Method::GET, &sub.path, &sub.token, None)
        .await;
    assert_eq!(got["id"], sub.id.as_str());
    assert!(!has_counters(&got), "{got}");
    let listed = emu
        .graph_json(Method::GET, "/subscriptions", &sub.token, None)
        .await;
    assert!(!has_counters(&listed["value"][0]), "{listed}");
}

#[actix_web::test]
async fn call_statistics_count_every_answer_of_the_subscription_api_until_reset() {
    let emu = Emu::spawn().await;
    let (token, rx) = emu.subscriber().await;
    let body = message_subscription(&emu, &rx.url);

    let created = emu.create(&token, body.clone()).await;
    assert_eq!(created.status().as_u16(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/subscriptions/{id}");
    assert_eq!(emu.create_status(&token, body).await, 409);
    let unknown = format!("/subscriptions/{}", uuid::Uuid::new_v4());
    let calls_made = [
        (Method::GET, "/subscriptions".to_owned(), None, 200),
        (Method::GET, path.clone(), None, 200),
        (Method::GET, unknown, None, 404),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"expirationDateTime": emu.expires_in(120)})),
            200,
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"changeType": "deleted"})),
            400,
        ),
        (Method::POST, format!("{path}/reauthorize"), None, 204),
        (Method::DELETE, path.clone(), None, 204),
    ];
    for (method, path, body, status) in calls_made {
        let response = emu.graph(method.clone(), &path, &token, body).await;
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
    }
    // Without a token: 401, still a call that reached the API.
    let anonymous = emu.get("/v1.0/subscriptions").await;
    assert_eq!(anonymous.status().as_u16(), 401);
    // Every call above (but the anonymous one) used the rate budget: the next ones get 429.
    emu.behaviour(json!({"rate_limit_per_app": 1})).await;
    for _ in 0..2 {
        let throttled = emu.graph(Method::GET, "/subscriptions", &token, None).await;
        assert_eq!(throttled.status().as_u16(), 429);
    }

    assert_eq!(
        calls(&emu).await,
        json!({
            "total": 12,
            "throttled": 2,
            "byOperation": {"create": 2, "list": 4, "get": 2, "update": 2, "delete": 1, "reauthorize": 1},
            "byStatus": {"200": 3, "201": 1, "204": 2, "400": 1, "401": 1, "403": 0, "404": 1, "409": 1, "429": 2},
            "refresh_token_grants": 0,
            "refresh_token_grants_succeeded": 0,
            "refresh_token_grants_by_user": {},
        })
    );

    assert_eq!(
        emu.control_status(Method::DELETE, "/calls", None).await,
        204
    );
    let after = calls(&emu).await;
    assert_eq!(
        (&after["total"], &after["throttled"]),
        (&json!(0), &json!(0))
    );
    assert!(
        after["byOperation"]
            .as_object()
            .unwrap()
            .values()
            .chain(after["byStatus"].as_object().unwrap().values())
            .all(|n| *n == 0),
        "{after}"
    );
    // Counting starts again.
    emu.graph(Method::GET, "/subscriptions", &token, None).await;
    let after = calls(&emu).await;
    assert_eq!(
        (&after["total"], &after["byStatus"]["429"]),
        (&json!(1), &json!(1))
    );
}
