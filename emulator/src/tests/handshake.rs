//! The validation handshake (§2) on create.

use reqwest::Method;
use serde_json::{Value, json};

use super::{fixtures, harness::*};

#[actix_web::test]
async fn create_runs_the_handshake_and_answers_201_with_graphs_fields() {
    let emu = Emu::spawn().await;
    let (token, receiver) = emu.subscriber().await;
    let response = emu
        .create(&token, message_subscription(&emu, &receiver.url))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        fixtures::shape(&body),
        fixtures::shape_of(fixtures::CREATE_RESPONSE),
        "{body}"
    );
    assert_eq!(body["changeType"], "created,updated");
    assert_eq!(body["clientState"], "secret-client-state");
    assert_eq!(
        body["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(60))
            .format("%Y-%m-%dT%H:%M:%S.0000000Z")
            .to_string()
    );
    assert_eq!(body["latestSupportedTlsVersion"], "v1_2");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "one validation request");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        seen[0].query.starts_with(
            "route=t42&validationToken=Validation%3A+Testing+client+application+reachability"
        ),
        "{}",
        seen[0].query
    );

    let list = emu
        .graph_json(Method::GET, "/subscriptions", &token, None)
        .await;
    assert_eq!(
        list["@odata.context"],
        serde_json::from_str::<Value>(fixtures::LIST_RESPONSE).unwrap()["@odata.context"]
    );
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let id = body["id"].as_str().unwrap();
    let got = emu
        .graph(Method::GET, &format!("/subscriptions/{id}"), &token, None)
        .await;
    assert_eq!(got.status().as_u16(), 200);
}

/// The message of the 400 `ValidationError` a creation gets when its receiver answers so.
async fn failed_validation(answer: Answer) -> String {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let receiver = receiver(answer);
    let (status, code, message) = emu
        .create_error(&token, message_subscription(&emu, &receiver.url))
        .await;
    assert_eq!((status, code.as_str()), (400, "ValidationError"));
    message
}

#[actix_web::test]
async fn a_receiver_that_echoes_the_still_encoded_token_fails_validation() {
    assert_eq!(
        failed_validation(Answer::EchoEncoded).await,
        "Subscription validation request failed. Response must exactly match validationToken query parameter."
    );
}

#[actix_web::test]
async fn a_202_to_the_handshake_fails_validation() {
    assert_eq!(
        failed_validation(Answer::Accepted).await,
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
    );
}

#[actix_web::test]
async fn a_slow_or_unreachable_receiver_times_out() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let slow = receiver(Answer::Slow(1_500));
    expect_graph_error(
        emu.create(&token, message_subscription(&emu, &slow.url))
            .await,
        400,
        "InvalidRequest",
        "Subscription validation request timed out.",
    )
    .await;

    let mut body = message_subscription(&emu, &slow.url);
    body["notificationUrl"] = json!("http://127.0.0.1:9/nothing-listens-here");
    let (_, code, message) = emu.create_error(&token, body).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidRequest",
            "Subscription validation request timed out."
        )
    );
}

#[actix_web::test]
async fn the_lifecycle_url_is_validated_separately() {
    let emu = Emu::spawn().await;
    let (token, good) = emu.subscriber().await;
    let bad = receiver(Answer::Accepted);
    let mut body = message_subscription(&emu, &good.url);
    body["lifecycleNotificationUrl"] = json!(bad.url);
    let (_, code, _) = emu.create_error(&token, body.clone()).await;
    assert_eq!(code, "ValidationError");
    assert_eq!(good.seen().len(), 1);
    assert_eq!(bad.seen().len(), 1);

    body["lifecycleNotificationUrl"] = json!(format!("{}&kind=lifecycle", good.url));
    assert_eq!(emu.create_status(&token, body).await, 201);
    assert_eq!(good.seen().len(), 3, "two more requests, one per URL");
}

#[actix_web::test]
async fn deliver_via_sends_graphs_requests_for_a_url_to_where_it_really_is() {
    let receiver = receiver(Answer::Echo);
    let real = receiver.url.split("/graph/").next().unwrap().to_owned();
    let emu = Emu::spawn_with(|config| {
        config.behaviour.http_notification_urls = crate::config::HttpUrls::Any;
        config.deliver_via = vec![format!("http://api.invalid:8080={real}")];
    })
    .await;
    let token = emu.token().await;
    let mut body = message_subscription(&emu, &receiver.url);
    body["notificationUrl"] = json!("http://api.invalid:8080/graph/notifications?route=t42");
    let response = emu.create(&token, body).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["notificationUrl"], "http://api.invalid:8080/graph/notifications?route=t42",
        "the subscription keeps the URL it was given"
    );
    let seen = receiver.seen();
    assert_eq!(
        seen.len(),
        1,
        "the validation request reached the real host"
    );
    assert!(seen[0].query.starts_with("route=t42&validationToken="));
}

#[test]
fn deliver_via_entries_need_both_sides() {
    let mut config = crate::config::EmulatorConfig {
        deliver_via: vec!["http://a=http://b".into()],
        ..Default::default()
    };
    assert_eq!(
        config.delivery_routes().unwrap(),
        vec![("http://a".to_owned(), "http://b".to_owned())]
    );
    for bad in ["http://a", "=http://b", "http://a="] {
        config.deliver_via = vec![bad.into()];
        assert!(config.delivery_routes().is_err(), "{bad}");
    }
}
