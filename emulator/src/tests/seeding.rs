//! `POST /_emulator/subscriptions`: bulk seeding for benchmarks, owned by the emulator's app,
//! without the handshake, rate limit, duplicate rule or quotas, with the resource and lifetime
//! rules.

use reqwest::Method;
use serde_json::{Value, json};

use super::harness::*;
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

async fn seed(emu: &Emu, body: Value) -> (u16, Value) {
    let response = emu
        .control(Method::POST, "/subscriptions", Some(body))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A refused seeding's status and error message.
async fn seed_error(emu: &Emu, body: Value) -> (u16, String) {
    let (status, body) = seed(emu, body).await;
    (status, body["error"].as_str().unwrap().to_owned())
}

async fn listing(emu: &Emu) -> Vec<Value> {
    emu.control(Method::GET, "/subscriptions", None)
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

fn users(emu: &Emu, url: &str) -> Value {
    emu.subscription("updated,deleted", url, "users", 60)
}

#[actix_web::test]
async fn seeded_subscriptions_belong_to_the_app_in_the_tenant_and_skip_the_handshake() {
    let emu = Emu::spawn().await;
    let rx = receiver(Answer::Echo);
    let message = json!({
        "resource": format!("users/{USER}/mailFolders('inbox')/messages"),
        "changeType": "created,updated",
        "notificationUrl": rx.url,
        "lifecycleNotificationUrl": "https://relay.example.com/graph/lifecycle",
        "clientState": "seeded-state",
        "expirationDateTime": emu.expires_in(4_230),
    });
    // The same resource and changeType twice, past the 100 directory subscriptions per app.
    let mut subscriptions = vec![message];
    subscriptions.extend((0..101).map(|_| users(&emu, "https://relay.example.com/graph/notify")));
    let (status, body) = seed(
        &emu,
        json!({"tenant": DEFAULT_TENANT_ID, "subscriptions": subscriptions}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ids: Vec<&str> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 102);
    assert!(
        ids.iter()
            .all(|id| uuid::Uuid::parse_str(id).is_ok()
                && ids.iter().filter(|i| *i == id).count() == 1),
        "distinct GUIDs"
    );
    assert!(rx.seen().is_empty(), "no validation handshake");

    // The app sees them through Graph, as if it had created them; the ids keep the order.
    let token = emu.token().await;
    let path = |i: usize| format!("/subscriptions/{}", ids[i]);
    let response = emu.graph(Method::GET, &path(0), &token, None).await;
    assert_eq!(response.status().as_u16(), 200);
    let first: Value = response.json().await.unwrap();
    assert_eq!(
        (
            &first["resource"],
            &first["changeType"],
            &first["applicationId"],
            &first["creatorId"],
        ),
        (
            &json!(format!("users/{USER}/mailFolders('inbox')/messages")),
            &json!("created,updated"),
            &json!(DEFAULT_CLIENT_ID),
            &claims_of(&token)["oid"],
        )
    );
    assert_eq!(
        (
            &first["clientState"],
            &first["lifecycleNotificationUrl"],
            &first["notificationUrl"],
        ),
        (
            &json!("seeded-state"),
            &json!("https://relay.example.com/graph/lifecycle"),
            &json!(rx.url),
        )
    );
    assert_eq!(
        first["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(4_230))
            .format("%Y-%m-%dT%H:%M:%S.0000000Z")
            .to_string()
    );
    let second = emu.graph_json(Method::GET, &path(1), &token, None).await;
    assert_eq!(second["resource"], "users");
    let listed = emu
        .graph_json(Method::GET, "/subscriptions", &token, None)
        .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 102);

    // Seeding is not a call to Graph: nothing counted, no rate budget used.
    let calls = emu.control_json(Method::GET, "/calls", None).await;
    assert_eq!(calls["byOperation"]["create"], 0);

    // Renewing a seeded subscription works like renewing any other.
    let renewed = emu
        .graph(
            Method::PATCH,
            &path(0),
            &token,
            Some(json!({"expirationDateTime": emu.expires_in(120)})),
        )
        .await;
    assert_eq!(renewed.status().as_u16(), 200);
}

#[actix_web::test]
async fn seeding_refuses_an_unknown_tenant_one_without_the_app_and_bad_subscriptions_whole() {
    let emu = Emu::spawn().await;
    let url = "https://relay.example.com/graph/notify";
    let unknown = uuid::Uuid::new_v4();
    let in_tenant = |tenant: Value| json!({"tenant": tenant, "subscriptions": [users(&emu, url)]});
    let refused = seed_error(&emu, in_tenant(json!(unknown))).await;
    assert_eq!(refused, (404, format!("tenant {unknown} not found")));

    // Fabrikam has not consented: the app has no service principal there.
    let (status, error) = seed_error(&emu, in_tenant(json!(NEW_TENANT))).await;
    assert_eq!(status, 400);
    assert!(error.contains("has no service principal"), "{error}");

    let cases = [
        (
            emu.subscription("updated", url, "users/abc/calendar", 60),
            "subscriptions[1]: Resource 'users/abc/calendar' is not supported for subscriptions.",
        ),
        (
            too_long_users(&emu, url),
            "subscriptions[1]: Subscription expiration can only be 41760 minutes in the future.",
        ),
        (
            emu.subscription("created", url, "users", 60),
            "subscriptions[1]: ChangeType 'created' is not supported for resource 'users'. Supported change types: updated,deleted.",
        ),
    ];
    for (bad, message) in cases {
        let refused = seed_error(
            &emu,
            json!({"tenant": DEFAULT_TENANT_ID, "subscriptions": [users(&emu, url), bad]}),
        )
        .await;
        assert_eq!(refused, (400, message.to_owned()));
    }
    let (status, error) = seed_error(
        &emu,
        json!({"tenant": DEFAULT_TENANT_ID, "subscriptions": [{"resource": "users", "changeType": "updated", "notificationUrl": url}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error.contains("expirationDateTime"), "{error}");
    let not_json = emu
        .client
        .post(emu.url("/_emulator/subscriptions"))
        .header("content-type", "application/json")
        .body("{\"tenant\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert!(body["error"].as_str().is_some(), "{body}");
    assert!(listing(&emu).await.is_empty(), "nothing was created");

    // Under the clamp policy an expiration past the maximum is cut to it, as on create.
    emu.behaviour(json!({"lifetime_policy": "clamp"})).await;
    let (status, body) = seed(
        &emu,
        json!({"tenant": DEFAULT_TENANT_ID, "subscriptions": [too_long_users(&emu, url)]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let seeded = listing(&emu).await;
    assert_eq!(
        seeded[0]["subscription"]["expirationDateTime"],
        (emu.clock.now() + chrono::Duration::minutes(41_760))
            .format("%Y-%m-%dT%H:%M:%S.0000000Z")
            .to_string()
    );

    // A service principal without grants is enough to own subscriptions.
    emu.control(
        Method::POST,
        &format!("/tenants/{NEW_TENANT}/service-principal"),
        None,
    )
    .await;
    let (status, body) = seed(
        &emu,
        json!({"tenant": NEW_TENANT, "subscriptions": [users(&emu, url)]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let tenants = emu.control_json(Method::GET, "/tenants", None).await;
    let fabrikam = tenant_entry(&tenants, NEW_TENANT);
    let entry = listing(&emu)
        .await
        .into_iter()
        .find(|e| e["subscription"]["id"] == body["ids"][0])
        .unwrap();
    assert_eq!(
        (
            &entry["state"]["tenantId"],
            &entry["subscription"]["creatorId"]
        ),
        (
            &json!(NEW_TENANT),
            &fabrikam["servicePrincipal"]["objectId"]
        )
    );
}

fn too_long_users(emu: &Emu, url: &str) -> Value {
    emu.subscription("updated,deleted", url, "users", 50_000)
}
