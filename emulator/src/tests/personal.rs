//! Personal Microsoft accounts: the consumers tenant, who may sign in where, the app's
//! sign-in audience, self-consent, and a personal OneDrive's subscriptions and notifications.

use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, inbox::*, oidc_client::*};
use crate::{
    config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID},
    state::personal::{ALICE_ID, ALICE_UPN, CONSUMERS_TENANT, personal_drive_id},
};

const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const CONTOSO_USER: &str = "user@contoso.onmicrosoft.com";

#[actix_web::test]
async fn organizations_admits_work_accounts_consumers_personal_ones_and_common_both() {
    let emu = Emu::spawn().await;
    assert_eq!(CONSUMERS_TENANT.to_string(), CONSUMERS);
    // Alice is seeded in the consumers tenant ("Microsoft Accounts").
    let tenants = emu.control_json(Method::GET, "/tenants", None).await;
    let consumers = tenant_entry(&tenants, CONSUMERS);
    assert_eq!(consumers["domain"], "consumers");
    assert_eq!(consumers["displayName"], "Microsoft Accounts");
    assert_eq!(consumers["users"][0]["userPrincipalName"], ALICE_UPN);
    assert_eq!(consumers["users"][0]["displayName"], "Alice Personal");

    for segment in ["consumers", "common", CONSUMERS] {
        let body = user_tokens(&emu, ALICE_UPN, segment, "openid profile User.Read").await;
        let claims = verified_id_token(&emu, body["id_token"].as_str().unwrap(), CONSUMERS).await;
        assert_eq!(claims["tid"], CONSUMERS, "{segment}");
        assert_eq!(
            claims["iss"],
            format!("{}/{CONSUMERS}/v2.0", emu.emu.base_url)
        );
        assert_eq!(claims["oid"], ALICE_ID.to_string());
        assert_eq!(claims["preferred_username"], ALICE_UPN);
        assert!(claims.get("wids").is_none(), "no directory roles");
        let access = claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(access["tid"], CONSUMERS);
        assert_eq!(access["scp"], "User.Read openid profile");
    }
    // A work account at consumers, a personal one at organizations or a work tenant: refused.
    for (user, segment, code) in [
        (CONTOSO_USER, "consumers", "AADSTS50034"),
        (ALICE_UPN, "organizations", "AADSTS500200"),
        (ALICE_UPN, DEFAULT_TENANT_ID, "AADSTS500200"),
    ] {
        emu.behaviour(json!({"auto_sign_in_user": user})).await;
        let response = get(&emu, &authorize_url(&emu, segment, &[])).await;
        assert_eq!(response.status().as_u16(), 400, "{user} at {segment}");
        assert!(response.text().await.unwrap().contains(code), "{user}");
    }
    // Work accounts still sign in at organizations and common.
    user_tokens(&emu, CONTOSO_USER, "common", "openid").await;

    // The sign-in page lists whom the segment admits.
    emu.behaviour(json!({"auto_sign_in_user": null})).await;
    let page = |segment: &'static str| {
        let emu = &emu;
        async move {
            get(emu, &authorize_url(emu, segment, &[]))
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let organizations = page("organizations").await;
    assert!(organizations.contains(CONTOSO_USER) && !organizations.contains(ALICE_UPN));
    let personal = page("consumers").await;
    assert!(personal.contains(ALICE_UPN) && !personal.contains(CONTOSO_USER));
    let common = page("common").await;
    assert!(common.contains(ALICE_UPN) && common.contains(CONTOSO_USER));
}

#[actix_web::test]
async fn an_app_for_organizations_only_refuses_personal_accounts() {
    let emu = Emu::spawn().await;
    let audience = |value: &str| emu.patch_app(json!({ "sign_in_audience": value }));
    assert_eq!(audience("PersonalOnly").await.0, 400);
    let (_, app) = audience("AzureADMultipleOrgs").await;
    assert_eq!(app["sign_in_audience"], "AzureADMultipleOrgs");

    for segment in ["consumers", "common"] {
        let back = sign_in_back(&emu, ALICE_UPN, segment, "openid").await;
        assert!(back.as_str().starts_with(SIGNED_IN), "{back}");
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("unauthorized_client")
        );
        assert_eq!(param(&back, "state").as_deref(), Some(STATE));
        assert!(param(&back, "code").is_none());
        let description = param(&back, "error_description").unwrap();
        assert!(
            description.starts_with(
                "AADSTS700016: The client does not exist or is not enabled for consumers."
            ),
            "{description}"
        );
    }
    // Work accounts are unaffected.
    user_tokens(&emu, CONTOSO_USER, "common", "openid").await;
    audience("AzureADandPersonalMicrosoftAccount").await;
    user_tokens(&emu, ALICE_UPN, "consumers", "openid").await;
}

#[actix_web::test]
async fn personal_accounts_consent_for_themselves_but_get_no_all_permissions() {
    let emu = Emu::spawn().await;
    let body = user_tokens(
        &emu,
        ALICE_UPN,
        "consumers",
        "openid offline_access Files.ReadWrite Mail.Read",
    )
    .await;
    assert_eq!(body["scope"], "Files.ReadWrite Mail.Read openid");

    let back = sign_in_back(&emu, ALICE_UPN, "consumers", "openid Group.Read.All").await;
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"));
    let description = param(&back, "error_description").unwrap();
    assert!(description.starts_with("AADSTS70011:"), "{description}");
    assert!(description.contains("Group.Read.All"));

    // `.default`: the registration's permissions a personal account can have.
    let default = user_tokens(
        &emu,
        ALICE_UPN,
        "consumers",
        "https://graph.microsoft.com/.default",
    )
    .await;
    assert_eq!(
        default["scope"],
        "User.Read Mail.Read Calendars.Read Contacts.Read Files.ReadWrite"
    );

    // A permission the registration does not list.
    let back = sign_in_back(&emu, ALICE_UPN, "consumers", "openid Tasks.ReadWrite").await;
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"));
    assert!(
        param(&back, "error_description")
            .unwrap()
            .starts_with("AADSTS650053:")
    );

    // Personal tokens refresh at consumers and common, not at organizations.
    let renewed = refresh_ok(&emu, "consumers", &body).await;
    let renewed = refresh_ok(&emu, "common", &renewed).await;
    let refused = refresh_refused(&emu, "organizations", &renewed).await;
    assert_eq!(refused["error"], "invalid_grant");
}

#[actix_web::test]
async fn the_consumers_tenant_is_no_organization() {
    let emu = Emu::spawn().await;
    let consent = emu.consent(CONSUMERS, None).await;
    assert_eq!(consent.status().as_u16(), 400);
    let app_only = emu.secret_token_response(CONSUMERS).await;
    assert_ne!(app_only.status().as_u16(), 200);
    let app_only = emu.secret_token_response("consumers").await;
    assert_eq!(app_only.status().as_u16(), 400);
    emu.behaviour(json!({"consent_mode": "auto_accept"})).await;
    let response = get(
        &emu,
        &emu.url(&format!(
            "/consumers/adminconsent?client_id={DEFAULT_CLIENT_ID}&redirect_uri=http://127.0.0.1:8080/onboarding/callback"
        )),
    )
    .await;
    assert_eq!(response.status().as_u16(), 400, "an error page, no consent");
    // More personal users can be added.
    assert_eq!(
        emu.add_user(
            CONSUMERS,
            json!({"user_principal_name": "bob@hotmail.com", "display_name": "Bob"})
        )
        .await,
        201
    );
    user_tokens(&emu, "bob@hotmail.com", "consumers", "openid").await;
}

#[actix_web::test]
async fn a_personal_drive_folder_subscription_hears_changes_with_the_consumers_tenant_id() {
    let emu = Emu::spawn().await;
    let body = user_tokens(&emu, ALICE_UPN, "consumers", "openid Files.ReadWrite").await;
    let token = body["access_token"].as_str().unwrap().to_owned();

    let drive = emu.graph_json(Method::GET, "/me/drive", &token, None).await;
    let drive_id = personal_drive_id(ALICE_ID);
    assert_eq!(drive["id"], drive_id);
    assert_eq!(drive["driveType"], "personal");
    assert_eq!(drive["owner"]["user"]["id"], ALICE_ID.to_string());
    assert_eq!(drive["owner"]["user"]["displayName"], "Alice Personal");
    assert_eq!(drive_id.len(), 16);
    let without_files = user_tokens(&emu, ALICE_UPN, "consumers", "Mail.Read").await;
    let (status, code, _) = graph_error(
        emu.graph(
            Method::GET,
            "/me/drive",
            without_files["access_token"].as_str().unwrap(),
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "accessDenied"));

    let inbox = inbox();
    let create = |resource: String, change_type: &str, minutes: i64| {
        let mut body = emu.subscription(change_type, &inbox.url, &resource, minutes);
        body["clientState"] = json!("drive-state");
        body
    };
    let folder = emu
        .subscribe(
            &token,
            create(
                format!("drives/{drive_id}/items/FOLDER1"),
                "updated",
                42_300,
            ),
        )
        .await;
    assert_eq!(folder["creatorId"], ALICE_ID.to_string());
    assert_eq!(
        folder["resource"],
        format!("drives/{drive_id}/items/FOLDER1")
    );
    let root = emu
        .subscribe(&token, create("me/drive/root".into(), "updated", 60))
        .await;
    assert_eq!(root["resource"], "me/drive/root");
    for (resource, change_type, minutes, status) in [
        ("me/drive/root".to_owned(), "created", 60, 400),
        ("me/drive/items/F2".to_owned(), "updated", 42_301, 400),
        (
            "drives/0123456789abcdef/root".to_owned(),
            "updated",
            60,
            403,
        ),
        (
            "users/someone@outlook.com/drive/root".to_owned(),
            "updated",
            60,
            403,
        ),
        ("groups/g1/conversations".to_owned(), "created", 60, 400),
        ("me/messages".to_owned(), "created", 60, 403),
    ] {
        let (got, _, message) = emu
            .create_error(&token, create(resource.clone(), change_type, minutes))
            .await;
        assert_eq!(got, status, "{resource}: {message}");
    }

    // A change in the folder reaches the folder's and the root's subscriptions…
    let queued = emu
        .change(change_of(
            "consumers",
            &format!("drives/{drive_id}/items/FOLDER1"),
            "updated",
        ))
        .await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    // …one at the root (named by the user's address) only the root's.
    let queued = emu
        .change(change_of(
            CONSUMERS,
            &format!("users/{ALICE_UPN}/drive/root"),
            "updated",
        ))
        .await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["subscriptionId"], root["id"]);

    let posts = inbox.wait_for_posts(1).await;
    let items: Vec<Value> = posts
        .iter()
        .flat_map(|p| p.body["value"].as_array().unwrap().clone())
        .collect();
    assert!(!items.is_empty());
    for item in &items {
        assert_eq!(item["tenantId"], CONSUMERS);
        assert_eq!(item["changeType"], "updated");
        assert_eq!(item["clientState"], "drive-state");
    }
}
