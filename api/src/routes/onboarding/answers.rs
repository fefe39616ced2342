//! The pages the onboarding answers with when it cannot go on: a `state` that fails its checks,
//! a sign-in Microsoft did not complete or we could not verify, a person who is not an
//! administrator who can grant application permissions, and an app registration that does not
//! tell us roles. Each says what happened and what to do next.

use actix_web::{HttpResponse, http::StatusCode};
use graphhook_domain::{
    graph::microsoft::{
        TokenError,
        id_token::{GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR},
    },
    tenancy::onboarding::{Person, StateError},
};

use super::pages::{self, escape, paragraph};

pub fn retry_link() -> String {
    "    <p><a href=\"/onboarding\">Start again</a></p>\n".to_owned()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// The AADSTS code at the start of an Entra error description.
pub fn aadsts(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

pub fn state_page(error: &StateError) -> HttpResponse {
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

/// Entra sent the browser back from the sign-in with an error (cancelled, refused).
pub fn sign_in_error(error: &str, description: &str, subcode: Option<&str>) -> HttpResponse {
    let cancelled = subcode == Some("cancel") || error == "access_denied";
    let mut content = paragraph(if cancelled {
        "The sign-in was cancelled, so nothing was connected."
    } else {
        "Microsoft did not complete the sign-in, so nothing was connected."
    });
    let first_line = description.lines().next().unwrap_or_default();
    content.push_str(&format!(
        "    <p>Microsoft's error: <code>{}</code></p>\n    <p><samp>{}</samp></p>\n",
        escape(error),
        escape(first_line)
    ));
    content.push_str(&retry_link());
    pages::message(StatusCode::OK, "You were not signed in", &content)
}

/// The code could not be redeemed, or the id_token did not verify.
pub fn sign_in_unverified(reason: &str, status: StatusCode) -> HttpResponse {
    let content = format!("{}{}", paragraph(reason), retry_link());
    pages::message(status, "We could not verify your sign-in", &content)
}

/// What a failed code redemption tells the administrator.
pub fn redemption_failed(error: &TokenError) -> HttpResponse {
    match error {
        TokenError::Unavailable(_) => sign_in_unverified(
            "Graphhook could not reach Microsoft to finish your sign-in. Please start again in a few minutes.",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        TokenError::Configuration { .. } | TokenError::NotConfigured(_) => sign_in_unverified(
            "Graphhook's connection to Microsoft is misconfigured, so sign-ins cannot finish right now. Our operators have been alerted; please try again later.",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        TokenError::ConsentGone { code, .. } | TokenError::Refused { code, .. } => {
            sign_in_unverified(
                &format!(
                    "Microsoft refused to finish the sign-in (AADSTS{code}); the link may have been used already or be too old."
                ),
                StatusCode::BAD_REQUEST,
            )
        }
    }
}

fn signed_in_as(person: &Person) -> String {
    format!(
        "    <p>You are signed in as <strong>{}</strong>.</p>\n",
        escape(&person.label())
    )
}

/// The person holds neither Global Administrator nor Privileged Role Administrator (active).
pub fn not_an_administrator(person: &Person, onboarding_url: &str) -> HttpResponse {
    let mut content = signed_in_as(person);
    content.push_str(&paragraph(
        "Only a Global Administrator or a Privileged Role Administrator of your organization can grant Graphhook the application permissions it needs (Cloud Application and Application Administrators cannot grant them), so nothing was changed.",
    ));
    content.push_str(&paragraph(
        "If you are eligible for one of these roles through Privileged Identity Management, activate the role in the Microsoft Entra admin center first, then start again: only active roles count.",
    ));
    content.push_str(&format!(
        "    <p>Otherwise, ask a Global Administrator or Privileged Role Administrator of your organization to connect Graphhook: send them <a href=\"{url}\">{url}</a>, where they sign in and accept the permissions listed there.</p>\n",
        url = escape(onboarding_url)
    ));
    content.push_str(&format!(
        "    <p class=\"help\">Roles that can connect Graphhook: Global Administrator (<code>{GLOBAL_ADMINISTRATOR}</code>), Privileged Role Administrator (<code>{PRIVILEGED_ROLE_ADMINISTRATOR}</code>).</p>\n"
    ));
    content.push_str(&retry_link());
    pages::message(
        StatusCode::FORBIDDEN,
        "An administrator needs to connect your organization",
        &content,
    )
}

/// The id_token carries no `wids`: the app registration does not emit directory roles.
pub fn roles_not_issued(person: &Person) -> HttpResponse {
    let mut content = signed_in_as(person);
    content.push_str(&paragraph(
        "Microsoft did not tell Graphhook which administrator roles you hold, so Graphhook cannot check that you may grant its permissions, and nothing was changed.",
    ));
    content.push_str(&paragraph(
        "This is a setting of Graphhook's own app registration (groupMembershipClaims must include DirectoryRole), not of your organization. Our operators have been alerted; please try again later.",
    ));
    content.push_str(&retry_link());
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Graphhook cannot check your administrator role",
        &content,
    )
}
