//! `GET /onboarding/callback`: where Microsoft sends the administrator back from admin consent.
//!
//! The consent `state` is checked first (signature, leg, expiry, the browser's cookie) and used
//! up; it names the person who signed in and their tenant. A `tenant` in the redirect other than
//! that one is refused before Entra is asked anything: a redirect proves nothing. An error
//! redirect gets a page that says what happened, and is recorded. A success is proven by a
//! client-credentials token for the signed-in tenant (its `tid` and `roles`); only then is the
//! tenant created or updated, in the signed-in person's name. When the token carries no roles
//! yet (Entra is still propagating the consent), the tenant is `pending` and a background job
//! finishes the onboarding.

use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::StatusCode, web};
use graphhook_domain::{
    DomainError,
    graph::microsoft::TokenError,
    operator::audit::{self, Actor, NewEntry},
    platform::entities::tenant::TenantStatus,
    platform::ids::TenantId,
    platform::jobs::VerifyConsent,
    platform::secret::ExposeSecret,
    tenancy::api_keys,
    tenancy::onboarding::{Person, StateError, state::Phase},
    tenancy::tenants::{self, ConsentProof},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    answers, links,
    pages::{self, escape, paragraph},
    returns,
};
use crate::{error::ApiError, request_id::RequestId, state::Services};

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    admin_consent: Option<String>,
    tenant: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_subcode: Option<String>,
}

pub async fn callback(
    state: web::Data<Services>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let query = query.into_inner();
    let mut response = answer(&state, &req, query, request_id).await?;
    response
        .add_cookie(&links::clear_cookie())
        .map_err(ApiError::internal)?;
    Ok(response)
}

async fn answer(
    state: &Services,
    req: &HttpRequest,
    query: CallbackQuery,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let refused = "onboarding callback refused";
    let claims =
        match returns::verified(state, req, query.state.as_deref(), Phase::Consent, refused) {
            Ok((claims, _)) => claims,
            Err(page) => return Ok(*page),
        };
    let Some(person) = claims.person.clone() else {
        return Ok(answers::state_page(&StateError::Invalid));
    };
    if let Some(page) = returns::use_once(state, &claims).await? {
        return Ok(page);
    }
    let actor = Actor::administrator(&person);
    if let Some(named) = query.tenant.as_deref()
        && Uuid::parse_str(named).ok() != Some(person.tid)
    {
        tracing::warn!(signed_in = %person.tid, named, "a consent return names another tenant");
        let entry = NewEntry::new(actor, "onboarding.tenant_mismatch")
            .details(json!({
                "signed_in_tenant": person.tid,
                "named_tenant": named.chars().take(100).collect::<String>(),
            }))
            .request_id(request_id);
        audit::record(&state.db, &state.clock, entry).await?;
        return Ok(unconfirmed(
            "Microsoft's answer names another organization than the one you signed in to, so nothing was changed.",
        ));
    }
    if let Some(error) = query.error.as_deref() {
        return consent_error(
            state,
            error,
            query.error_description.as_deref(),
            query.error_subcode.as_deref(),
            &person,
            request_id,
        )
        .await;
    }
    if query
        .admin_consent
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return consent_granted(state, &person, &claims.company, request_id).await;
    }
    Ok(answers::state_page(&StateError::Invalid))
}

async fn consent_error(
    state: &Services,
    error: &str,
    description: Option<&str>,
    subcode: Option<&str>,
    person: &Person,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let description = description.unwrap_or_default();
    let code = answers::aadsts(description);
    let error_text: String = error.chars().take(100).collect();
    let subcode: Option<String> = subcode.map(|s| s.chars().take(100).collect());
    let entry = NewEntry::new(Actor::administrator(person), "onboarding.consent_failed")
        .details(json!({"entra_tenant_id": person.tid, "error": error_text, "aadsts": code, "subcode": subcode}))
        .request_id(request_id);
    audit::record(&state.db, &state.clock, entry).await?;
    let first_line = description.lines().next().unwrap_or_default();
    let (title, advice) = match (error, code) {
        ("access_denied" | "permission_denied", _) | (_, Some(65004)) => (
            "Consent was declined",
            "The permissions were not granted, so Graphhook was not connected. If you changed your mind, start again and choose Accept.",
        ),
        ("consent_required", _) | (_, Some(65001)) => (
            "An administrator needs to consent",
            "Graphhook needs permissions that only an administrator of your organization can grant. Ask a Global Administrator or Privileged Role Administrator to connect the tenant.",
        ),
        _ => (
            "Microsoft returned an error",
            "Graphhook was not connected. Start again; if it keeps failing, contact us with the details below.",
        ),
    };
    let mut content = paragraph(advice);
    if let Some(code) = code {
        content.push_str(&format!(
            "    <p>Microsoft's error: <code>AADSTS{code}</code> (<code>{}</code>)</p>\n    <p><samp>{}</samp></p>\n",
            escape(error),
            escape(first_line)
        ));
    } else {
        content.push_str(&format!(
            "    <p>Microsoft's error: <code>{}</code></p>\n",
            escape(error)
        ));
    }
    content.push_str(&answers::retry_link());
    Ok(pages::message(StatusCode::OK, title, &content))
}

async fn consent_granted(
    state: &Services,
    person: &Person,
    company: &str,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let entra_tenant = person.tid;
    let actor = Actor::administrator(person);
    // Prove the consent: a token for the signed-in tenant must exist, and must be for it.
    let token = match state.broker.fresh_token(entra_tenant).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, %entra_tenant, "consent could not be confirmed");
            let entry = NewEntry::new(actor, "onboarding.unconfirmed")
                .details(json!({"entra_tenant_id": entra_tenant, "aadsts": error.aadsts(), "error": error.to_string()}))
                .request_id(request_id);
            audit::record(&state.db, &state.clock, entry).await?;
            return Ok(match error {
                TokenError::ConsentGone { .. } | TokenError::Refused { .. } => unconfirmed(
                    "Microsoft does not show Graphhook as consented in that tenant yet. If you have just accepted, wait a minute and start again.",
                ),
                _ => unconfirmed(
                    "Graphhook could not reach Microsoft to confirm the consent. Please start again in a few minutes.",
                ),
            });
        }
    };
    if Uuid::parse_str(&token.claims.tid).ok() != Some(entra_tenant) {
        return Ok(unconfirmed(
            "The consent could not be confirmed for that tenant.",
        ));
    }
    let proof = ConsentProof {
        entra_tenant_id: entra_tenant,
        roles: token.claims.roles.clone(),
    };
    let record = || {
        tenants::record_consent(
            &state.db,
            &state.clock,
            &proof,
            company,
            actor.clone(),
            request_id.clone(),
        )
    };
    let recorded = match record().await {
        // Another request created the tenant a moment ago: this one updates it.
        Err(DomainError::Conflict {
            rule: tenants::BEING_CREATED,
            ..
        }) => record().await?,
        other => other?,
    };
    let tenant_id = TenantId::from(recorded.tenant.id);
    let key = if recorded.created {
        let limit = state.settings.api.max_api_keys_per_tenant;
        Some(api_keys::create(&state.db, &state.clock, tenant_id, "Default key", limit).await?)
    } else {
        None
    };
    let pending = recorded.tenant.status == TenantStatus::Pending;
    if pending {
        let delay = Duration::from_secs(state.settings.onboarding.verify_interval_secs);
        state
            .queues
            .push_delayed(
                &VerifyConsent {
                    tenant: tenant_id,
                    attempt: 0,
                    administrator: Some(person.clone()),
                },
                delay,
            )
            .await
            .map_err(|e| DomainError::unavailable("the job queue", e))?;
    }
    Ok(result_page(&recorded, key.as_ref(), pending))
}

/// Where the administrator (or the developers they hand the key to) go from here.
const NEXT_STEPS: &str = "    <h2>Next</h2>\n    <ul class=\"next\">\n      <li><a href=\"/portal\">Open the tenant portal</a>: sign in with the API key to register endpoints and subscriptions.</li>\n      <li><a href=\"/api/docs\">API reference</a> and <a href=\"/docs\">guide</a>: the same through the tenant API.</li>\n    </ul>\n";

fn result_page(
    recorded: &tenants::Recorded,
    key: Option<&api_keys::NewKey>,
    pending: bool,
) -> HttpResponse {
    let name = escape(&recorded.tenant.name);
    let mut content = String::new();
    if pending {
        content.push_str(&format!(
            "    <p class=\"note\" role=\"status\">Setup is finishing: Microsoft is still applying the permissions you granted to <strong>{name}</strong>. This usually takes a few minutes; Graphhook completes it in the background, and your tenant becomes active by itself.</p>\n"
        ));
    } else if recorded.created {
        content.push_str(&format!(
            "    <p><strong>{name}</strong> is connected.</p>\n"
        ));
    } else {
        content.push_str(&format!(
            "    <p>The permissions of <strong>{name}</strong> are updated.</p>\n"
        ));
    }
    if !recorded.missing_roles.is_empty() && !pending {
        let list: String = recorded
            .missing_roles
            .iter()
            .map(|r| format!("<li><code>{}</code></li>", escape(r)))
            .collect();
        content.push_str(&format!(
            "    <div class=\"alert\" role=\"alert\"><p>Some permissions Graphhook needs were not granted; notifications that need them will be refused:</p><ul>{list}</ul></div>\n"
        ));
    }
    if let Some(key) = key {
        // The copy button works through a script file: the page's CSP refuses inline scripts.
        content.push_str(&format!(
            "    <h2>Your API key</h2>\n    <p>Give it to your developers. It is shown <strong>only once</strong>: copy it now.</p>\n    <code class=\"secret\" id=\"api-key\">{}</code>\n    <p class=\"actions\"><button type=\"button\" id=\"copy-key\" hidden>Copy the key</button> <span id=\"copy-status\" role=\"status\"></span></p>\n    <script src=\"/static/onboarding-key.js\"></script>\n    <p>Use it as <code>Authorization: Bearer &lt;key&gt;</code> on the tenant API; create more keys there.</p>\n",
            escape(key.key.expose_secret())
        ));
    } else {
        content.push_str("    <p>Your existing API keys keep working.</p>\n");
    }
    content.push_str(NEXT_STEPS);
    let title = if pending {
        "Almost there"
    } else {
        "Microsoft 365 connected"
    };
    pages::message(StatusCode::OK, title, &content)
}

fn unconfirmed(reason: &str) -> HttpResponse {
    let content = format!("{}{}", paragraph(reason), answers::retry_link());
    pages::message(
        StatusCode::BAD_REQUEST,
        "We could not confirm the consent",
        &content,
    )
}
