//! The one HTTP client every outgoing webhook uses.
//!
//! No redirects, no proxy from the environment, a connect timeout and a total timeout per
//! request. Host names resolve through [`SsrfResolver`], which checks every address against
//! the [`Policy`] and hands the connector only the addresses that passed, so the address that
//! was checked is the address connected to (a name cannot resolve to a public address when
//! checked and a private one when used). IP-literal URLs never reach a resolver, so they are
//! checked before the request. The outcome records the status, headers, the first 64 KiB of the
//! body and the time taken.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Serialize;
use url::{Host, Url};

use super::ssrf::{Policy, Refusal};

/// How many bytes of a response body are kept.
pub const EXCERPT_BYTES: usize = 64 * 1024;

/// The longest endpoint URL, in characters, as written back by the URL parser (the endpoints
/// table holds no more).
pub const MAX_URL_CHARS: usize = 2048;

/// Name resolution, replaceable in tests.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The system resolver.
#[derive(Debug, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// reqwest's resolver: resolves, then keeps only the addresses the policy allows.
struct SsrfResolver {
    lookup: Arc<dyn Lookup>,
    policy: Arc<Policy>,
}

impl Resolve for SsrfResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.clone();
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = lookup.lookup(host.clone()).await?;
            if policy.host_allowed(&host) {
                let addrs: Addrs = Box::new(
                    addresses
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, 0))
                        .collect::<Vec<_>>()
                        .into_iter(),
                );
                return Ok(addrs);
            }
            let mut allowed = Vec::new();
            let mut refusal = None;
            for ip in addresses {
                match policy.check(ip) {
                    Ok(()) => allowed.push(SocketAddr::new(ip, 0)),
                    Err(r) => refusal = Some(r),
                }
            }
            if allowed.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> = match refusal {
                    Some(r) => {
                        // The tenant learns only that the name is refused, not where it leads.
                        tracing::debug!(%host, address = %r.address, rule = %r.rule, "refused at connect");
                        Box::new(RefusedAtConnect(format!("{host} resolves to {NON_PUBLIC}")))
                    }
                    None => format!("{host} does not resolve").into(),
                };
                return Err(error);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RefusedAtConnect(String);

/// What a tenant is told of a host name that resolves to a refused address: which address,
/// and so which of the operator's internal names exist and where they lead, stays unsaid.
const NON_PUBLIC: &str = "a non-public address";

/// Why a URL may not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not a valid absolute URL")]
    Invalid,
    /// What a URL parser would quietly drop or fix, refused instead of changed behind the
    /// tenant's back.
    #[error("URLs with spaces or control characters, a fragment or port 0 are not allowed")]
    Unclean,
    #[error("URLs longer than {MAX_URL_CHARS} characters are not allowed")]
    TooLong,
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("https is required")]
    HttpsRequired,
    #[error("URLs with credentials are not allowed")]
    Credentials,
    #[error("{0}")]
    Address(Refusal),
    /// The refusal is kept for logs; the message does not show it.
    #[error("{host} resolves to {NON_PUBLIC}")]
    Resolves { host: String, refusal: Refusal },
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

impl UrlRefusal {
    /// The rule that refused the URL, as the tenant may read it.
    pub fn rule(&self) -> String {
        match self {
            UrlRefusal::Address(refusal) => refusal.rule.clone(),
            UrlRefusal::Resolves { .. } => NON_PUBLIC.to_owned(),
            other => other.to_string(),
        }
    }
}

/// A refused URL is a refused `url` input, naming the rule that refused it.
impl From<UrlRefusal> for crate::DomainError {
    fn from(refusal: UrlRefusal) -> Self {
        crate::DomainError::Invalid {
            field: Some("url"),
            rule: Some(refusal.rule()),
            message: format!("url: {refusal}"),
        }
    }
}

/// How an attempt failed, when no HTTP response came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The SSRF rules refused the address.
    Refused,
    Timeout,
    Connect,
    Tls,
    Other,
}

#[derive(Clone, Debug, Serialize)]
pub struct SendError {
    pub class: ErrorClass,
    pub message: String,
}

/// What happened to one request.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The first 64 KiB of the response body (lossy UTF-8).
    pub body: String,
    pub duration_ms: u64,
    pub error: Option<SendError>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One outgoing request.
pub struct Request<'a> {
    pub url: &'a Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

#[derive(derive_more::Debug)]
pub struct Sender {
    #[debug(skip)]
    client: reqwest::Client,
    policy: Arc<Policy>,
    #[debug(skip)]
    lookup: Arc<dyn Lookup>,
    #[debug(skip)]
    https_only: bool,
}

impl Sender {
    pub fn new(
        policy: Policy,
        lookup: Arc<dyn Lookup>,
        https_only: bool,
        connect_timeout: Duration,
    ) -> anyhow::Result<Self> {
        crate::platform::tls::install_crypto_provider();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("Graphhook/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(SsrfResolver {
                lookup: lookup.clone(),
                policy: policy.clone(),
            }))
            .build()?;
        Ok(Self {
            client,
            policy,
            lookup,
            https_only,
        })
    }

    /// Checks a URL as registration does: scheme, credentials, and every address it names or
    /// resolves to now.
    pub async fn check_url(&self, text: &str) -> Result<Url, UrlRefusal> {
        // Checked before parsing too, so no time is spent on an absurd one.
        if text.len() > 4 * MAX_URL_CHARS {
            return Err(UrlRefusal::TooLong);
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(UrlRefusal::Unclean);
        }
        let url = Url::parse(text).map_err(|_| UrlRefusal::Invalid)?;
        if url.fragment().is_some() || url.port() == Some(0) {
            return Err(UrlRefusal::Unclean);
        }
        if url.as_str().chars().count() > MAX_URL_CHARS {
            return Err(UrlRefusal::TooLong);
        }
        match url.scheme() {
            "https" => {}
            "http" if self.https_only => return Err(UrlRefusal::HttpsRequired),
            "http" => {}
            _ => return Err(UrlRefusal::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        match url.host() {
            None => Err(UrlRefusal::Invalid),
            Some(Host::Ipv4(ip)) => self
                .policy
                .check(IpAddr::V4(ip))
                .map(|()| url.clone())
                .map_err(UrlRefusal::Address),
            Some(Host::Ipv6(ip)) => self
                .policy
                .check(IpAddr::V6(ip))
                .map(|()| url.clone())
                .map_err(UrlRefusal::Address),
            Some(Host::Domain(domain)) => {
                let host = domain.to_owned();
                if self.policy.host_allowed(&host) {
                    return Ok(url);
                }
                let addresses = self
                    .lookup
                    .lookup(host.clone())
                    .await
                    .map_err(|_| UrlRefusal::Unresolvable(host.clone()))?;
                if addresses.is_empty() {
                    return Err(UrlRefusal::Unresolvable(host));
                }
                for ip in addresses {
                    self.policy.check(ip).map_err(|refusal| {
                        tracing::debug!(%host, address = %refusal.address, rule = %refusal.rule, "endpoint URL refused");
                        UrlRefusal::Resolves {
                            host: host.clone(),
                            refusal,
                        }
                    })?;
                }
                Ok(url)
            }
        }
    }

    /// Sends one request and records what happened; never follows a redirect.
    pub async fn send(&self, request: Request<'_>) -> Outcome {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_millis() as u64;
        let literal = match request.url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && let Err(refusal) = self.policy.check(ip)
        {
            return failed(ErrorClass::Refused, refusal.to_string(), 0);
        }
        if self.https_only && request.url.scheme() != "https" {
            return failed(ErrorClass::Refused, "https is required".into(), 0);
        }
        let mut builder = self
            .client
            .post(request.url.clone())
            .timeout(request.timeout)
            .body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return failed(classify(&error), describe(&error), elapsed(started)),
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut response = response;
        let mut error = None;
        while body.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - body.len())])
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(SendError {
                        class: classify(&e),
                        message: describe(&e),
                    });
                    break;
                }
            }
        }
        Outcome {
            status: Some(status),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            duration_ms: elapsed(started),
            error,
        }
    }
}

/// The deployment's sender: loopback only in development, the operator's allow-list, https
/// only in production.
pub fn from_settings(
    settings: &crate::Settings,
    lookup: Arc<dyn Lookup>,
) -> anyhow::Result<Sender> {
    use anyhow::Context;
    let allow_networks = settings
        .webhooks
        .allow_networks
        .iter()
        .map(|n| n.parse())
        .collect::<Result<Vec<_>, _>>()
        .context("webhooks.allow_networks")?;
    let policy = Policy {
        allow_loopback: settings.mode.is_development(),
        allow_networks,
        allow_hosts: settings.webhooks.allow_hosts.clone(),
    };
    Sender::new(
        policy,
        lookup,
        !settings.mode.is_development(),
        Duration::from_millis(settings.webhooks.connect_timeout_ms),
    )
}

fn failed(class: ErrorClass, message: String, duration_ms: u64) -> Outcome {
    Outcome {
        status: None,
        headers: Vec::new(),
        body: String::new(),
        duration_ms,
        error: Some(SendError { class, message }),
    }
}

fn chain(error: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        out.push(e.to_string());
        source = e.source();
    }
    out
}

fn describe(error: &reqwest::Error) -> String {
    chain(error).join(": ")
}

fn classify(error: &reqwest::Error) -> ErrorClass {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<RefusedAtConnect>() {
            return ErrorClass::Refused;
        }
        source = e.source();
    }
    if error.is_timeout() {
        ErrorClass::Timeout
    } else if error.is_connect() {
        let text = describe(error).to_lowercase();
        if text.contains("certificate") || text.contains("tls") {
            ErrorClass::Tls
        } else {
            ErrorClass::Connect
        }
    } else {
        ErrorClass::Other
    }
}

#[cfg(test)]
mod tests;
