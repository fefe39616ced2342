//! [`JwksCache`]: Entra's signing keys, fetched and kept in memory (§8.4).

use std::{
    sync::Arc,
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Utc};

use super::{
    Expected, JWKS_MAX_AGE, JWKS_MIN_REFRESH, Jwks, RichError, ValidatedToken, validate_tokens,
};
use crate::platform::config::MicrosoftSettings;

struct Fetched {
    keys: Arc<Jwks>,
    at: Instant,
}

/// Entra's signing keys, fetched from `{authority}/common/discovery/v2.0/keys` and
/// `{authority}/common/discovery/keys` (merged; v2 first, for its per-key issuers) and kept in
/// memory. Keys are fetched on first use, again when older than [`JWKS_MAX_AGE`], and again
/// when a token names an unknown `kid`, but never twice within [`JWKS_MIN_REFRESH`]: forged
/// kids cannot make us hammer Entra. Concurrent callers share one fetch. Share one cache per
/// process (it is `Send + Sync`; wrap it in an `Arc`).
#[derive(derive_more::Debug)]
pub struct JwksCache {
    #[debug(skip)]
    http: reqwest::Client,
    urls: Vec<String>,
    #[debug(skip)]
    min_refresh: StdDuration,
    #[debug(skip)]
    max_age: StdDuration,
    #[debug(skip)]
    current: tokio::sync::RwLock<Option<Fetched>>,
    /// The last fetch attempt; held while fetching, so one caller fetches and the others wait.
    #[debug(skip)]
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    /// For `settings.authority_url` (production `https://login.microsoftonline.com`, or the
    /// emulator's base URL).
    pub fn new(settings: &MicrosoftSettings) -> anyhow::Result<Self> {
        let authority = settings.authority_url.trim_end_matches('/');
        Self::with_urls(
            vec![
                format!("{authority}/common/discovery/v2.0/keys"),
                format!("{authority}/common/discovery/keys"),
            ],
            JWKS_MIN_REFRESH,
        )
    }

    /// Keys from `urls`, fetched again on an unknown kid at most every `min_refresh`.
    pub fn with_urls(urls: Vec<String>, min_refresh: StdDuration) -> anyhow::Result<Self> {
        let http = crate::graph::microsoft::http_client(StdDuration::from_secs(15))?;
        Ok(Self {
            http,
            urls,
            min_refresh,
            max_age: JWKS_MAX_AGE,
            current: tokio::sync::RwLock::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
        })
    }

    /// [`validate_tokens`] with the cached keys; on an unknown kid, the keys are refreshed (rate
    /// limited) and the tokens validated once more. No tokens: no fetch, an empty list.
    pub async fn validate(
        &self,
        tokens: &[String],
        expected: &Expected,
        now: DateTime<Utc>,
    ) -> Result<Vec<ValidatedToken>, RichError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.keys().await?;
        match validate_tokens(tokens, &keys, expected, now) {
            Err(e) if e.is_unknown_kid() => {
                let keys = self.refresh().await?;
                validate_tokens(tokens, &keys, expected, now)
            }
            other => other,
        }
    }

    /// The cached keys, fetched first if there are none or they are older than the maximum age.
    pub async fn keys(&self) -> Result<Arc<Jwks>, RichError> {
        if let Some(fetched) = self.current.read().await.as_ref()
            && fetched.at.elapsed() < self.max_age
        {
            return Ok(fetched.keys.clone());
        }
        self.refresh().await
    }

    /// Fetches the keys again, unless the last attempt was less than the minimum interval ago:
    /// then the cached keys are returned as they are (an error if there are none). A failed
    /// fetch keeps the keys already held.
    pub async fn refresh(&self) -> Result<Arc<Jwks>, RichError> {
        let mut last = self.last_attempt.lock().await;
        if let Some(at) = *last
            && at.elapsed() < self.min_refresh
        {
            return self
                .cached()
                .await
                .ok_or_else(|| RichError::Jwks("the last fetch failed; not retrying yet".into()));
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(jwks) => {
                let keys = Arc::new(jwks);
                *self.current.write().await = Some(Fetched {
                    keys: keys.clone(),
                    at: Instant::now(),
                });
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching Entra's signing keys failed");
                self.cached().await.ok_or(e)
            }
        }
    }

    async fn cached(&self) -> Option<Arc<Jwks>> {
        self.current.read().await.as_ref().map(|f| f.keys.clone())
    }

    /// Every URL, merged; one failing is tolerated when another answers.
    #[tracing::instrument(skip(self))]
    async fn fetch(&self) -> Result<Jwks, RichError> {
        let mut merged = Jwks::default();
        let mut problems = Vec::new();
        for url in &self.urls {
            match self.fetch_one(url).await {
                Ok(jwks) => merged.merge(jwks),
                Err(e) => {
                    tracing::warn!(%url, error = %e, "a JWKS endpoint failed");
                    problems.push(format!("{url}: {e}"));
                }
            }
        }
        if merged.is_empty() {
            return Err(RichError::Jwks(if problems.is_empty() {
                "no usable keys".into()
            } else {
                problems.join("; ")
            }));
        }
        tracing::debug!(keys = merged.len(), "fetched Entra's signing keys");
        Ok(merged)
    }

    async fn fetch_one(&self, url: &str) -> Result<Jwks, RichError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| RichError::Jwks(e.to_string()))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| RichError::Jwks(e.to_string()))?;
        Jwks::from_json(&body)
    }
}
