//! Users Graph cannot find (§1.2, §7.2): a subscription to the mailbox or OneDrive of a user
//! who is not in the tenant's directory is refused (unless `unknown_users = "accept"`), and a
//! mailbox owner removed from the directory leaves subscriptions Graph can no longer get or
//! delete.

use reqwest::Method;
use serde_json::{Value, json};

use super::harness::*;
use crate::config::DEFAULT_TENANT_ID;

const GHOST: &str = "00000007-0679-472c-bc2a-692812af3437";

fn on(emu: &Emu, rx: &Receiver, resource: &str) -> Value {
    emu.subscription("updated", &rx.url, resource, 60)
}

/// The status of adding a Contoso user (with a mailbox) through the control API.
async fn add_mailbox(emu: &Emu, id: &str, upn: &str, name: &str) -> u16 {
    let user = json!({"id": id, "user_principal_name": upn, "display_name": name});
    emu.add_user(DEFAULT_TENANT_ID, user).await
}

fn invalid_user(operation: &str, user: &str) -> String {
    format!(
        "Operation: {operation}; Exception: [Status Code: NotFound; Reason: The requested user '{user}@{DEFAULT_TENANT_ID}' is invalid.]"
    )
}

#[actix_web::test]
async fn contoso_has_adele_vances_mailbox() {
    let emu = Emu::spawn().await;
    let tenants = emu.control_json(Method::GET, "/tenants", None).await;
    let adele = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == DEFAULT_TENANT_ID)
        .and_then(|t| {
            t["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == USER)
        })
        .cloned()
        .expect("Contoso has the mailbox user");
    assert_eq!(adele["userPrincipalName"], "adelev@contoso.onmicrosoft.com");
    assert_eq!(adele["displayName"], "Adele Vance");
    assert_eq!(adele["roles"], json!([]));
}

#[actix_web::test]
async fn a_mailbox_or_drive_of_an_unknown_user_is_refused_unless_accepted() {
    let emu = Emu::spawn().await;
    let (token, rx) = emu.subscriber().await;
    let mut created = json!({"changeType": "created", "notificationUrl": rx.url,
        "resource": format!("users/{GHOST}/messages"), "expirationDateTime": emu.expires_in(60)});
    for resource in [
        format!("users/{GHOST}/messages"),
        format!("users/{GHOST}/mailFolders('inbox')/messages"),
        format!("users/{GHOST}/events"),
        format!("users/{GHOST}/contacts"),
        "users/$U/messages".to_owned(),
    ] {
        created["resource"] = json!(resource);
        let (status, code, message) = emu.create_error(&token, created.clone()).await;
        let user = resource.split('/').nth(1).unwrap().to_lowercase();
        assert_eq!(
            (status, code.as_str(), message),
            (404, "ExtensionError", invalid_user("Create", &user)),
            "{resource}"
        );
    }
    let drive = on(&emu, &rx, &format!("users/{GHOST}/drive/root"));
    let (status, code, _) = emu.create_error(&token, drive.clone()).await;
    assert_eq!((status, code.as_str()), (404, "ExtensionError"));
    assert!(rx.seen().is_empty(), "refused before the handshake");

    // Known users, by id or UPN, are fine.
    for resource in [
        format!("users/{USER}/messages"),
        "users/AdeleV@contoso.onmicrosoft.com/events".to_owned(),
    ] {
        created["resource"] = json!(resource);
        assert_eq!(emu.create_status(&token, created.clone()).await, 201);
    }
    // A user added through the control API has a mailbox at once.
    assert_eq!(
        add_mailbox(&emu, GHOST, "ghost@contoso.onmicrosoft.com", "Ghost").await,
        201
    );
    created["resource"] = json!(format!("users/{GHOST}/contacts"));
    assert_eq!(emu.create_status(&token, created.clone()).await, 201);

    // `accept`: any mailbox, as before.
    emu.behaviour(json!({"unknown_users": "accept"})).await;
    created["resource"] = json!("users/00000042-0679-472c-bc2a-692812af3437/messages");
    assert_eq!(emu.create_status(&token, created).await, 201);
}

#[actix_web::test]
async fn unknown_users_is_a_behaviour_switch() {
    let emu = Emu::spawn_with(|c| {
        c.behaviour.unknown_users = crate::config::UnknownUsers::Accept;
    })
    .await;
    let behaviour = emu.control_json(Method::GET, "/behaviour", None).await;
    assert_eq!(behaviour["unknown_users"], "accept");
    assert_eq!(
        emu.behaviour_status(json!({"unknown_users": "maybe"}))
            .await,
        400
    );
    emu.behaviour(json!({"unknown_users": "refuse"})).await;
}

#[actix_web::test]
async fn a_removed_mailbox_owner_leaves_subscriptions_graph_cannot_get_or_delete() {
    let emu = Emu::spawn().await;
    let sub = emu.subscribed().await;

    let adele = format!("users/{USER}");
    let remove = || emu.tenant_call(Method::DELETE, DEFAULT_TENANT_ID, &adele);
    assert_eq!(remove().await, 200);
    assert_eq!(remove().await, 404, "again");

    // §1.2 GET (Obs): the storage extension error.
    expect_graph_error(
        emu.graph(Method::GET, &sub.path, &sub.token, None).await,
        500,
        "ExtensionError",
        "There was an error processing a storage extension.",
    )
    .await;
    // §1.2 / §7.2 DELETE (Obs): 404 naming the user and the tenant.
    let (status, code, message) =
        graph_error(emu.graph(Method::DELETE, &sub.path, &sub.token, None).await).await;
    assert_eq!(
        (status, code.as_str(), message),
        (404, "ExtensionError", invalid_user("Delete", USER))
    );
    let renewal = json!({"expirationDateTime": emu.expires_in(120)});
    let (status, _, message) = graph_error(
        emu.graph(Method::PATCH, &sub.path, &sub.token, Some(renewal))
            .await,
    )
    .await;
    assert_eq!((status, message), (404, invalid_user("Update", USER)));
    // The list still shows it (Obs), and new subscriptions on the mailbox are refused.
    let listed = emu
        .graph_json(Method::GET, "/subscriptions", &sub.token, None)
        .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    let mut body = message_subscription(&emu, &sub.rx.url);
    body["changeType"] = json!("created");
    let (status, _, message) = emu.create_error(&sub.token, body.clone()).await;
    assert_eq!((status, message), (404, invalid_user("Create", USER)));

    // Back in the directory, the mailbox works again.
    assert_eq!(
        add_mailbox(&emu, USER, "adelev@contoso.onmicrosoft.com", "Adele Vance").await,
        201
    );
    assert_eq!(
        emu.graph_status(Method::GET, &sub.path, &sub.token).await,
        200
    );
    assert_eq!(
        emu.graph_status(Method::DELETE, &sub.path, &sub.token)
            .await,
        204
    );
}
