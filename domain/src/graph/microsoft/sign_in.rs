//! An administrator's sign-in through Entra (OpenID Connect authorization code flow, through the
//! oauth2 crate): the authorization URL with a PKCE S256 challenge and a nonce, and the
//! redemption of the code that comes back, authenticated with our app's own credential (secret
//! or certificate, as the token broker holds it). The `id_token` it returns is checked by
//! [`super::id_token`]; nothing here believes it.
//!
//! Both use the `organizations` authority: any work or school account may sign in, and the
//! token's `tid` tells which organization it belongs to.
//!
//! The authorization URL and the token request are built here for any authority segment: a
//! connected user's sign-in and refresh ([`super::delegated`]) go through the same two steps.

use chrono::{DateTime, Utc};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    StandardTokenResponse, TokenUrl,
    basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::tokens::{EntraError, TokenBroker, TokenError, classify, request_failed, send};

/// The scopes of the sign-in: who the person is, nothing of their data.
pub const SIGN_IN_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The `id_token` beside the standard token response fields.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default)]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub(super) type SignInClient = oauth2::Client<
    EntraError,
    SignInResponse,
    BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the token endpoint answers a sign-in's or a connection's grant.
pub(super) type SignInResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// What is exchanged at the token endpoint for a user's tokens.
pub(super) enum Grant<'a> {
    /// A sign-in's code, with its PKCE verifier.
    Code { code: &'a str, verifier: &'a str },
    /// A connection's refresh token, asking again for the connection's scopes.
    Refresh {
        token: &'a SecretString,
        scopes: Vec<Scope>,
    },
}

/// What one sign-in request carries.
#[derive(Clone, Copy, Debug)]
pub struct SignInRequest<'a> {
    /// Where Entra sends the browser back (registered on the app).
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE verifier; the URL carries only its S256 challenge.
    pub pkce_verifier: &'a str,
}

/// A client for one authority segment (`organizations`, `consumers`).
pub(super) fn client_at(
    segment: &str,
    browser_authority: &str,
    authority: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Result<SignInClient, TokenError> {
    let bad =
        |what: &str, e: &dyn std::fmt::Display| TokenError::NotConfigured(format!("{what}: {e}"));
    let auth_url = AuthUrl::new(format!(
        "{}/{segment}/oauth2/v2.0/authorize",
        browser_authority.trim_end_matches('/')
    ))
    .map_err(|e| bad("microsoft.browser_authority_url", &e))?;
    let token_url = TokenUrl::new(format!(
        "{}/{segment}/oauth2/v2.0/token",
        authority.trim_end_matches('/')
    ))
    .map_err(|e| bad("microsoft.authority_url", &e))?;
    let redirect =
        RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| bad("api.public_base_url", &e))?;
    Ok(oauth2::Client::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(auth_url)
        .set_token_uri(token_url)
        .set_redirect_uri(redirect)
        .set_auth_type(AuthType::RequestBody))
}

/// The URL that sends the browser to Entra's sign-in, with `prompt=select_account` so an
/// administrator signed in with another account can choose.
pub fn authorize_url(
    browser_authority: &str,
    client_id: &str,
    request: SignInRequest<'_>,
) -> Result<String, TokenError> {
    let scopes = SIGN_IN_SCOPES.map(|s| Scope::new(s.to_owned())).to_vec();
    authorize_url_at(
        browser_authority,
        "organizations",
        client_id,
        request,
        scopes,
        None,
    )
}

/// The URL of a sign-in at `{browser_authority}/{segment}/oauth2/v2.0/authorize` asking for
/// `scopes`: a PKCE S256 challenge, the nonce, the answer in the query, `prompt=select_account`
/// (a person signed in with another account can choose) and the login hint, if any.
pub(super) fn authorize_url_at(
    browser_authority: &str,
    segment: &str,
    client_id: &str,
    request: SignInRequest<'_>,
    scopes: Vec<Scope>,
    login_hint: Option<&str>,
) -> Result<String, TokenError> {
    let client = client_at(
        segment,
        browser_authority,
        browser_authority,
        client_id,
        request.redirect_uri,
    )?;
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
        request.pkce_verifier.to_owned(),
    ));
    let state = request.state.to_owned();
    let mut builder = client
        .authorize_url(|| CsrfToken::new(state))
        .add_scopes(scopes)
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", request.nonce)
        .add_extra_param("response_mode", "query")
        .add_extra_param("prompt", "select_account");
    if let Some(hint) = login_hint {
        builder = builder.add_extra_param("login_hint", hint);
    }
    Ok(builder.url().0.to_string())
}

impl TokenBroker {
    /// Redeems a sign-in code at `{authority}/organizations/oauth2/v2.0/token` with the PKCE
    /// verifier and our app's credential; returns the `id_token` (not yet validated).
    #[tracing::instrument(skip_all)]
    pub async fn redeem_sign_in_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
    ) -> Result<String, TokenError> {
        let now = self.clock.now();
        if let Some(error) = self.recent_configuration_problem(now) {
            return Err(error);
        }
        let result = self.redeem(code, redirect_uri, pkce_verifier).await;
        self.record_outcome(result.as_ref().err(), now);
        result
    }

    async fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
    ) -> Result<String, TokenError> {
        let grant = Grant::Code {
            code,
            verifier: pkce_verifier,
        };
        let now = self.clock.now();
        let response = self
            .grant("organizations", redirect_uri, grant, now, classify)
            .await?;
        response.extra_fields().id_token.clone().ok_or_else(|| {
            TokenError::Unavailable("the token endpoint returned no id_token".into())
        })
    }

    /// Sends `grant` to `{authority}/{segment}/oauth2/v2.0/token` with our app's credential;
    /// Entra's refusal is named by `classify`.
    pub(super) async fn grant<E: From<TokenError>>(
        &self,
        segment: &str,
        redirect_uri: &str,
        grant: Grant<'_>,
        now: DateTime<Utc>,
        classify: impl FnOnce(&EntraError) -> E,
    ) -> Result<SignInResponse, E> {
        let token_url = format!("{}/{segment}/oauth2/v2.0/token", self.authority);
        let auth = self.client_auth(&token_url, now)?;
        let mut client = client_at(
            segment,
            &self.authority,
            &self.authority,
            &auth.client_id,
            redirect_uri,
        )?;
        if let Some(secret) = auth.secret {
            client = client.set_client_secret(secret);
        }
        let http = self.http.clone();
        let sender = |req| send(http.clone(), req);
        let response = match grant {
            Grant::Code { code, verifier } => {
                let mut request = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
                for (name, value) in auth.params {
                    request = request.add_extra_param(name, value);
                }
                request.request_async(&sender).await
            }
            Grant::Refresh { token, scopes } => {
                let refresh = RefreshToken::new(token.expose_secret().to_owned());
                let mut request = client.exchange_refresh_token(&refresh).add_scopes(scopes);
                for (name, value) in auth.params {
                    request = request.add_extra_param(name, value);
                }
                request.request_async(&sender).await
            }
        };
        response.map_err(|e| request_failed(e, classify))
    }
}

#[cfg(test)]
mod tests {

    use std::collections::HashMap;

    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn the_sign_in_url_carries_an_s256_challenge_a_nonce_and_the_state_but_not_the_verifier() {
        let verifier = "v".repeat(43);
        let url = authorize_url(
            "https://login.example/",
            "client",
            SignInRequest {
                redirect_uri: "https://graphhook.example/onboarding/signed-in",
                state: "the-state",
                nonce: "the-nonce",
                pkce_verifier: &verifier,
            },
        )
        .unwrap();
        let url = url::Url::parse(&url).unwrap();
        assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["client_id"], "client");
        assert_eq!(params["scope"], "openid profile email");
        assert_eq!(params["state"], "the-state");
        assert_eq!(params["nonce"], "the-nonce");
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(
            params["code_challenge"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        );
        assert!(!url.as_str().contains(&verifier));
    }
}
