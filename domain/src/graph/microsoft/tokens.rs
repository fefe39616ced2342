//! The token broker: app-only Graph tokens per customer tenant, by the client-credentials grant
//! (oauth2 crate) against `{authority}/{tenant}/oauth2/v2.0/token`, with a client secret or a
//! certificate (client assertion JWT carrying `x5t` and `x5t#S256`).
//!
//! Tokens live only in this process's memory, per tenant, until five minutes before they
//! expire. When many tasks ask for the same tenant's token at once, one of them fetches and the
//! others wait for it. Errors are typed: only the AADSTS codes that mean consent or the app is
//! gone (§8.2) are [`TokenError::ConsentGone`]; a bad or expired credential is a
//! [`TokenError::Configuration`], remembered for a minute so callers do not hammer the endpoint,
//! and shown by [`TokenBroker::configuration_problem`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration as StdDuration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
    basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenResponse},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::claims::{GraphTokenClaims, read_unverified};
use crate::{Clock, platform::config::MicrosoftSettings};

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// AADSTS codes meaning the app is no longer in the tenant or consent is missing (§8.2).
const CONSENT_GONE: &[u32] = &[700016, 7000229, 65001];
/// AADSTS codes meaning our own credentials or request are wrong (§8.2).
const CONFIGURATION: &[u32] = &[
    7000215, 7000222, 700027, 700024, 7000112, 7000218, 70011, 1002012,
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The app was removed from the tenant, or consent is missing: the tenant must consent again.
    #[error("AADSTS{code}: {message}")]
    ConsentGone { code: u32, message: String },
    /// Our credentials or request are wrong: an operator must fix the configuration.
    #[error("configuration error, AADSTS{code}: {message}")]
    Configuration { code: u32, message: String },
    /// Entra refused for another reason (e.g. AADSTS90002, tenant not found).
    #[error("AADSTS{code}: {message}")]
    Refused { code: u32, message: String },
    /// The token endpoint could not be reached or answered nonsense: try again later.
    #[error("the token endpoint is unavailable: {0}")]
    Unavailable(String),
    /// Graphhook has no app registration configured.
    #[error("not configured: {0}")]
    NotConfigured(String),
}

impl TokenError {
    pub fn aadsts(&self) -> Option<u32> {
        match self {
            TokenError::ConsentGone { code, .. }
            | TokenError::Configuration { code, .. }
            | TokenError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            TokenError::ConsentGone { .. } => "consent_gone",
            TokenError::Configuration { .. } | TokenError::NotConfigured(_) => "configuration",
            TokenError::Refused { .. } => "refused",
            TokenError::Unavailable(_) => "unavailable",
        }
    }
}

/// Entra's token error body (§8.2), which oauth2's standard type would cut down.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntraError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u32>,
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.error_description)
    }
}

impl oauth2::ErrorResponse for EntraError {}

type EntraClient = oauth2::Client<
    EntraError,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A Graph access token for one tenant. `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub claims: GraphTokenClaims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .field("tid", &self.claims.tid)
            .field("roles", &self.claims.roles)
            .finish_non_exhaustive()
    }
}

pub(super) enum Credential {
    Secret(SecretString),
    Certificate {
        key: EncodingKey,
        x5t: String,
        x5t_s256: String,
    },
}

pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

#[derive(derive_more::Debug)]
pub struct TokenBroker {
    #[debug(skip)]
    pub(super) http: reqwest::Client,
    pub(super) authority: String,
    #[debug(skip)]
    pub(super) client_id: Option<String>,
    #[debug(skip)]
    pub(super) credential: Option<Credential>,
    #[debug(skip)]
    pub(super) clock: Clock,
    #[debug(skip)]
    margin: Duration,
    #[debug(skip)]
    slots: Mutex<HashMap<Uuid, Slot>>,
    /// Connected users' tokens, per connection (see [`crate::tenancy::connections::tokens`]).
    #[debug(skip)]
    connection_slots: Mutex<HashMap<Uuid, Slot>>,
    #[debug(skip)]
    config_problem: Mutex<Option<(TokenError, DateTime<Utc>)>>,
}

/// How long a configuration error is answered from memory before the endpoint is asked again.
const CONFIG_COOLDOWN_SECS: i64 = 60;

impl TokenBroker {
    pub fn new(settings: &MicrosoftSettings, clock: Clock) -> anyhow::Result<Self> {
        let http = super::http_client(StdDuration::from_secs(15))?;
        let credential = match (
            &settings.client_certificate,
            &settings.client_private_key,
            &settings.client_secret,
        ) {
            (Some(cert), Some(key), _) => {
                let der = crate::graph::microsoft::tokens::pem_to_der(cert)?;
                let key = EncodingKey::from_rsa_pem(key.expose_secret().as_bytes())?;
                Some(Credential::Certificate {
                    key,
                    x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
                    x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
                })
            }
            (_, _, Some(secret)) => Some(Credential::Secret(secret.clone())),
            _ => None,
        };
        Ok(Self {
            http,
            authority: settings.authority_url.trim_end_matches('/').to_owned(),
            client_id: settings.client_id.clone(),
            credential,
            clock,
            margin: Duration::minutes(5),
            slots: Mutex::new(HashMap::new()),
            connection_slots: Mutex::new(HashMap::new()),
            config_problem: Mutex::new(None),
        })
    }

    fn slot(&self, tenant: Uuid) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(tenant).or_default().clone()
    }

    /// A token for the tenant, from memory while it has more than five minutes left.
    #[tracing::instrument(skip(self), fields(tenant = %tenant))]
    pub async fn token(&self, tenant: Uuid) -> Result<AccessToken, TokenError> {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_at - self.margin > self.clock.now()
        {
            return Ok(token.clone());
        }
        let token = self.fetch(tenant).await;
        *cached = token.as_ref().ok().cloned();
        token
    }

    /// A token fetched now, bypassing memory (to see newly granted roles).
    #[tracing::instrument(skip(self), fields(tenant = %tenant))]
    pub async fn fresh_token(&self, tenant: Uuid) -> Result<AccessToken, TokenError> {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        let token = self.fetch(tenant).await;
        *cached = token.as_ref().ok().cloned();
        token
    }

    /// The in-process slot of a connection's access token: one task at a time refreshes it.
    pub(crate) fn connection_slot(&self, connection: Uuid) -> Slot {
        let mut slots = self
            .connection_slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slots.entry(connection).or_default().clone()
    }

    /// Forgets a connection's token (deleted, or its user must connect again).
    pub fn forget_connection(&self, connection: Uuid) {
        self.connection_slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&connection);
    }

    /// How long before expiry a cached token is replaced.
    pub(crate) fn margin(&self) -> Duration {
        self.margin
    }

    /// Forgets a tenant's token (e.g. when its consent was revoked).
    pub fn forget(&self, tenant: Uuid) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tenant);
    }

    /// The last configuration error, while it is recent: for readiness details.
    pub fn configuration_problem(&self) -> Option<String> {
        self.config_problem()
            .as_ref()
            .map(|(e, at)| format!("{e} (at {})", at.to_rfc3339()))
    }

    async fn fetch(&self, tenant: Uuid) -> Result<AccessToken, TokenError> {
        let now = self.clock.now();
        if let Some(error) = self.recent_configuration_problem(now) {
            return Err(error);
        }
        let result = self.request(tenant, now).await;
        self.record_outcome(result.as_ref().err(), now);
        result
    }

    /// The last configuration error and when it was seen.
    fn config_problem(&self) -> MutexGuard<'_, Option<(TokenError, DateTime<Utc>)>> {
        self.config_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A configuration error seen less than [`CONFIG_COOLDOWN_SECS`] ago: answered from memory
    /// instead of asking the token endpoint again.
    pub(super) fn recent_configuration_problem(&self, now: DateTime<Utc>) -> Option<TokenError> {
        self.config_problem()
            .as_ref()
            .filter(|(_, at)| now - *at < Duration::seconds(CONFIG_COOLDOWN_SECS))
            .map(|(error, _)| error.clone())
    }

    /// Counts a token endpoint answer and remembers (or forgets) a configuration error.
    pub(super) fn record_outcome(&self, error: Option<&TokenError>, now: DateTime<Utc>) {
        let outcome = error.map_or("ok", TokenError::kind);
        metrics::counter!("graphhook_token_requests_total", "outcome" => outcome).increment(1);
        let mut problem = self.config_problem();
        match error {
            Some(e @ (TokenError::Configuration { .. } | TokenError::NotConfigured(_))) => {
                tracing::error!(error = %e, "the token endpoint refused our app's credentials");
                *problem = Some((e.clone(), now));
            }
            None => *problem = None,
            Some(e) => tracing::warn!(error = %e, "no token"),
        }
    }

    async fn request(&self, tenant: Uuid, now: DateTime<Utc>) -> Result<AccessToken, TokenError> {
        let token_url = format!("{}/{tenant}/oauth2/v2.0/token", self.authority);
        let auth = self.client_auth(&token_url, now)?;
        let url = TokenUrl::new(token_url)
            .map_err(|e| TokenError::NotConfigured(format!("microsoft.authority_url: {e}")))?;
        let mut client: EntraClient = oauth2::Client::new(ClientId::new(auth.client_id))
            .set_token_uri(url)
            .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = auth.secret {
            client = client.set_client_secret(secret);
        }
        let mut request = client
            .exchange_client_credentials()
            .add_scope(Scope::new(GRAPH_SCOPE.into()));
        for (name, value) in auth.params {
            request = request.add_extra_param(name, value);
        }
        let http = self.http.clone();
        let response = request
            .request_async(&|req| send(http.clone(), req))
            .await
            .map_err(|e| request_failed(e, classify))?;
        let token = response.access_token().secret().to_owned();
        let claims = read_unverified(&token).ok_or_else(|| {
            TokenError::Unavailable("the token endpoint returned an unreadable token".into())
        })?;
        Ok(AccessToken {
            token: SecretString::from(token),
            expires_at: expiry(now, response.expires_in()),
            claims,
        })
    }

    /// Our app's client id, and how a request to `token_url` proves it comes from our app.
    pub(super) fn client_auth(
        &self,
        token_url: &str,
        now: DateTime<Utc>,
    ) -> Result<ClientAuth, TokenError> {
        let client_id = self
            .client_id
            .clone()
            .ok_or_else(|| TokenError::NotConfigured("microsoft.client_id is not set".into()))?;
        let credential = self.credential.as_ref().ok_or_else(|| {
            TokenError::NotConfigured(
                "set microsoft.client_secret, or microsoft.client_certificate and microsoft.client_private_key".into(),
            )
        })?;
        let (secret, params) = match credential {
            Credential::Secret(secret) => (
                Some(ClientSecret::new(secret.expose_secret().to_owned())),
                Vec::new(),
            ),
            Credential::Certificate { key, x5t, x5t_s256 } => {
                let assertion = client_assertion(key, x5t, x5t_s256, &client_id, token_url, now)?;
                let params = vec![
                    ("client_assertion_type", ASSERTION_TYPE.to_owned()),
                    ("client_assertion", assertion),
                ];
                (None, params)
            }
        };
        Ok(ClientAuth {
            client_id,
            secret,
            params,
        })
    }
}

/// How a token request proves it comes from our app: with a client secret, which oauth2 sends
/// itself, or with a client assertion signed by our certificate, sent as extra parameters.
pub(super) struct ClientAuth {
    pub client_id: String,
    pub secret: Option<ClientSecret>,
    pub params: Vec<(&'static str, String)>,
}

/// When a token the endpoint answered with expires: `expires_in` from `now` (an hour when the
/// answer does not say).
pub(super) fn expiry(now: DateTime<Utc>, expires_in: Option<StdDuration>) -> DateTime<Utc> {
    let lifetime = expires_in.unwrap_or(StdDuration::from_secs(3599));
    now + Duration::from_std(lifetime).unwrap_or(Duration::hours(1))
}

/// A token request that failed: Entra's own error through `classify`, anything else (no
/// answer, an unreadable one) [`TokenError::Unavailable`].
pub(super) fn request_failed<E: From<TokenError>>(
    error: RequestTokenError<HttpError, EntraError>,
    classify: impl FnOnce(&EntraError) -> E,
) -> E {
    let unavailable = match error {
        RequestTokenError::ServerResponse(error) => return classify(&error),
        RequestTokenError::Request(e) => e.to_string(),
        RequestTokenError::Parse(e, _) => format!("unreadable answer: {e}"),
        RequestTokenError::Other(e) => e,
    };
    TokenError::Unavailable(unavailable).into()
}

pub(super) fn classify(error: &EntraError) -> TokenError {
    let code = error.error_codes.first().copied().unwrap_or(0);
    // The first line of the description, without the trace trailer.
    let message = error.error_description.lines().next().unwrap_or_default();
    let message = message
        .split_once(": ")
        .map(|(_, m)| m)
        .unwrap_or(message)
        .to_owned();
    if CONSENT_GONE.contains(&code) {
        TokenError::ConsentGone { code, message }
    } else if CONFIGURATION.contains(&code) || error.error == "invalid_client" {
        TokenError::Configuration { code, message }
    } else {
        TokenError::Refused { code, message }
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

pub(super) fn client_assertion(
    key: &EncodingKey,
    x5t: &str,
    x5t_s256: &str,
    client_id: &str,
    token_url: &str,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.x5t = Some(x5t.to_owned());
    header.x5t_s256 = Some(x5t_s256.to_owned());
    let claims = AssertionClaims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: Uuid::new_v4().to_string(),
        nbf: now.timestamp(),
        iat: now.timestamp(),
        exp: (now + Duration::minutes(10)).timestamp(),
    };
    jsonwebtoken::encode(&header, &claims, key)
        .map_err(|e| TokenError::NotConfigured(format!("signing the client assertion: {e}")))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(#[from] reqwest::Error);

pub(super) async fn send(
    http: reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = response.bytes().await?.to_vec();
    // A response built from a valid status and headers cannot fail to build.
    Ok(builder.body(body).unwrap_or_default())
}

/// The DER bytes of a PEM certificate.
pub fn pem_to_der(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}

#[cfg(test)]
mod tests;
