//! `GET /onboarding/callback`: where Microsoft sends the administrator back.
//!
//! The `state` is checked first (signature, expiry, the browser's cookie, single use). An error
//! redirect gets a page that says what happened, and is recorded. A success is never taken at
//! its word: the `tenant` it names is proven by getting a client-credentials token for it and
//! reading the token's `tid` and `roles`; only then is the tenant created or updated. When the
//! token carries no roles yet (Entra is still propagating the consent), the tenant is `pending`
//! and a background job finishes the onboarding.

use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, cookie::Cookie, http::StatusCode, web};
use graphhook_domain::{
    DomainError, api_keys,
    audit::{self, Actor, NewEntry},
    entities::tenant::TenantStatus,
    ids::TenantId,
    jobs::VerifyConsent,
    microsoft::TokenError,
    onboarding::{self, StateError},
    secret::ExposeSecret,
    tenants::{self, ConsentProof},
};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    COOKIE,
    pages::{self, escape, paragraph},
};
use crate::{error::ApiError, request_id::RequestId, state::AppState};

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    admin_consent: Option<String>,
    tenant: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_subcode: Option<String>,
}

fn retry_link() -> String {
    "    <p><a href=\"/onboarding\">Start again</a></p>\n".to_owned()
}

fn state_page(error: &StateError) -> HttpResponse {
    let advice = match error {
        StateError::Expired => "The link is only valid for a few minutes. Start again.",
        StateError::WrongBrowser => {
            "Finish the sign-in in the same browser where you started it, or start again."
        }
        StateError::Replayed => {
            "This sign-in has already been completed. Start again to connect another tenant."
        }
        StateError::Invalid => "The link was changed or is not from Graphhook. Start again.",
    };
    let content = format!(
        "{}{}{}",
        paragraph(&format!("{}.", capitalize(&error.to_string()))),
        paragraph(advice),
        retry_link()
    );
    pages::message(
        StatusCode::BAD_REQUEST,
        "We could not finish connecting your tenant",
        &content,
    )
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// The AADSTS code at the start of an Entra error description.
fn aadsts(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn clear_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "").path("/onboarding").finish();
    cookie.make_removal();
    cookie
}

pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let query = query.into_inner();
    let Some(signed) = query.state.as_deref() else {
        return Ok(state_page(&StateError::Invalid));
    };
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let verified = onboarding::verify(
        &state.redis,
        state.queues.prefix(),
        &state.settings.onboarding_state_key(),
        &state.clock,
        signed,
        cookie.as_deref(),
    )
    .await
    .map_err(|e| ApiError::unavailable("onboarding", e))?;
    let claims = match verified {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(%error, "onboarding callback refused");
            return Ok(state_page(&error));
        }
    };
    let mut response = if let Some(error) = query.error.as_deref() {
        consent_error(
            &state,
            error,
            query.error_description.as_deref(),
            query.error_subcode.as_deref(),
            &claims.company,
            request_id,
        )
        .await?
    } else if query
        .admin_consent
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        consent_granted(&state, query.tenant.as_deref(), &claims.company, request_id).await?
    } else {
        state_page(&StateError::Invalid)
    };
    response
        .add_cookie(&clear_cookie())
        .map_err(ApiError::internal)?;
    Ok(response)
}

async fn consent_error(
    state: &AppState,
    error: &str,
    description: Option<&str>,
    subcode: Option<&str>,
    company: &str,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let description = description.unwrap_or_default();
    let code = aadsts(description);
    let entry = NewEntry::new(Actor::system("onboarding"), "onboarding.consent_failed")
        .details(json!({"company": company, "error": error, "aadsts": code, "subcode": subcode}))
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
    content.push_str(&retry_link());
    Ok(pages::message(StatusCode::OK, title, &content))
}

async fn consent_granted(
    state: &AppState,
    tenant: Option<&str>,
    company: &str,
    request_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(entra_tenant) = tenant.and_then(|t| Uuid::parse_str(t).ok()) else {
        return Ok(unconfirmed("Microsoft did not say which tenant consented."));
    };
    // Prove the tenant: a token for it must exist, and must be for it.
    let token = match state.broker.fresh_token(entra_tenant).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, %entra_tenant, "consent could not be confirmed");
            let entry = NewEntry::new(Actor::system("onboarding"), "onboarding.unconfirmed")
                .details(json!({"company": company, "entra_tenant_id": entra_tenant, "aadsts": error.aadsts(), "error": error.to_string()}))
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
    let recorded =
        match tenants::record_consent(&state.db, &state.clock, &proof, company, request_id.clone())
            .await
        {
            Err(DomainError::Conflict(_)) => {
                tenants::record_consent(
                    &state.db,
                    &state.clock,
                    &proof,
                    company,
                    request_id.clone(),
                )
                .await?
            }
            other => other?,
        };
    let tenant_id = TenantId::from(recorded.tenant.id);
    let key = if recorded.created {
        Some(api_keys::create(&state.db, &state.clock, tenant_id, "Default key").await?)
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
                },
                delay,
            )
            .await
            .map_err(|e| ApiError::unavailable("the job queue", e))?;
    }

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
    if let Some(key) = &key {
        content.push_str(&format!(
            "    <h2>Your API key</h2>\n    <p>Give it to your developers. It is shown <strong>only once</strong>: copy it now.</p>\n    <code class=\"secret\" id=\"api-key\">{}</code>\n    <p>Use it as <code>Authorization: Bearer &lt;key&gt;</code> on the <a href=\"/docs\">tenant API</a>; create more keys there.</p>\n",
            escape(key.key.expose_secret())
        ));
    } else {
        content.push_str("    <p>Your existing API keys keep working.</p>\n");
    }
    let title = if pending {
        "Almost there"
    } else {
        "Microsoft 365 connected"
    };
    Ok(pages::message(StatusCode::OK, title, &content))
}

fn unconfirmed(reason: &str) -> HttpResponse {
    let content = format!("{}{}", paragraph(reason), retry_link());
    pages::message(
        StatusCode::BAD_REQUEST,
        "We could not confirm the consent",
        &content,
    )
}
