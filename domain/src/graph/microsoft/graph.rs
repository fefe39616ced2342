//! The Microsoft Graph client: subscription calls with a tenant's token. Graph's base URL comes
//! from configuration (the emulator in development and tests).

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::tokens::AccessToken;

/// The longest `Retry-After` from Graph that is honoured (seconds).
const MAX_RETRY_AFTER_SECS: u64 = 86_400;

/// A subscription to create (§1.2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription<'a> {
    pub change_type: &'a str,
    pub notification_url: &'a str,
    pub lifecycle_notification_url: &'a str,
    pub resource: &'a str,
    /// RFC 3339, UTC.
    pub expiration_date_time: String,
    pub client_state: &'a str,
    pub latest_supported_tls_version: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_resource_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_certificate: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_certificate_id: Option<&'a str>,
}

/// What Graphhook reads back from Graph's subscription.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSubscription {
    pub id: String,
    pub expiration_date_time: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub change_type: String,
    /// Which deployment it delivers to (the reconciler touches only its own).
    #[serde(default)]
    pub notification_url: Option<String>,
    /// Graph echoes it in the app's own listings, but the docs do not promise it (§1.1).
    #[serde(default)]
    pub client_state: Option<String>,
    #[serde(default)]
    pub include_resource_data: Option<bool>,
    /// Who created it: the app's service principal (app-only), or the signed-in user.
    #[serde(default)]
    pub creator_id: Option<String>,
}

/// One page of `GET /subscriptions` (§1.2 List).
#[derive(Deserialize)]
struct SubscriptionPage {
    #[serde(default)]
    value: Vec<GraphSubscription>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Pages of a listing followed at most; Graph documents no paging for it at all.
const MAX_LIST_PAGES: usize = 100;

/// Graph's error (§1.3), with the status and any `Retry-After`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("Graph answered {status} {code}: {message}")]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum GraphCallError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("Microsoft Graph could not be reached: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug)]
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
}

impl GraphClient {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        // Creating a subscription waits for Graph's validation handshake (up to 10 s).
        let http = super::http_client(Duration::from_secs(30))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn error_of(response: reqwest::Response) -> GraphCallError {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            // A day at most: Graph's number is not ours to trust with a timer's arithmetic.
            .map(|secs| secs.min(MAX_RETRY_AFTER_SECS));
        let body = response.bytes().await.unwrap_or_default();
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => (
                String::new(),
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            ),
        };
        GraphCallError::Graph(GraphError {
            status,
            code,
            message,
            retry_after,
        })
    }

    /// Sends a request with the tenant's token; an answer with another status than `expected`
    /// is Graph's error.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        token: &AccessToken,
        expected: &[u16],
    ) -> Result<reqwest::Response, GraphCallError> {
        let response = request
            .bearer_auth(token.token.expose_secret())
            .send()
            .await
            .map_err(|e| GraphCallError::Unavailable(e.to_string()))?;
        if !expected.contains(&response.status().as_u16()) {
            return Err(Self::error_of(response).await);
        }
        Ok(response)
    }

    /// Sends a request with the tenant's token and reads the JSON of its answer, which must
    /// have the `expected` status.
    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        token: &AccessToken,
        expected: u16,
    ) -> Result<T, GraphCallError> {
        self.call(request, token, &[expected])
            .await?
            .json()
            .await
            .map_err(|e| GraphCallError::Unavailable(format!("unreadable answer: {e}")))
    }

    /// `{base}/subscriptions/{id}`, followed by `rest`.
    fn subscription_url(&self, id: &str, rest: &str) -> String {
        format!("{}/subscriptions/{id}{rest}", self.base)
    }

    #[tracing::instrument(skip_all, fields(resource = subscription.resource))]
    pub async fn create_subscription(
        &self,
        token: &AccessToken,
        subscription: &NewSubscription<'_>,
    ) -> Result<GraphSubscription, GraphCallError> {
        let request = self
            .http
            .post(format!("{}/subscriptions", self.base))
            .json(subscription);
        self.call_json(request, token, 201).await
    }

    /// Every subscription this app holds in the token's tenant (app-only: only the app's own),
    /// following `@odata.nextLink` when Graph pages, but only on Graph's own base URL (the
    /// tenant's token goes nowhere else).
    #[tracing::instrument(skip_all)]
    pub async fn list_subscriptions(
        &self,
        token: &AccessToken,
    ) -> Result<Vec<GraphSubscription>, GraphCallError> {
        let mut all = Vec::new();
        let mut url = format!("{}/subscriptions", self.base);
        for _ in 0..MAX_LIST_PAGES {
            let page: SubscriptionPage = self.call_json(self.http.get(&url), token, 200).await?;
            all.extend(page.value);
            match page.next_link {
                Some(next) if next.starts_with(&format!("{}/", self.base)) => url = next,
                Some(next) => {
                    return Err(GraphCallError::Unavailable(format!(
                        "the listing's next page is not on Graph's base URL: {next}"
                    )));
                }
                None => return Ok(all),
            }
        }
        Err(GraphCallError::Unavailable(format!(
            "the listing has more than {MAX_LIST_PAGES} pages"
        )))
    }

    /// Renews a subscription: PATCH a new `expirationDateTime` (which also reauthorizes it).
    /// Graph answers with the subscription, whose expiry may be earlier than asked.
    #[tracing::instrument(skip_all, fields(id))]
    pub async fn renew_subscription(
        &self,
        token: &AccessToken,
        id: &str,
        expiration: &str,
    ) -> Result<GraphSubscription, GraphCallError> {
        let request = self
            .http
            .patch(self.subscription_url(id, ""))
            .json(&serde_json::json!({ "expirationDateTime": expiration }));
        self.call_json(request, token, 200).await
    }

    /// Reauthorizes a subscription without changing its expiry (§1.2, §4).
    #[tracing::instrument(skip_all, fields(id))]
    pub async fn reauthorize_subscription(
        &self,
        token: &AccessToken,
        id: &str,
    ) -> Result<(), GraphCallError> {
        let request = self.http.post(self.subscription_url(id, "/reauthorize"));
        self.call(request, token, &[204, 200]).await.map(|_| ())
    }

    /// Deletes a subscription; one Graph does not know (any more) counts as deleted.
    #[tracing::instrument(skip_all, fields(id))]
    pub async fn delete_subscription(
        &self,
        token: &AccessToken,
        id: &str,
    ) -> Result<(), GraphCallError> {
        let request = self.http.delete(self.subscription_url(id, ""));
        self.call(request, token, &[204, 200, 404])
            .await
            .map(|_| ())
    }

    /// The id of a SharePoint site's document library: the default one (`GET
    /// /sites/{site}/drive`), or the named one checked to belong to the site (`GET
    /// /sites/{site}/drives/{drive}`).
    #[tracing::instrument(skip_all, fields(site))]
    pub async fn site_drive(
        &self,
        token: &AccessToken,
        site: &str,
        drive: Option<&str>,
    ) -> Result<String, GraphCallError> {
        // Ids are checked by the resource parser to hold only characters a path may carry.
        let url = match drive {
            None => format!("{}/sites/{site}/drive", self.base),
            Some(drive) => format!("{}/sites/{site}/drives/{drive}", self.base),
        };
        #[derive(Deserialize)]
        struct Drive {
            id: String,
        }
        let drive: Drive = self.call_json(self.http.get(url), token, 200).await?;
        Ok(drive.id)
    }
}
