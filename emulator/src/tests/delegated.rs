//! Work and school users: delegated consent (tenant-wide grants for `*.All`), delegated Graph
//! subscriptions (own mailbox only, group conversations, ownership), and SharePoint site drives.

use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, inbox::*, oidc_client::*};
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

const CONTOSO_USER: &str = "user@contoso.onmicrosoft.com";
const FABRIKAM_USER: &str = "user@fabrikam.onmicrosoft.com";

async fn access_token(emu: &Emu, user: &str, scope: &str) -> String {
    let body = user_tokens(emu, user, "organizations", scope).await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// Where Fabrikam's user lands after signing in for `openid Group.Read.All`.
async fn fabrikam_group_sign_in(emu: &Emu) -> url::Url {
    sign_in_back(emu, FABRIKAM_USER, "organizations", "openid Group.Read.All").await
}

#[actix_web::test]
async fn admin_permissions_need_the_tenant_wide_grant_as_it_was_at_consent() {
    let emu = Emu::spawn().await;
    // Fabrikam has not consented: user permissions work, `*.All` ones do not.
    user_tokens(
        &emu,
        FABRIKAM_USER,
        "organizations",
        "openid Mail.Read Files.ReadWrite",
    )
    .await;
    let back = fabrikam_group_sign_in(&emu).await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&back, "state").as_deref(), Some(STATE));
    let expected = format!(
        "AADSTS65001: The user or administrator has not consented to use the application with ID '{DEFAULT_CLIENT_ID}' named 'Graphhook'. Send an interactive authorization request for this user and resource."
    );
    assert!(
        param(&back, "error_description")
            .unwrap()
            .starts_with(&expected)
    );

    // The admin consents while the registration lacks Group.Read.All…
    let without: Vec<&str> = crate::config::DEFAULT_DELEGATED_PERMISSIONS
        .into_iter()
        .filter(|p| *p != "Group.Read.All")
        .collect();
    let patched = emu
        .patch_app(json!({ "delegated_permissions": without }))
        .await;
    assert_eq!(patched.0, 200);
    let back = fabrikam_group_sign_in(&emu).await;
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("invalid_scope"),
        "not on the registration"
    );
    assert!(
        param(&back, "error_description")
            .unwrap()
            .starts_with("AADSTS650053:")
    );
    let consented: Value = emu.consent(NEW_TENANT, None).await.json().await.unwrap();
    assert_eq!(
        consented["servicePrincipal"]["delegatedGrants"],
        json!(without)
    );
    // …then the permission is added: the tenant lacks it until consent is granted again.
    emu.patch_app(json!({"delegated_permissions": crate::config::DEFAULT_DELEGATED_PERMISSIONS}))
        .await;
    let back = fabrikam_group_sign_in(&emu).await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    emu.consent(NEW_TENANT, None).await;
    let body = user_tokens(
        &emu,
        FABRIKAM_USER,
        "organizations",
        "openid Group.Read.All",
    )
    .await;
    assert_eq!(body["scope"], "Group.Read.All openid");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["scp"],
        "Group.Read.All openid"
    );
    // Revoking consent removes the grant again.
    emu.control(
        Method::DELETE,
        &format!("/tenants/{NEW_TENANT}/consent?mode=grants"),
        None,
    )
    .await;
    let back = fabrikam_group_sign_in(&emu).await;
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
}

#[actix_web::test]
async fn a_delegated_mail_subscription_reaches_only_the_users_own_mailbox() {
    let emu = Emu::spawn().await;
    let token = access_token(&emu, CONTOSO_USER, "openid Mail.Read").await;
    let oid = user_id(&emu, CONTOSO_USER).await;
    let admin = user_id(&emu, CONTOSO_ADMIN).await;
    let inbox = inbox();
    let create = |resource: String, change_type: &str| {
        emu.subscription(change_type, &inbox.url, &resource, 60)
    };
    let me = emu
        .subscribe(&token, create("me/messages".into(), "created,updated"))
        .await;
    assert_eq!(me["creatorId"], oid, "the signed-in user");
    assert_eq!(me["resource"], "me/messages", "as the caller wrote it");
    let by_upn = emu
        .subscribe(
            &token,
            create(
                format!("users/{CONTOSO_USER}/mailFolders('inbox')/messages"),
                "created",
            ),
        )
        .await;
    let (status, code, message) = emu
        .create_error(&token, create(format!("users/{admin}/messages"), "created"))
        .await;
    assert_eq!((status, code.as_str()), (403, "ExtensionError"));
    assert_eq!(
        message,
        "Operation: Create; Exception: [Status Code: Forbidden; Reason: Forbidden]"
    );
    // Events need Calendars.Read, which this token does not hold.
    let (status, _, message) = emu
        .create_error(&token, create("me/events".into(), "created"))
        .await;
    assert_eq!(status, 403);
    assert!(message.contains("Calendars.Read"), "{message}");

    // A change in the user's inbox reaches both, in Graph's resource form.
    let queued = emu
        .change(change_of(
            DEFAULT_TENANT_ID,
            &format!("users/{oid}/mailFolders('inbox')/messages"),
            "created",
        ))
        .await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    let posts = inbox.wait_for_posts(1).await;
    let item = posts[0].body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["subscriptionId"] == me["id"])
        .unwrap()
        .clone();
    let id = item["resourceData"]["id"].as_str().unwrap();
    assert_eq!(item["resource"], format!("Users/{oid}/Messages/{id}"));
    assert_eq!(item["tenantId"], DEFAULT_TENANT_ID);
    // Another user's mail is not theirs.
    let queued = emu
        .change(change_of(
            DEFAULT_TENANT_ID,
            &format!("users/{admin}/messages"),
            "created",
        ))
        .await;
    assert!(queued.is_empty());
    // The same resource for two users is no duplicate.
    let admin_token = access_token(&emu, CONTOSO_ADMIN, "Mail.Read").await;
    emu.subscribe(
        &admin_token,
        create("me/messages".into(), "created,updated"),
    )
    .await;
    assert_eq!(by_upn["creatorId"], oid);
}

#[actix_web::test]
async fn group_conversations_need_a_delegated_group_read_all() {
    let emu = Emu::spawn().await;
    let inbox = inbox();
    let conversations = "groups('g1')/conversations";
    let create = |minutes: i64| {
        emu.subscription(
            "created,updated,deleted",
            &inbox.url,
            conversations,
            minutes,
        )
    };
    let app_only = emu.token().await;
    let (status, code, _) = emu.create_error(&app_only, create(60)).await;
    assert_eq!((status, code.as_str()), (403, "ExtensionError"));
    let mail_only = access_token(&emu, CONTOSO_USER, "Mail.Read").await;
    assert_eq!(emu.create_error(&mail_only, create(60)).await.0, 403);

    let token = access_token(&emu, CONTOSO_USER, "openid Group.Read.All").await;
    let (status, _, message) = emu.create_error(&token, create(4_231)).await;
    assert_eq!(status, 400);
    assert_eq!(
        message,
        "Subscription expiration can only be 4230 minutes in the future."
    );
    let subscription = emu.subscribe(&token, create(4_230)).await;
    assert_eq!(subscription["resource"], "groups('g1')/conversations");

    let queued = emu
        .change(change_of(
            DEFAULT_TENANT_ID,
            "groups/g1/conversations",
            "created",
        ))
        .await;
    assert_eq!(queued.len(), 1);
    let posts = inbox.wait_for_posts(1).await;
    let item = &posts[0].body["value"][0];
    let cid = item["resourceData"]["id"].as_str().unwrap();
    assert_eq!(item["subscriptionId"], subscription["id"]);
    assert_eq!(
        item["resource"],
        format!("groups('g1')/conversations('{cid}')")
    );
    assert_eq!(
        item["resourceData"],
        json!({"@odata.type": "#Microsoft.Graph.Conversation",
               "@odata.id": format!("groups('g1')/conversations('{cid}')"), "id": cid})
    );
    assert_eq!(item["tenantId"], DEFAULT_TENANT_ID);
}

#[actix_web::test]
async fn only_its_user_may_change_a_delegated_subscription() {
    let emu = Emu::spawn().await;
    let owner = access_token(&emu, CONTOSO_USER, "Mail.Read").await;
    let other = access_token(&emu, CONTOSO_ADMIN, "Mail.Read").await;
    let app_only = emu.token().await;
    let inbox = inbox();
    let subscription = emu
        .subscribe(
            &owner,
            emu.subscription("created", &inbox.url, "me/messages", 60),
        )
        .await;
    let path = format!("/subscriptions/{}", subscription["id"].as_str().unwrap());
    let renew = json!({"expirationDateTime": emu.expires_in(120)});
    let reauthorize = format!("{path}/reauthorize");
    for token in [&other, &app_only] {
        for (method, path, body) in [
            (Method::PATCH, &path, Some(renew.clone())),
            (Method::POST, &reauthorize, None),
            (Method::DELETE, &path, None),
        ] {
            let (status, code, _) = graph_error(emu.graph(method, path, token, body).await).await;
            assert_eq!((status, code.as_str()), (403, "ExtensionError"));
        }
    }
    assert_eq!(
        graph_error(emu.graph(Method::GET, &path, &other, None).await)
            .await
            .0,
        403
    );
    // The app may look at it; the other user does not see it in their list.
    let got = emu.graph(Method::GET, &path, &app_only, None).await;
    assert_eq!(got.status().as_u16(), 200);
    let listed = |token: &str| {
        let emu = &emu;
        let token = token.to_owned();
        async move {
            let list = emu
                .graph_json(Method::GET, "/subscriptions", &token, None)
                .await;
            list["value"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed(&app_only).await, 1);
    assert_eq!(listed(&owner).await, 1);
    assert_eq!(listed(&other).await, 0);

    let renewed = emu
        .graph(Method::PATCH, &path, &owner, Some(renew.clone()))
        .await;
    assert_eq!(renewed.status().as_u16(), 200);
    let reauthorized = emu.graph(Method::POST, &reauthorize, &owner, None).await;
    assert_eq!(reauthorized.status().as_u16(), 204);
    let deleted = emu.graph(Method::DELETE, &path, &owner, None).await;
    assert_eq!(deleted.status().as_u16(), 204);
}

#[actix_web::test]
async fn a_site_drive_is_found_by_site_id_and_its_root_subscribed_app_only() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let site = "contoso.sharepoint.com,2c712604-1370-44e7-a1f5-426573fdd5b3,7b16d2a5-8b0c-4f3c-9d3e-2b1a0c9d8e7f";
    let response = emu
        .graph(Method::GET, &format!("/sites/{site}/drive"), &token, None)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let drive: Value = response.json().await.unwrap();
    let drive_id = drive["id"].as_str().unwrap().to_owned();
    assert!(drive_id.starts_with("b!"), "{drive_id}");
    assert_eq!(drive["driveType"], "documentLibrary");
    assert_eq!(drive["name"], "Documents");
    assert!(
        drive["webUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://contoso.sharepoint.com/")
    );
    assert_eq!(drive_id, crate::state::personal::site_drive_id(site));
    // Deterministic, and another site has another drive.
    let again = emu
        .graph_json(Method::GET, &format!("/sites/{site}/drive"), &token, None)
        .await;
    assert_eq!(again["id"], drive_id.as_str());
    let by_id = format!("/sites/{site}/drives/{drive_id}");
    assert_eq!(emu.graph_status(Method::GET, &by_id, &token).await, 200);
    let other_site = "4a6c0d1e-5b2f-4c3d-8e9f-0a1b2c3d4e5f";
    let other = emu
        .graph_json(
            Method::GET,
            &format!("/sites/{other_site}/drive"),
            &token,
            None,
        )
        .await;
    assert_ne!(other["id"], drive_id.as_str());
    let (status, code, _) = graph_error(
        emu.graph(
            Method::GET,
            &format!("/sites/{other_site}/drives/{drive_id}"),
            &token,
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "itemNotFound"));
    let (status, code, _) = graph_error(
        emu.graph(
            Method::GET,
            "/sites/contoso.sharepoint.com,missing,1/drive",
            &token,
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "itemNotFound"));
    // Without a Sites or Files role: 403.
    emu.consent(NEW_TENANT, Some(&["User.Read.All"])).await;
    let limited = emu.token_for(NEW_TENANT).await;
    let (status, code, _) = graph_error(
        emu.graph(Method::GET, &format!("/sites/{site}/drive"), &limited, None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "accessDenied"));

    let inbox = inbox();
    let root = format!("drives/{drive_id}/root");
    let subscription = emu
        .subscribe(
            &token,
            emu.subscription("updated", &inbox.url, &root, 42_300),
        )
        .await;
    let queued = emu
        .change(change_of(DEFAULT_TENANT_ID, &root, "updated"))
        .await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["subscriptionId"], subscription["id"]);
    // `me/drive` needs a signed-in user.
    assert_eq!(
        graph_error(emu.graph(Method::GET, "/me/drive", &token, None).await)
            .await
            .0,
        400
    );
}
