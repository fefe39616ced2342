//! A connected user's tokens (delegated access, graph-protocol.md §6.2): the authorization URL
//! a user signs in through (`organizations` for work/school accounts, `consumers` for personal
//! ones; PKCE S256, a nonce, `offline_access` and the Graph permissions the chosen resources
//! need), the code's redemption, and the refresh-token grant that keeps the connection alive.
//! Entra rotates refresh tokens: every answer may carry a new one, which the caller must store
//! before it uses the access token.
//!
//! Errors that only the user can fix (`invalid_grant`: revoked, expired, password changed,
//! consent withdrawn; `interaction_required`: MFA or Conditional Access) are
//! [`DelegatedError::Reauthorize`]; everything else is a [`TokenError`] as for app-only tokens.

use chrono::{DateTime, Utc};
use oauth2::{Scope, TokenResponse};
use secrecy::SecretString;

use super::{
    sign_in::{Grant, SignInRequest, SignInResponse, authorize_url_at},
    tokens::{TokenBroker, TokenError, classify, expiry},
};

/// Graph's resource prefix for delegated scopes.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com/";
/// What every connection's sign-in asks for besides Graph permissions.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// Entra's tenant of personal Microsoft accounts: the `tid` of their tokens.
pub const CONSUMERS_TENANT: uuid::Uuid = uuid::uuid!("9188040d-6c67-4c5b-b112-36a304b66dad");

/// What the token endpoint gave for a connected user.
#[derive(derive_more::Debug)]
pub struct DelegatedTokens {
    #[debug(skip)]
    pub access_token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// A new refresh token (Entra rotates them); `None` when the answer carried none.
    #[debug(skip)]
    pub refresh_token: Option<SecretString>,
    #[debug(skip)]
    pub id_token: Option<String>,
    /// The Graph permissions granted, without the resource prefix.
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DelegatedError {
    /// Only the user can fix it by connecting again (`invalid_grant`, `interaction_required`).
    #[error("{error}, AADSTS{code}: {message}")]
    Reauthorize {
        error: String,
        code: u32,
        message: String,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The URL a user is sent to, to connect: `{authority}/{segment}/oauth2/v2.0/authorize` with
/// `offline_access`, the OpenID scopes and `scopes` (bare Graph permission names).
pub fn authorize_url(
    browser_authority: &str,
    segment: &str,
    client_id: &str,
    request: SignInRequest<'_>,
    scopes: &[String],
    login_hint: Option<&str>,
) -> Result<String, TokenError> {
    let scopes = connection_scopes(scopes);
    authorize_url_at(
        browser_authority,
        segment,
        client_id,
        request,
        scopes,
        login_hint,
    )
}

/// What a connection asks for: the OpenID scopes with `offline_access`, and `scopes` (bare Graph
/// permission names) under Graph's resource prefix.
fn connection_scopes(scopes: &[String]) -> Vec<Scope> {
    let oidc = OIDC_SCOPES.iter().map(|s| (*s).to_owned());
    let graph = scopes.iter().map(|s| format!("{GRAPH_RESOURCE}{s}"));
    oidc.chain(graph).map(Scope::new).collect()
}

/// A granted scope without Graph's resource prefix; `None` for the OpenID ones.
fn graph_permission(scope: &str) -> Option<String> {
    let bare = scope
        .strip_prefix(GRAPH_RESOURCE)
        .or_else(|| scope.strip_prefix("00000003-0000-0000-c000-000000000000/"))
        .unwrap_or(scope);
    (!OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(bare)) && !bare.is_empty())
        .then(|| bare.to_owned())
}

/// Entra's errors that only the user can fix.
fn classify_delegated(error: &super::tokens::EntraError) -> DelegatedError {
    if matches!(
        error.error.as_str(),
        "invalid_grant" | "interaction_required" | "consent_required" | "login_required"
    ) {
        let code = error.error_codes.first().copied().unwrap_or(0);
        let line = error.error_description.lines().next().unwrap_or_default();
        let message = line.split_once(": ").map_or(line, |(_, m)| m).to_owned();
        return DelegatedError::Reauthorize {
            error: error.error.clone(),
            code,
            message,
        };
    }
    DelegatedError::Token(classify(error))
}

/// What Entra answered, kept: the tokens, when the access token expires, and the Graph
/// permissions it was granted.
fn delegated_tokens(response: &SignInResponse, now: DateTime<Utc>) -> DelegatedTokens {
    DelegatedTokens {
        access_token: SecretString::from(response.access_token().secret().to_owned()),
        expires_at: expiry(now, response.expires_in()),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().to_owned())),
        id_token: response.extra_fields().id_token.clone(),
        scopes: response
            .scopes()
            .map(|scopes| {
                scopes
                    .iter()
                    .filter_map(|s| graph_permission(s.as_str()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl TokenBroker {
    /// Redeems a connection's sign-in code (with its PKCE verifier and our credential).
    #[tracing::instrument(skip_all, fields(segment))]
    pub async fn redeem_connection_code(
        &self,
        segment: &str,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: &str,
    ) -> Result<DelegatedTokens, DelegatedError> {
        let grant = Grant::Code {
            code,
            verifier: pkce_verifier,
        };
        self.delegated(segment, redirect_uri, grant).await
    }

    /// Exchanges a connection's refresh token for a new access token (and refresh token).
    #[tracing::instrument(skip_all, fields(segment))]
    pub async fn refresh_connection(
        &self,
        segment: &str,
        redirect_uri: &str,
        refresh_token: &SecretString,
        scopes: &[String],
    ) -> Result<DelegatedTokens, DelegatedError> {
        let grant = Grant::Refresh {
            token: refresh_token,
            scopes: connection_scopes(scopes),
        };
        self.delegated(segment, redirect_uri, grant).await
    }

    async fn delegated(
        &self,
        segment: &str,
        redirect_uri: &str,
        grant: Grant<'_>,
    ) -> Result<DelegatedTokens, DelegatedError> {
        let now = self.clock.now();
        if let Some(error) = self.recent_configuration_problem(now) {
            return Err(error.into());
        }
        let result = self
            .request_delegated(segment, redirect_uri, grant, now)
            .await;
        let as_token_error = match &result {
            Err(DelegatedError::Token(e)) => Some(e),
            _ => None,
        };
        self.record_outcome(as_token_error, now);
        result
    }

    async fn request_delegated(
        &self,
        segment: &str,
        redirect_uri: &str,
        grant: Grant<'_>,
        now: DateTime<Utc>,
    ) -> Result<DelegatedTokens, DelegatedError> {
        let response = self
            .grant(segment, redirect_uri, grant, now, classify_delegated)
            .await?;
        Ok(delegated_tokens(&response, now))
    }
}

#[cfg(test)]
mod tests {

    use std::collections::HashMap;

    use super::*;
    use crate::graph::microsoft::tokens::EntraError;

    #[test]
    fn a_connection_url_asks_for_offline_access_and_graph_permissions_at_its_authority() {
        let url = authorize_url(
            "https://login.example",
            "consumers",
            "client",
            SignInRequest {
                redirect_uri: "https://graphhook.example/connections/callback",
                state: "s",
                nonce: "n",
                pkce_verifier: &"v".repeat(43),
            },
            &["Files.ReadWrite".to_owned()],
            Some("alice@outlook.com"),
        )
        .unwrap();
        let url = url::Url::parse(&url).unwrap();
        assert_eq!(url.path(), "/consumers/oauth2/v2.0/authorize");
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            params["scope"],
            "openid profile email offline_access https://graph.microsoft.com/Files.ReadWrite"
        );
        assert_eq!(params["login_hint"], "alice@outlook.com");
        assert_eq!(params["code_challenge_method"], "S256");
    }

    #[test]
    fn only_the_errors_a_user_can_fix_ask_for_reauthorization() {
        let error = |error: &str, code: u32| EntraError {
            error: error.into(),
            error_description: format!("AADSTS{code}: Something.\r\nTrace ID: x"),
            error_codes: vec![code],
        };
        for (name, code) in [("invalid_grant", 50173), ("interaction_required", 50076)] {
            assert_eq!(
                classify_delegated(&error(name, code)),
                DelegatedError::Reauthorize {
                    error: name.into(),
                    code,
                    message: "Something.".into()
                }
            );
        }
        assert!(matches!(
            classify_delegated(&error("invalid_client", 7000222)),
            DelegatedError::Token(TokenError::Configuration { .. })
        ));
        assert_eq!(
            graph_permission("https://graph.microsoft.com/Mail.Read").as_deref(),
            Some("Mail.Read")
        );
        assert_eq!(graph_permission("offline_access"), None);
    }

    #[test]
    fn debug_shows_the_expiry_and_scopes_but_no_token() {
        let tokens = DelegatedTokens {
            access_token: SecretString::from("access-secret"),
            expires_at: DateTime::UNIX_EPOCH,
            refresh_token: Some(SecretString::from("refresh-secret")),
            id_token: Some("id-secret".into()),
            scopes: vec!["Mail.Read".into()],
        };
        let shown = format!("{tokens:?}");
        assert!(
            shown.starts_with("DelegatedTokens { expires_at: "),
            "{shown}"
        );
        assert!(shown.ends_with(r#"scopes: ["Mail.Read"], .. }"#), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
