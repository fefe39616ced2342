//! The state file: an emulator restarted on the file another one saved carries on with the same
//! tenants, users, consent, subscriptions and refresh tokens, and tokens signed before still
//! verify; a damaged file starts a fresh world; an unchanged world is not written again.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, inbox::*, oidc_client::*};
use crate::{directory_roles::PRIVILEGED_ROLE_ADMINISTRATOR, persist::snapshot};

const NORTHWIND: &str = "7d6c5b4a-3e2f-4a1b-9c8d-0e1f2a3b4c5d";
const PAT: &str = "pat@northwind.onmicrosoft.com";

/// A directory of its own, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("graphhook-emu-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("state").join("emulator.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn_saving(file: &Path, clock: graphhook_platform::Clock) -> Emu {
    let file = file.to_owned();
    Emu::spawn_on(clock, move |config| config.state_file = Some(file)).await
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// A tenant made through the control API, consented, with a Privileged Role Administrator.
async fn seed_northwind(emu: &Emu) -> Value {
    let tenant = json!({"id": NORTHWIND, "domain": "northwind.onmicrosoft.com", "display_name": "Northwind"});
    json_of(
        emu.control(Method::POST, "/tenants", Some(tenant)).await,
        201,
    )
    .await;
    json_of(emu.consent(NORTHWIND, None).await, 200).await;
    let user = json!({"user_principal_name": PAT, "display_name": "Pat Roles",
                      "roles": [PRIVILEGED_ROLE_ADMINISTRATOR]});
    json_of(
        emu.control(
            Method::POST,
            &format!("/tenants/{NORTHWIND}/users"),
            Some(user),
        )
        .await,
        201,
    )
    .await
}

async fn tenant_of(emu: &Emu, id: &str) -> Value {
    let tenants = json_of(emu.control(Method::GET, "/tenants", None).await, 200).await;
    tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Verifies a token's signature with the keys `emu` publishes now; returns the key's id.
async fn verify_with_published_keys(emu: &Emu, token: &str) -> String {
    let keys = json_of(
        get(emu, &emu.url(&format!("/{NORTHWIND}/discovery/v2.0/keys"))).await,
        200,
    )
    .await;
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = published_jwk(&keys, &kid);
    let decoding = jwk_decoding_key(key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).expect("the signature verifies");
    kid
}

#[actix_web::test]
async fn a_restarted_emulator_carries_on_with_the_world_it_saved() {
    let scratch = Scratch::new();
    let clock = graphhook_platform::Clock::manual(start());
    let before = spawn_saving(&scratch.file(), clock.clone()).await;
    let pat = seed_northwind(&before).await;
    let token = before.token_for(NORTHWIND).await;
    let inbox = inbox();
    let mailbox = format!(
        "users/{}/mailFolders('inbox')/messages",
        pat["id"].as_str().unwrap()
    );
    let resource = format!("{mailbox}?$select=subject");
    let created = before
        .subscribe(
            &token,
            json!({"changeType": "created,updated", "notificationUrl": inbox.url,
                   "resource": resource, "expirationDateTime": before.expires_in(60),
                   "clientState": "kept-client-state"}),
        )
        .await;
    let signed_in = user_tokens(
        &before,
        PAT,
        "organizations",
        "openid offline_access Mail.Read",
    )
    .await;
    let refresh_token = signed_in["refresh_token"].as_str().unwrap().to_owned();
    let id_token = signed_in["id_token"].as_str().unwrap().to_owned();
    let kid_before = verify_with_published_keys(&before, &id_token).await;
    let tenant_before = tenant_of(&before, NORTHWIND).await;
    before.emu.stop().await;

    let after = spawn_saving(&scratch.file(), clock).await;
    assert_eq!(
        tenant_of(&after, NORTHWIND).await,
        tenant_before,
        "the tenant, its users with their ids and roles, and its consent"
    );
    // The consent made through the control API still gives app-only tokens.
    let token = after.token_for(NORTHWIND).await;
    let listed = json_of(
        after
            .graph(Method::GET, "/subscriptions", &token, None)
            .await,
        200,
    )
    .await;
    let listed = &listed["value"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    for key in [
        "id",
        "resource",
        "expirationDateTime",
        "notificationUrl",
        "clientState",
        "changeType",
    ] {
        assert_eq!(listed[0][key], created[key], "{key}");
    }

    let queued = after
        .change(change_of(NORTHWIND, &mailbox, "created"))
        .await;
    assert_eq!(queued.len(), 1, "the subscription still hears of changes");
    let posts = inbox.wait_for_posts(1).await;
    let item = &posts[0].body["value"][0];
    assert_eq!(item["subscriptionId"], created["id"]);
    assert_eq!(item["clientState"], "kept-client-state");

    let refreshed = tokens(refresh(&after, "organizations", &refresh_token, &[]).await).await;
    assert_eq!(
        claims_of(refreshed["access_token"].as_str().unwrap())["oid"],
        pat["id"]
    );
    assert_eq!(
        verify_with_published_keys(&after, &id_token).await,
        kid_before,
        "a token signed before the restart verifies with the same key"
    );
    after.emu.stop().await;
}

#[actix_web::test]
async fn a_damaged_or_foreign_state_file_starts_a_fresh_world() {
    let scratch = Scratch::new();
    let file = scratch.file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    for contents in [
        "{\"format\": 1, \"app\": ".to_owned(),
        "not json at all".to_owned(),
        json!({"format": snapshot::FORMAT + 1, "anything": []}).to_string(),
    ] {
        std::fs::write(&file, &contents).unwrap();
        let emu = spawn_saving(&file, graphhook_platform::Clock::manual(start())).await;
        assert_eq!(
            tenant_of(&emu, NEW_TENANT).await["displayName"],
            "Fabrikam",
            "the configured world, after {contents}"
        );
        emu.emu.save_state().await.unwrap();
        let saved = std::fs::read(&file).unwrap();
        assert!(
            snapshot::decode(&saved).is_ok(),
            "the fresh world replaced {contents}"
        );
        emu.emu.stop().await;
    }
}

#[cfg(unix)]
#[actix_web::test]
async fn an_unchanged_world_is_not_written_again() {
    use std::os::unix::fs::MetadataExt;

    let scratch = Scratch::new();
    let file = scratch.file();
    let written = |file: &Path| {
        let meta = std::fs::metadata(file).unwrap();
        (
            std::fs::read(file).unwrap(),
            meta.ino(),
            meta.modified().unwrap(),
        )
    };
    let emu = spawn_saving(&file, graphhook_platform::Clock::manual(start())).await;
    // Something of every kind that is saved: a tenant with users and consent, a certificate
    // (the harness registers one), a subscription, an authorization code and refresh token.
    seed_northwind(&emu).await;
    let (token, receiver) = emu.subscriber().await;
    emu.subscribe(&token, message_subscription(&emu, &receiver.url))
        .await;
    user_tokens(
        &emu,
        PAT,
        "organizations",
        "openid offline_access Mail.Read",
    )
    .await;
    emu.emu.save_state().await.unwrap();
    let first = written(&file);

    // Reading, and counters that are not saved, change nothing in the file.
    json_of(
        emu.graph(Method::GET, "/subscriptions", &token, None).await,
        200,
    )
    .await;
    json_of(emu.control(Method::GET, "/state", None).await, 200).await;
    json_of(emu.control(Method::GET, "/subscriptions", None).await, 200).await;
    assert!(!emu.emu.save_state().await.unwrap(), "nothing to write");
    assert_eq!(written(&file), first, "the same file, not rewritten");

    // A restart on it with nothing new reads every part back as it was: no rewrite either.
    emu.emu.stop().await;
    let emu = spawn_saving(&file, graphhook_platform::Clock::manual(start())).await;
    assert!(!emu.emu.save_state().await.unwrap());
    assert_eq!(written(&file), first);

    // A change is written.
    let tenant = json!({"domain": "litware.onmicrosoft.com"});
    json_of(
        emu.control(Method::POST, "/tenants", Some(tenant)).await,
        201,
    )
    .await;
    emu.emu.save_state().await.unwrap();
    assert_ne!(written(&file).0, first.0);
    emu.emu.stop().await;
}

#[actix_web::test]
async fn the_configuration_adds_what_the_file_lacks_and_sets_the_behaviour() {
    let scratch = Scratch::new();
    let file = scratch.file();
    let clock = graphhook_platform::Clock::manual(start());
    let before = spawn_saving(&file, clock.clone()).await;
    seed_northwind(&before).await;
    let added = json!({"uri": "http://127.0.0.1:7000/added-at-run-time"});
    json_of(
        before
            .control(Method::POST, "/app/redirect-uris", Some(added))
            .await,
        201,
    )
    .await;
    before
        .behaviour(json!({"strict_refresh_tokens": true}))
        .await;
    before.emu.stop().await;

    // Started again with another redirect URI configured (dev on another port).
    let path = file.clone();
    let after = Emu::spawn_on(clock.clone(), move |config| {
        config.state_file = Some(path);
        config
            .app
            .redirect_uris
            .push("http://127.0.0.1:9000/onboarding/signed-in".into());
    })
    .await;
    let state = json_of(after.control(Method::GET, "/state", None).await, 200).await;
    let uris = &state["app"]["redirect_uris"];
    for uri in [
        "http://127.0.0.1:7000/added-at-run-time",
        "http://127.0.0.1:9000/onboarding/signed-in",
    ] {
        assert!(
            uris.as_array().unwrap().iter().any(|u| u == uri),
            "{uri} in {uris}"
        );
    }
    assert_eq!(
        tenant_of(&after, NORTHWIND).await["displayName"],
        "Northwind"
    );
    assert_eq!(
        state["behaviour"]["strict_refresh_tokens"], false,
        "behaviour switches come from the configuration"
    );
    after.emu.stop().await;

    // Another app registration does not take this app's world.
    let path = file.clone();
    let other = Emu::spawn_on(clock, move |config| {
        config.state_file = Some(path);
        config.app.client_id = uuid::Uuid::new_v4();
    })
    .await;
    assert_eq!(tenant_of(&other, NORTHWIND).await, Value::Null);
    other.emu.stop().await;
}
