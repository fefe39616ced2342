//! Exchange application access policies (§6.2): an app kept out of a mailbox gets 403
//! `ExtensionError` on the Outlook subscriptions of that mailbox, in §7.2's form.

use reqwest::Method;
use serde_json::json;

use super::{counters::calls, harness::*};

fn refused(operation: &str) -> String {
    format!("Operation: {operation}; Exception: [Status Code: Forbidden; Reason: Forbidden]")
}

#[actix_web::test]
async fn every_operation_on_a_blocked_mailboxs_subscription_is_forbidden() {
    let emu = Emu::spawn_with(accept_unknown_users).await;
    let (token, rx) = emu.subscriber().await;
    let sub = |resource: String| emu.subscription("created", &rx.url, &resource, 60);
    let created = emu
        .create_json(&token, message_subscription(&emu, &rx.url))
        .await;
    let path = format!("/subscriptions/{}", created["id"].as_str().unwrap());
    let elsewhere = emu
        .create_json(&token, sub("users/another-user/events".into()))
        .await;
    let handshakes = rx.seen().len();

    // The policy names the mailbox in other casing than the resource path.
    emu.behaviour(json!({"blocked_mailboxes": [USER.to_uppercase()]}))
        .await;
    let renewal = json!({"expirationDateTime": emu.expires_in(120)});
    for (method, path, body, operation) in [
        (Method::GET, path.clone(), None, "Get"),
        (Method::PATCH, path.clone(), Some(renewal), "Update"),
        (
            Method::POST,
            format!("{path}/reauthorize"),
            None,
            "Reauthorize",
        ),
        (Method::DELETE, path.clone(), None, "Delete"),
    ] {
        let (status, code, message) =
            graph_error(emu.graph(method, &path, &token, body).await).await;
        assert_eq!(
            (status, code.as_str(), message),
            (403, "ExtensionError", refused(operation))
        );
    }
    for resource in [
        format!("users/{USER}/events"),
        format!("users/{}/contactFolders/f1/contacts", USER.to_uppercase()),
    ] {
        let (status, code, message) = emu.create_error(&token, sub(resource)).await;
        assert_eq!(
            (status, code.as_str(), message),
            (403, "ExtensionError", refused("Create"))
        );
    }
    assert_eq!(
        rx.seen().len(),
        handshakes,
        "no handshake for a refused create"
    );
    let stats = calls(&emu).await;
    assert_eq!(stats["byStatus"]["403"], 6, "{stats}");

    // Nothing changed: the subscription is still there, neither renewed nor reauthorized.
    let listed = emu.control_json(Method::GET, "/subscriptions", None).await;
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subscription"]["id"] == created["id"])
        .unwrap();
    assert_eq!(
        (
            &entry["state"]["renewals"],
            &entry["state"]["reauthorizations"]
        ),
        (&json!(0), &json!(0))
    );
    assert_eq!(
        entry["subscription"]["expirationDateTime"],
        created["expirationDateTime"]
    );

    // Other mailboxes, and the user as a directory object, are not behind the policy.
    let other = format!("/subscriptions/{}", elsewhere["id"].as_str().unwrap());
    assert_eq!(emu.graph_status(Method::GET, &other, &token).await, 200);
    let user = emu.subscription("updated", &rx.url, &format!("users/{USER}"), 60);
    assert_eq!(emu.create_status(&token, user).await, 201);

    // Lifting the policy gives access back.
    emu.behaviour(json!({"blocked_mailboxes": []})).await;
    assert_eq!(emu.graph_status(Method::GET, &path, &token).await, 200);
    assert_eq!(emu.graph_status(Method::DELETE, &path, &token).await, 204);
}

#[actix_web::test]
async fn an_outage_answers_every_subscription_call_until_it_ends() {
    let emu = Emu::spawn().await;
    let sub = emu.subscribed().await;
    emu.behaviour(json!({"outage_status": 503})).await;
    let renewal = json!({"expirationDateTime": emu.expires_in(120)});
    let (status, code, _) = graph_error(
        emu.graph(Method::PATCH, &sub.path, &sub.token, Some(renewal.clone()))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (503, "serviceNotAvailable"));
    emu.behaviour(json!({"outage_status": null})).await;
    let response = emu
        .graph(Method::PATCH, &sub.path, &sub.token, Some(renewal))
        .await;
    assert_eq!(response.status(), 200);
}
