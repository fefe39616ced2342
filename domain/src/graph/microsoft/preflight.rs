//! What can be known about the Microsoft side of a deployment before the first tenant needs it:
//! whether Entra (the authority) and Graph answer, and whether Entra accepts our app credential.
//! A wrong client secret, an expired certificate or a mistyped authority otherwise shows only
//! when the first administrator onboards. `graphhook check` prints these findings; `graphhook
//! api` and `graphhook worker` log them at start-up (a problem is logged as an error and does not
//! stop the process: Microsoft being out of reach for a minute must not keep the service down).

use std::time::Duration as StdDuration;

use uuid::Uuid;

use crate::graph::microsoft::{TokenBroker, TokenError};
use crate::platform::clock::Clock;
use crate::platform::config::Settings;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Works, but an operator should act soon (a credential about to expire).
    Warning,
    /// Does not work; the message says what to change.
    Problem,
    /// Could not be checked; the message says what would let it be.
    Skipped,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "problem",
            Level::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// `authority`, `graph`, `credential` or `credential expiry`.
    pub check: &'static str,
    pub level: Level,
    pub message: String,
}

impl Finding {
    fn new(check: &'static str, level: Level, message: impl Into<String>) -> Self {
        Self {
            check,
            level,
            message: message.into(),
        }
    }
}

/// Where the credential is tried: `microsoft.home_tenant_id` (the app registration's own
/// directory, where the app always exists), else a tenant that has onboarded.
#[derive(Clone, Copy, Debug)]
pub enum CredentialTenant {
    Home(Uuid),
    Onboarded(Uuid),
    None,
}

impl CredentialTenant {
    /// `microsoft.home_tenant_id`, else the tenant that onboarded first and is still active.
    pub async fn choose(settings: &Settings, db: Option<&sea_orm::DatabaseConnection>) -> Self {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

        use crate::platform::entities::tenant::{self, TenantStatus};

        if let Some(home) = settings.microsoft.home_tenant_id {
            return Self::Home(home);
        }
        let Some(db) = db else { return Self::None };
        match tenant::Entity::find()
            .filter(tenant::Column::Status.eq(TenantStatus::Active))
            .order_by_asc(tenant::Column::CreatedAt)
            .one(db)
            .await
        {
            Ok(Some(tenant)) => Self::Onboarded(tenant.entra_tenant_id),
            _ => Self::None,
        }
    }
}

/// Every check, in order. Never fails: each problem is a finding.
pub async fn microsoft(
    settings: &Settings,
    clock: Clock,
    tenant: CredentialTenant,
) -> Vec<Finding> {
    let http = match super::http_client(StdDuration::from_secs(10)) {
        Ok(http) => http,
        Err(error) => {
            return vec![Finding::new(
                "authority",
                Level::Problem,
                format!("no HTTP client: {error}"),
            )];
        }
    };
    let microsoft = &settings.microsoft;
    let mut findings = vec![
        authority(&http, &microsoft.authority_url).await,
        graph(&http, &microsoft.graph_url).await,
    ];
    let expiry = crate::operator::ops::credential_status(microsoft, clock.now());
    if let Some(warning) = expiry.warning {
        let level = match expiry.days_left {
            Some(days) if days < 0 => Level::Problem,
            _ if expiry.kind == crate::operator::ops::CredentialKind::None => Level::Problem,
            _ => Level::Warning,
        };
        findings.push(Finding::new("credential expiry", level, warning));
    }
    findings.push(credential(settings, clock, tenant).await);
    findings
}

async fn authority(http: &reqwest::Client, authority: &str) -> Finding {
    let url = format!(
        "{}/organizations/v2.0/.well-known/openid-configuration",
        authority.trim_end_matches('/')
    );
    let check = "authority";
    match http.get(&url).send().await {
        Err(error) => Finding::new(
            check,
            Level::Problem,
            format!(
                "cannot reach {url} ({}); check microsoft.authority_url and that this host may \
                 reach it (proxy, firewall, DNS)",
                reason(&error)
            ),
        ),
        Ok(response) if !response.status().is_success() => Finding::new(
            check,
            Level::Problem,
            format!(
                "{url} answered {}; microsoft.authority_url must be Entra's authority \
                 (https://login.microsoftonline.com, or the national cloud's)",
                response.status()
            ),
        ),
        Ok(response) => match response.json::<serde_json::Value>().await {
            Ok(document) if document.get("token_endpoint").is_some() => Finding::new(
                check,
                Level::Ok,
                format!(
                    "{} answers OpenID discovery",
                    authority.trim_end_matches('/')
                ),
            ),
            _ => Finding::new(
                check,
                Level::Problem,
                format!(
                    "{url} is not an OpenID discovery document; microsoft.authority_url must be \
                     Entra's authority"
                ),
            ),
        },
    }
}

/// Graph answers a request without a token with 401: any HTTP answer proves it is reachable.
async fn graph(http: &reqwest::Client, graph_url: &str) -> Finding {
    let url = format!("{}/subscriptions", graph_url.trim_end_matches('/'));
    match http.get(&url).send().await {
        Ok(response) => Finding::new(
            "graph",
            Level::Ok,
            format!(
                "{} answers ({} without a token)",
                graph_url.trim_end_matches('/'),
                response.status().as_u16()
            ),
        ),
        Err(error) => Finding::new(
            "graph",
            Level::Problem,
            format!(
                "cannot reach {url} ({}); check microsoft.graph_url and that this host may reach it",
                reason(&error)
            ),
        ),
    }
}

async fn credential(settings: &Settings, clock: Clock, tenant: CredentialTenant) -> Finding {
    let check = "credential";
    let (tenant, home) = match tenant {
        CredentialTenant::Home(id) => (id, true),
        CredentialTenant::Onboarded(id) => (id, false),
        CredentialTenant::None => {
            return Finding::new(
                check,
                Level::Skipped,
                "no tenant to ask for a token yet: set microsoft.home_tenant_id (the app \
                 registration's Directory (tenant) ID) to check the credential before the first \
                 tenant onboards",
            );
        }
    };
    let broker = match TokenBroker::new(&settings.microsoft, clock) {
        Ok(broker) => broker,
        Err(error) => {
            return Finding::new(
                check,
                Level::Problem,
                format!("the app credential cannot be used: {error}"),
            );
        }
    };
    match broker.fresh_token(tenant).await {
        Ok(_) => Finding::new(
            check,
            Level::Ok,
            format!(
                "Entra issued an app-only token for tenant {tenant}{}",
                if home { " (the app's home tenant)" } else { "" }
            ),
        ),
        Err(TokenError::Configuration { code, message }) => Finding::new(
            check,
            Level::Problem,
            format!(
                "Entra refused the app credential (AADSTS{code}: {message}); check \
                 microsoft.client_id and microsoft.client_secret, or the certificate and its \
                 private key, against the app registration"
            ),
        ),
        Err(TokenError::ConsentGone { code, message }) if home => Finding::new(
            check,
            Level::Problem,
            format!(
                "the app microsoft.client_id is not in tenant {tenant} (AADSTS{code}: {message}); \
                 check microsoft.client_id and microsoft.home_tenant_id"
            ),
        ),
        Err(TokenError::ConsentGone { code, message }) => Finding::new(
            check,
            Level::Skipped,
            format!(
                "tenant {tenant} no longer has the app (AADSTS{code}: {message}), so the \
                 credential could not be tried there; set microsoft.home_tenant_id to check it"
            ),
        ),
        Err(TokenError::NotConfigured(what)) => {
            Finding::new(check, Level::Problem, format!("not configured: {what}"))
        }
        Err(error) => Finding::new(
            check,
            Level::Problem,
            format!("no token for tenant {tenant}: {error}"),
        ),
    }
}

/// What went wrong with a request, without its URL (the message names it already).
fn reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    if error.is_connect() {
        format!("cannot connect: {root}")
    } else {
        root.to_string()
    }
}

/// Logs each finding: problems as errors, warnings as warnings, the rest as info.
pub fn log(findings: &[Finding]) {
    for finding in findings {
        match finding.level {
            Level::Problem => tracing::error!(check = finding.check, "{}", finding.message),
            Level::Warning => tracing::warn!(check = finding.check, "{}", finding.message),
            Level::Ok | Level::Skipped => {
                tracing::info!(check = finding.check, "{}", finding.message);
            }
        }
    }
}
