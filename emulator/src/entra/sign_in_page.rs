//! The sign-in page the authorize endpoint shows when no `auto_sign_in_user` is set: "Sign in to
//! your account", one radio button per user the URL's tenant allows (display name, UPN, tenant,
//! directory roles), the `login_hint` user checked. The request travels in hidden fields to
//! `POST /_emulator/sign-in/decide` ([`super::sign_in_form`]).

use actix_web::HttpResponse;
use uuid::Uuid;

use super::{redirects::hidden, request::SignInRequest};
use crate::{directory_roles, http::escape_html, shared::Shared};

fn role_names(roles: &[Uuid]) -> String {
    if roles.is_empty() {
        return "no directory role".to_owned();
    }
    roles
        .iter()
        .map(|id| directory_roles::name(*id).map_or_else(|| id.to_string(), str::to_owned))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page for a checked request.
pub fn page(shared: &Shared, request: &SignInRequest, login_hint: Option<&str>) -> HttpResponse {
    let world = shared.world();
    let accounts: Vec<_> = world
        .tenants
        .values()
        .filter(|t| request.audience.allows(t.id))
        .flat_map(|t| t.users.iter().map(move |u| (t, u)))
        .collect();
    let hinted = login_hint.and_then(|hint| accounts.iter().position(|(_, u)| u.is_named(hint)));
    let checked = hinted.unwrap_or(0);
    let options: String = accounts
        .iter()
        .enumerate()
        .map(|(i, (t, u))| {
            format!(
                "<div><input type=\"radio\" name=\"user\" id=\"u{i}\" value=\"{}\"{}><label for=\"u{i}\"><strong>{}</strong> {} — {} ({})</label></div>",
                u.id,
                if i == checked { " checked" } else { "" },
                escape_html(&u.display_name),
                escape_html(&u.user_principal_name),
                escape_html(&t.display_name),
                escape_html(&role_names(&u.roles)),
            )
        })
        .collect();
    let options = if options.is_empty() {
        "<p>No account can sign in to this organization.</p>".to_owned()
    } else {
        options
    };
    let optional = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| hidden(name, v))
            .unwrap_or_default()
    };
    let challenge = request
        .code_challenge
        .as_ref()
        .map(|(challenge, method)| {
            hidden("code_challenge", challenge) + &hidden("code_challenge_method", method.as_str())
        })
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head><body><main>\
         <h1>Sign in to your account</h1><p>Pick an account to sign in to <strong>{app}</strong> (emulated Entra ID).</p>\
         <form method=\"post\" action=\"/_emulator/sign-in/decide\"><fieldset><legend>Account</legend>{options}</fieldset>\
         {tenant}{client}{response_type}{redirect}{scope}{state}{nonce}{challenge}\
         <button type=\"submit\" name=\"decision\" value=\"sign_in\">Sign in</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form></main></body></html>",
        app = escape_html(&world.app.display_name),
        tenant = hidden("tenant", &request.segment),
        client = hidden("client_id", &request.client_id.to_string()),
        response_type = hidden("response_type", "code"),
        redirect = hidden("redirect_uri", &request.redirect_uri),
        scope = hidden("scope", &request.scope),
        state = optional("state", &request.state),
        nonce = optional("nonce", &request.nonce),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
