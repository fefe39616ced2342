//! The start-up checks of Microsoft (`graphhook check`, and the api's and worker's start-up log):
//! each finding says what works and what to change.

use graphhook_domain::{
    graph::microsoft::preflight::{self, CredentialTenant, Finding, Level},
    platform::secret::SecretString,
};
use graphhook_emulator::config::DEFAULT_TENANT_ID;
use graphhook_tests::{TestApp, graph::consent};
use serde_json::json;
use uuid::Uuid;

fn contoso() -> Uuid {
    DEFAULT_TENANT_ID.parse().unwrap()
}

fn finding<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding in {findings:?}"))
}

#[tokio::test]
async fn a_working_deployment_passes_every_check() {
    let app = TestApp::spawn().await;
    consent(&app, DEFAULT_TENANT_ID, Some(json!({}))).await;
    let findings = preflight::microsoft(
        &app.settings,
        app.clock.clone(),
        CredentialTenant::Home(contoso()),
    )
    .await;
    for check in ["authority", "graph", "credential"] {
        let found = finding(&findings, check);
        assert_eq!(found.level, Level::Ok, "{found:?}");
    }
    assert!(
        finding(&findings, "credential")
            .message
            .contains(DEFAULT_TENANT_ID)
    );
}

#[tokio::test]
async fn a_wrong_secret_is_named_with_entras_own_words() {
    let app = TestApp::spawn().await;
    consent(&app, DEFAULT_TENANT_ID, Some(json!({}))).await;
    let mut settings = app.settings.clone();
    settings.microsoft.client_secret = Some(SecretString::from("not-the-secret"));
    let findings = preflight::microsoft(
        &settings,
        app.clock.clone(),
        CredentialTenant::Home(contoso()),
    )
    .await;
    let credential = finding(&findings, "credential");
    assert_eq!(credential.level, Level::Problem);
    assert!(
        credential.message.contains("AADSTS7000215")
            && credential.message.contains("microsoft.client_secret"),
        "{credential:?}"
    );
    assert!(
        !credential.message.contains("not-the-secret"),
        "the secret is never shown"
    );
}

#[tokio::test]
async fn an_unreachable_authority_and_graph_are_problems_that_name_the_setting() {
    let app = TestApp::spawn().await;
    let mut settings = app.settings.clone();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    settings.microsoft.authority_url = format!("http://127.0.0.1:{port}");
    settings.microsoft.graph_url = format!("http://127.0.0.1:{port}/v1.0");
    let findings = preflight::microsoft(&settings, app.clock.clone(), CredentialTenant::None).await;
    let authority = finding(&findings, "authority");
    assert_eq!(authority.level, Level::Problem);
    assert!(
        authority.message.contains("microsoft.authority_url"),
        "{authority:?}"
    );
    let graph = finding(&findings, "graph");
    assert_eq!(graph.level, Level::Problem);
    assert!(graph.message.contains("microsoft.graph_url"), "{graph:?}");
    // Not a discovery document: the api's own landing page is not an authority.
    settings.microsoft.authority_url = app.address.clone();
    let findings = preflight::microsoft(&settings, app.clock.clone(), CredentialTenant::None).await;
    assert_eq!(finding(&findings, "authority").level, Level::Problem);
}

#[tokio::test]
async fn the_credential_is_tried_at_home_else_at_an_onboarded_tenant_else_skipped() {
    let app = TestApp::spawn().await;
    assert!(matches!(
        CredentialTenant::choose(&app.settings, Some(&app.db)).await,
        CredentialTenant::None
    ));
    let findings =
        preflight::microsoft(&app.settings, app.clock.clone(), CredentialTenant::None).await;
    let skipped = finding(&findings, "credential");
    assert_eq!(skipped.level, Level::Skipped);
    assert!(skipped.message.contains("microsoft.home_tenant_id"));

    app.create_tenant(DEFAULT_TENANT_ID, "Contoso").await;
    let chosen = CredentialTenant::choose(&app.settings, Some(&app.db)).await;
    assert!(
        matches!(chosen, CredentialTenant::Onboarded(id) if id == contoso()),
        "{chosen:?}"
    );
    // Consent withdrawn at the onboarded tenant: that says nothing about the credential.
    let findings = preflight::microsoft(&app.settings, app.clock.clone(), chosen).await;
    assert_eq!(finding(&findings, "credential").level, Level::Skipped);
    consent(&app, DEFAULT_TENANT_ID, Some(json!({}))).await;
    let findings = preflight::microsoft(&app.settings, app.clock.clone(), chosen).await;
    assert_eq!(finding(&findings, "credential").level, Level::Ok);

    let mut settings = app.settings.clone();
    let home = Uuid::new_v4();
    settings.microsoft.home_tenant_id = Some(home);
    assert!(matches!(
        CredentialTenant::choose(&settings, None).await,
        CredentialTenant::Home(id) if id == home
    ));
}

#[tokio::test]
async fn an_expired_client_secret_is_a_problem_and_one_about_to_expire_a_warning() {
    let app = TestApp::spawn().await;
    let mut settings = app.settings.clone();
    settings.microsoft.client_secret_expires_at = Some(app.clock.now() - chrono::Duration::days(1));
    let findings = preflight::microsoft(&settings, app.clock.clone(), CredentialTenant::None).await;
    assert_eq!(
        finding(&findings, "credential expiry").level,
        Level::Problem
    );
    settings.microsoft.client_secret_expires_at =
        Some(app.clock.now() + chrono::Duration::days(10));
    let findings = preflight::microsoft(&settings, app.clock.clone(), CredentialTenant::None).await;
    assert_eq!(
        finding(&findings, "credential expiry").level,
        Level::Warning
    );
}
