//! `GET /connections/callback`: where Entra sends a connecting user back. The domain proves
//! everything ([`graphhook_domain::tenancy::connections::callback`]); this page tells the user, in
//! words, what happened and what to do, and never shows a token.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use graphhook_domain::{
    graph::ingest::guard::Verdict,
    tenancy::connections::callback::{self, CallbackError},
};
use serde::Deserialize;

use crate::{
    routes::onboarding::pages::{self, paragraph},
    state::{ApiLocal, Services},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/connections/callback").route(web::get().to(callback)));
}

/// What Entra's redirect carries. Unknown parameters (`session_state`, …) are ignored.
#[derive(Debug, Deserialize)]
pub struct Query {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The longest value read from the query (codes are about 1 KB).
const MAX_VALUE: usize = 4096;

fn page(status: StatusCode, title: &str, lines: &[String]) -> HttpResponse {
    let content: String = lines.iter().map(|l| paragraph(l)).collect();
    pages::message(status, title, &content)
}

/// The page for an error Entra sent back instead of a code.
fn entra_error(error: &str, description: &str) -> HttpResponse {
    let first_line = description.lines().next().unwrap_or_default();
    let code = first_line
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_default();
    if error == "consent_required" || matches!(code, "65001" | "90094" | "90095") {
        return page(
            StatusCode::FORBIDDEN,
            "An administrator must approve",
            &[
                "Your organization has not granted Graphhook the permissions this connection asks for, and only an administrator can.".to_owned(),
                "Ask a Global Administrator to open Graphhook's onboarding page, sign in and choose \"Grant consent again\"; then open your connection link again.".to_owned(),
                format!("Microsoft's error: {error}: {first_line}"),
            ],
        );
    }
    if error == "unauthorized_client" || code == "700016" {
        return page(
            StatusCode::FORBIDDEN,
            "This account type is not enabled",
            &[
                "This Graphhook deployment's app registration does not accept this kind of Microsoft account (personal accounts need signInAudience AzureADandPersonalMicrosoftAccount).".to_owned(),
                format!("Microsoft's error: {error}: {first_line}"),
            ],
        );
    }
    if error == "access_denied" {
        return page(
            StatusCode::OK,
            "Nothing was connected",
            &["The sign-in was cancelled or declined, so nothing was connected. Open the link again to try once more.".to_owned()],
        );
    }
    page(
        StatusCode::BAD_REQUEST,
        "You were not signed in",
        &[
            "Microsoft did not complete the sign-in, so nothing was connected.".to_owned(),
            format!("Microsoft's error: {error}: {first_line}"),
        ],
    )
}

pub async fn callback(
    state: web::Data<Services>,
    local: web::Data<ApiLocal>,
    req: HttpRequest,
    query: web::Query<Query>,
) -> HttpResponse {
    if let Some(addr) = local.client_addr.of(&req)
        && local.connection_callbacks.check(addr) == Verdict::RateLimited
    {
        metrics::counter!("graphhook_connection_callbacks_refused_total").increment(1);
        return pages::over_the_minute_limit(page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins",
            &["Too many connection sign-ins came from your network in the last minute. Wait a minute, then open your connection link again.".to_owned()],
        ));
    }
    let query = query.into_inner();
    fn bounded(v: &Option<String>) -> Option<&str> {
        v.as_deref()
            .filter(|v| !v.is_empty() && v.len() <= MAX_VALUE)
    }
    if let Some(error) = bounded(&query.error) {
        tracing::info!(error, "a connection's sign-in ended with an error");
        let description = query.error_description.as_deref().unwrap_or_default();
        let description: String = description.chars().take(MAX_VALUE).collect();
        return entra_error(error, &description);
    }
    let (Some(signed), Some(code)) = (bounded(&query.state), bounded(&query.code)) else {
        return page(
            StatusCode::BAD_REQUEST,
            "This link is not complete",
            &["The page was opened without the values Microsoft sends back. Open your connection link again.".to_owned()],
        );
    };
    match callback::complete(&state, signed, code).await {
        Ok(done) => {
            let who = done.person.label();
            let mut lines = vec![format!(
                "{who} is connected. Graphhook can now keep the subscriptions made through this connection alive; you can close this window."
            )];
            if let Some(resumed) = done.resumed.filter(|n| *n > 0) {
                lines.push(format!("{resumed} paused subscription(s) are resuming."));
            }
            page(StatusCode::OK, "Connected", &lines)
        }
        Err(CallbackError::Domain(error)) => {
            tracing::error!(%error, "a connection could not be completed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                &["Graphhook could not finish the connection just now. Ask for a new link and try again in a few minutes.".to_owned()],
            )
        }
        Err(error) => {
            tracing::warn!(%error, "a connection was refused");
            let status = match error {
                CallbackError::UnknownState => StatusCode::BAD_REQUEST,
                CallbackError::Refused(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::FORBIDDEN,
            };
            page(status, "Nothing was connected", &[error.to_string()])
        }
    }
}
