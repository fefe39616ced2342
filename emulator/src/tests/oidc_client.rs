//! What an OpenID Connect client does against the emulator: build authorize URLs, follow the
//! redirect back, redeem the code, and verify an ID token with the published keys.

use serde_json::{Value, json};

use super::harness::*;
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};

/// A redirect URI registered by default for sign-in.
pub const SIGNED_IN: &str = "http://127.0.0.1:8080/onboarding/signed-in";
/// The PKCE example of RFC 7636 (appendix B): a verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const NONCE: &str = "n-0S6_WzA2Mj";
pub const STATE: &str = "af0ifjsldkj";
pub const CONTOSO_ADMIN: &str = "admin@contoso.onmicrosoft.com";

/// Replaces (`Some`) or removes (`None`) parameters of a default list.
fn merged(
    defaults: Vec<(&'static str, String)>,
    overrides: &[(&str, Option<&str>)],
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = defaults
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (name, value) in overrides {
        params.retain(|(k, _)| k != name);
        if let Some(value) = value {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    params
}

/// An authorize URL for the default app: code flow, PKCE S256, a nonce, `openid profile email`.
pub fn authorize_url(emu: &Emu, tenant: &str, overrides: &[(&str, Option<&str>)]) -> String {
    let defaults = vec![
        ("client_id", DEFAULT_CLIENT_ID.to_owned()),
        ("response_type", "code".to_owned()),
        ("redirect_uri", SIGNED_IN.to_owned()),
        ("scope", "openid profile email".to_owned()),
        ("state", STATE.to_owned()),
        ("nonce", NONCE.to_owned()),
        ("code_challenge", CHALLENGE.to_owned()),
        ("code_challenge_method", "S256".to_owned()),
    ];
    let mut url = url::Url::parse(&emu.url(&format!("/{tenant}/oauth2/v2.0/authorize"))).unwrap();
    url.query_pairs_mut()
        .extend_pairs(merged(defaults, overrides));
    url.to_string()
}

pub async fn get(emu: &Emu, url: &str) -> reqwest::Response {
    emu.client.get(url).send().await.unwrap()
}

/// The `Location` of a 302.
pub fn location(response: &reqwest::Response) -> url::Url {
    assert_eq!(response.status().as_u16(), 302, "a redirect");
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Signs `user` in unattended through `tenant`'s authorize endpoint; returns the code.
pub async fn code_for(emu: &Emu, user: &str, tenant: &str) -> String {
    code_with(emu, user, tenant, &[]).await
}

pub async fn code_with(
    emu: &Emu,
    user: &str,
    tenant: &str,
    overrides: &[(&str, Option<&str>)],
) -> String {
    emu.behaviour(json!({"auto_sign_in_user": user})).await;
    let response = get(emu, &authorize_url(emu, tenant, overrides)).await;
    let back = location(&response);
    assert!(back.as_str().starts_with(SIGNED_IN), "{back}");
    param(&back, "code").expect("a code")
}

/// Redeems a code at `tenant`'s token endpoint with the client secret and [`VERIFIER`].
pub async fn redeem(
    emu: &Emu,
    tenant: &str,
    code: &str,
    overrides: &[(&str, Option<&str>)],
) -> reqwest::Response {
    let defaults = vec![
        ("client_id", DEFAULT_CLIENT_ID.to_owned()),
        ("client_secret", DEFAULT_CLIENT_SECRET.to_owned()),
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", SIGNED_IN.to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
    ];
    let form = merged(defaults, overrides);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    emu.token_response(tenant, &pairs).await
}

/// A successful redemption's body.
pub async fn tokens(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// A token error's status, `error` and first AADSTS code.
pub async fn refusal(response: reqwest::Response) -> (u16, String, u64) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_codes"][0].as_u64().unwrap_or_default(),
    )
}

/// The refusal of redeeming `code` at `tenant`, read as [`refusal`] does.
pub async fn redeem_refused(
    emu: &Emu,
    tenant: &str,
    code: &str,
    overrides: &[(&str, Option<&str>)],
) -> (u16, String, u64) {
    refusal(redeem(emu, tenant, code, overrides).await).await
}

/// A fresh code of the Contoso admin's sign-in, and the refusal of redeeming it at Contoso
/// with `overrides`.
pub async fn fresh_code_refused(
    emu: &Emu,
    overrides: &[(&str, Option<&str>)],
) -> (String, (u16, String, u64)) {
    let code = code_for(emu, CONTOSO_ADMIN, DEFAULT_TENANT_ID).await;
    let refused = redeem_refused(emu, DEFAULT_TENANT_ID, &code, overrides).await;
    (code, refused)
}

/// A 400 `invalid_grant` with this AADSTS code, as [`refusal`] reads it.
pub fn invalid_grant(code: u64) -> (u16, String, u64) {
    (400, "invalid_grant".to_owned(), code)
}

/// The ID token's claims, after checking its signature with the tenant's published v2 keys,
/// its audience (our client id) and its issuer (`{authority}/{tid}/v2.0`).
pub async fn verified_id_token(emu: &Emu, id_token: &str, tid: &str) -> Value {
    let keys: Value = get(emu, &emu.url(&format!("/{tid}/discovery/v2.0/keys")))
        .await
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| Some(k["kid"].as_str().unwrap()) == header.kid.as_deref())
        .expect("the token's kid is in the JWKS");
    let decoding = jwk_decoding_key(key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // The emulator's clock is not the wall clock; lifetimes are checked by the tests.
    validation.validate_exp = false;
    validation.set_audience(&[DEFAULT_CLIENT_ID]);
    validation.set_issuer(&[format!("{}/{tid}/v2.0", emu.emu.base_url)]);
    jsonwebtoken::decode::<Value>(id_token, &decoding, &validation)
        .expect("signature, audience and issuer verify")
        .claims
}

/// A user's object id, from the control API.
pub async fn user_id(emu: &Emu, upn: &str) -> String {
    let tenants = emu
        .control_json(reqwest::Method::GET, "/tenants", None)
        .await;
    tenants
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["users"].as_array().unwrap().iter())
        .find(|u| u["userPrincipalName"] == upn)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .expect("the user exists")
}

/// The hidden fields of a page's form, unescaped.
pub fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split_once('"')?.0;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

/// An ID token's `wids`.
pub fn wids(claims: &Value) -> Vec<String> {
    claims["wids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// Where the browser goes back to after `user` signs in through `tenant`'s authorize endpoint
/// asking for `scope` (a code, or an error).
pub async fn sign_in_back(emu: &Emu, user: &str, tenant: &str, scope: &str) -> url::Url {
    emu.behaviour(json!({"auto_sign_in_user": user})).await;
    let response = get(emu, &authorize_url(emu, tenant, &[("scope", Some(scope))])).await;
    location(&response)
}

/// Signs `user` in through `tenant` asking for `scope` and redeems the code there: the token
/// response's body.
pub async fn user_tokens(emu: &Emu, user: &str, tenant: &str, scope: &str) -> Value {
    let code = code_with(emu, user, tenant, &[("scope", Some(scope))]).await;
    tokens(redeem(emu, tenant, &code, &[]).await).await
}

/// A refresh-token grant at `tenant` with the client secret, plus `extra` form fields.
pub async fn refresh(
    emu: &Emu,
    tenant: &str,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    emu.token_response(tenant, &form).await
}

/// Refreshes the refresh token in `grant` (a token response's body) at `tenant`: the
/// successful answer's body.
pub async fn refresh_ok(emu: &Emu, tenant: &str, grant: &Value) -> Value {
    let token = grant["refresh_token"].as_str().unwrap();
    tokens(refresh(emu, tenant, token, &[]).await).await
}

/// Refreshes the refresh token in `grant` at `tenant`: the refusal's body, checking it is a
/// 400.
pub async fn refresh_refused(emu: &Emu, tenant: &str, grant: &Value) -> Value {
    let token = grant["refresh_token"].as_str().unwrap();
    token_error(refresh(emu, tenant, token, &[]).await, 400).await
}

/// A token error's body, checking its status.
pub async fn token_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.unwrap()
}
