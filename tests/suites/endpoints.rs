//! Tenant endpoints with local receivers: verification, signatures, rotation, SSRF, isolation.

use graphhook_tests::fixtures::{onboarded_contoso, unverified_because};
use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use graphhook_tests::{Mode, Receiver};
use graphhook_tests::{client::create_endpoint, fixtures::verifies_with};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_endpoint_becomes_active_only_when_it_echoes_the_challenge_and_gets_nothing_before() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Status(200));
    let (status, endpoint) = create_endpoint(&app, &key, json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{endpoint}");
    unverified_because(&endpoint, "challenge");
    let id = endpoint["id"].as_str().unwrap().to_owned();

    let received = receiver.received();
    assert_eq!(received.len(), 1, "only the verification request");
    assert_eq!(received[0].event_type(), "endpoint.verification");
    assert!(
        received[0].json()["data"]["challenge"]
            .as_str()
            .unwrap()
            .len()
            >= 32
    );
    assert!(
        verifies_with(&received[0], endpoint["secret"].as_str().unwrap()),
        "the challenge is signed"
    );

    let (status, body) = app.as_tenant(&key).test_endpoint(&id).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing else is sent before verification"
    );

    receiver.set_mode(Mode::Echo);
    let (status, verified) = app
        .as_tenant(&key)
        .post(&format!("/api/v1/endpoints/{id}/verify"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(verified["status"], "active");
    assert!(verified["verified_at"].is_string());
    assert!(verified["verification_error"].is_null());

    let (status, test) = app.as_tenant(&key).test_endpoint(&id).await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["delivered"], true);
    assert_eq!(test["status"], 204);
    assert!(test["duration_ms"].is_number());
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.event_type(), "endpoint.test");
    assert_eq!(last.header("webhook-id"), test["message_id"].as_str());
}

#[tokio::test]
async fn test_events_verify_with_the_secret_and_rotation_keeps_the_old_one_for_its_grace() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (_, endpoint) = create_endpoint(
        &app,
        &key,
        json!({"url": receiver.url, "headers": {"X-Api-Key": "abc"}}),
    )
    .await;
    assert_eq!(endpoint["status"], "active");
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let old = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(old.starts_with("whsec_") && STANDARD.decode(&old[6..]).unwrap().len() == 32);

    app.as_tenant(&key).test_endpoint(&id).await;
    let first = receiver.received().pop().unwrap();
    assert!(verifies_with(&first, &old));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-api-key"), Some("abc"));
    assert!(
        first
            .header("user-agent")
            .unwrap()
            .starts_with("Graphhook/")
    );
    assert!(first.header("webhook-id").unwrap().starts_with("msg_"));
    assert_eq!(
        first.header("webhook-timestamp").unwrap(),
        app.clock.now().timestamp().to_string()
    );

    let new = app.as_tenant(&key).rotate_secret(&id, 3600).await;
    assert_ne!(new, old);
    let (_, current) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}/secret"))
        .await;
    assert_eq!(
        current["secret"],
        new.as_str(),
        "the documented read returns the current secret"
    );

    app.as_tenant(&key).test_endpoint(&id).await;
    let during = receiver.received().pop().unwrap();
    assert!(
        verifies_with(&during, &new) && verifies_with(&during, &old),
        "both secrets sign during the grace period"
    );
    assert_eq!(
        during
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    app.clock.advance(chrono::Duration::seconds(3601));
    app.as_tenant(&key).test_endpoint(&id).await;
    let after = receiver.received().pop().unwrap();
    assert!(verifies_with(&after, &new));
    assert!(
        !verifies_with(&after, &old),
        "after the grace period only the new secret signs"
    );
}

#[tokio::test]
async fn an_endpoint_can_also_sign_with_ed25519_and_bring_its_own_secret() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let own = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (status, endpoint) = create_endpoint(
        &app,
        &key,
        json!({"url": receiver.url, "ed25519": true, "secret": own}),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!(endpoint["secret"], own);
    let id = endpoint["id"].as_str().unwrap();
    let (_, public) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}/public-key"))
        .await;
    let public = public["public_key"].as_str().unwrap().to_owned();
    assert_eq!(endpoint["ed25519_public_key"], public.as_str());
    let received = receiver.received().pop().unwrap();
    assert!(verifies_with(&received, own));
    let v1a = received
        .header("webhook-signature")
        .unwrap()
        .split(' ')
        .find_map(|s| s.strip_prefix("v1a,"))
        .unwrap()
        .to_owned();
    let key_bytes: [u8; 32] = STANDARD
        .decode(public.strip_prefix("whpk_").unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&STANDARD.decode(v1a).unwrap()).unwrap();
    let content = format!(
        "{}.{}.{}",
        received.header("webhook-id").unwrap(),
        received.header("webhook-timestamp").unwrap(),
        String::from_utf8(received.body.clone()).unwrap()
    );
    assert!(
        verifying
            .verify_strict(content.as_bytes(), &signature)
            .is_ok()
    );

    let (status, body) = create_endpoint(
        &app,
        &key,
        json!({"url": receiver.url, "secret": "whsec_c2hvcnQ="}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn endpoints_are_listed_with_a_cursor_updated_and_disabled_by_the_tenant() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, e) = create_endpoint(
            &app,
            &key,
            json!({"url": format!("{}?n={i}", receiver.url), "filter_types": ["graph.message.*"]}),
        )
        .await;
        ids.push(e["id"].as_str().unwrap().to_owned());
    }
    let (_, page) = app.as_tenant(&key).get("/api/v1/endpoints?limit=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["data"][0]["id"], ids[2].as_str());
    assert!(rest["next_cursor"].is_null());

    let path = format!("/api/v1/endpoints/{}", ids[0]);
    let patch = json!({"enabled": false, "timeout_secs": 5, "filter_types": ["graph.user.*", "endpoint.*"], "rate_limit_per_sec": 10});
    let contoso = app.as_tenant(&key);
    let (_, updated) = contoso.patch_endpoint(&ids[0], patch).await;
    assert_eq!(updated["status"], "disabled");
    assert_eq!(updated["disabled_reason"], "by_tenant");
    assert_eq!(updated["timeout_secs"], 5);
    assert_eq!(updated["rate_limit_per_sec"], 10);
    let (status, _) = app.as_tenant(&key).post(&format!("{path}/test")).await;
    assert_eq!(status, 409, "a disabled endpoint gets nothing");
    let (_, enabled) = contoso
        .patch_endpoint(&ids[0], json!({"enabled": true}))
        .await;
    assert_eq!(enabled["status"], "active");

    // `null` clears the rate limit; a setting that cannot be cleared refuses `null`.
    let (status, cleared) = contoso
        .patch_endpoint(&ids[0], json!({"rate_limit_per_sec": null}))
        .await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared["rate_limit_per_sec"].is_null(), "{cleared}");
    let (_, shown) = contoso.get(&path).await;
    assert!(shown["rate_limit_per_sec"].is_null(), "{shown}");
    for field in [
        "url",
        "description",
        "filter_types",
        "headers",
        "timeout_secs",
        "max_in_flight",
        "enabled",
    ] {
        let mut body = serde_json::Map::new();
        body.insert(field.to_owned(), serde_json::Value::Null);
        let (status, error) = contoso.patch_endpoint(&ids[0], body.into()).await;
        assert_eq!(status, 422, "{field}: {error}");
        assert_eq!(error["details"]["rule"], "json_type", "{field}: {error}");
    }

    for (body, field) in [
        (json!({"timeout_secs": 31}), "timeout_secs"),
        (json!({"headers": {"Webhook-Id": "x"}}), "headers"),
        (
            json!({"headers": {"Transfer-Encoding": "chunked"}}),
            "headers",
        ),
        (json!({"filter_types": ["graph.mail.*"]}), "filter_types"),
        (json!({"max_in_flight": 0}), "max_in_flight"),
    ] {
        let (status, error) = contoso.patch_endpoint(&ids[0], body).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["details"]["field"], field, "{error}");
    }

    assert_eq!(
        app.as_tenant(&key).status_of(Method::DELETE, &path).await,
        204
    );
    assert_eq!(app.as_tenant(&key).get(&path).await.0, 404);
    use sea_orm::{EntityTrait, QueryOrder};
    let events: Vec<String> =
        graphhook_domain::platform::entities::operational_event::Entity::find()
            .order_by_asc(graphhook_domain::platform::entities::operational_event::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
    for expected in [
        "endpoint.created",
        "endpoint.disabled",
        "endpoint.updated",
        "endpoint.deleted",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} recorded: {events:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_endpoint_times_out_within_its_timeout() {
    let (app, key) = onboarded_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (_, endpoint) =
        create_endpoint(&app, &key, json!({"url": receiver.url, "timeout_secs": 1})).await;
    let id = endpoint["id"].as_str().unwrap();
    receiver.set_mode(Mode::Slow(Duration::from_millis(2_500)));
    let (status, test) = app.as_tenant(&key).test_endpoint(&id).await;
    assert_eq!(status, 200);
    assert_eq!(test["delivered"], false);
    assert_eq!(test["error"]["class"], "timeout", "{test}");
}
