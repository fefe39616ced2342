//! The emulator's configuration: our app registration, the tenants that exist, and switches for
//! Microsoft behaviours that have varied over time (each defaults to today's behaviour).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod behaviour_defaults;

/// The default app registration's client id (Graphhook's app in the emulated Entra).
pub const DEFAULT_CLIENT_ID: &str = "5f1c2b8e-0d3a-4c59-9a7e-3b6f0c1d2e4a";
/// The default app registration's client secret.
pub const DEFAULT_CLIENT_SECRET: &str = "graphhook-emulator-client-secret";
/// The default demo tenant.
pub const DEFAULT_TENANT_ID: &str = "c0a7e5d2-3b1f-4e6a-9d8c-7f2b1a0e9c34";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    /// The URL clients use to reach the emulator; Entra and Graph URLs are built from it.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Where Graph's outbound requests (validation, notifications, lifecycle events) really go:
    /// `FROM=TO` sends a request for a URL that starts with `FROM` to `TO` followed by the rest
    /// of the URL. The URL the subscription holds is unchanged. For networks where the name
    /// Graphhook gives Graph is not the name the emulator reaches it by (in the compose stack,
    /// the browser's `http://127.0.0.1:8080` is the `api` container).
    pub deliver_via: Vec<String>,
    pub app: AppConfig,
    pub tenants: Vec<TenantConfig>,
    pub behaviour: Behaviour,
    /// Where the world is kept across restarts (see [`crate::persist`]): read on start when it
    /// exists, written within a second of a change and on stop. None: the world lives in
    /// memory only.
    pub state_file: Option<PathBuf>,
}

/// Our app registration in the emulated Entra.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub client_id: Uuid,
    pub display_name: String,
    pub secrets: Vec<SecretConfig>,
    /// Certificates (PEM) whose private keys may sign client assertions.
    pub certificates: Vec<String>,
    /// Registered redirect URIs for admin consent and sign-in.
    pub redirect_uris: Vec<String>,
    /// The application permissions the app requests; admin consent grants all of them.
    pub roles: Vec<String>,
    /// The manifest's `groupMembershipClaims`: `None`, `SecurityGroup`, `DirectoryRole`,
    /// `ApplicationGroup`, `All`, or several joined by commas. ID tokens carry `wids` (the
    /// user's directory roles) only when it names `DirectoryRole` or `All`.
    pub group_membership_claims: String,
    /// Who may sign in: `AzureADMultipleOrgs` (work and school accounts of any organization) or
    /// `AzureADandPersonalMicrosoftAccount` (those and personal Microsoft accounts).
    pub sign_in_audience: SignInAudience,
    /// The delegated Graph permissions the registration lists (what `.default` means in a
    /// sign-in, and what admin consent grants tenant-wide).
    pub delegated_permissions: Vec<String>,
}

/// The app registration's `signInAudience`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum SignInAudience {
    AzureADMultipleOrgs,
    #[default]
    AzureADandPersonalMicrosoftAccount,
}

impl SignInAudience {
    /// Whether personal Microsoft accounts may sign in.
    pub fn allows_personal(self) -> bool {
        self == Self::AzureADandPersonalMicrosoftAccount
    }
}

/// The delegated permissions a new app registration lists.
pub const DEFAULT_DELEGATED_PERMISSIONS: [&str; 7] = [
    "User.Read",
    "Mail.Read",
    "Calendars.Read",
    "Contacts.Read",
    "Group.Read.All",
    "Files.ReadWrite",
    "Files.ReadWrite.All",
];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    pub value: String,
    /// RFC 3339; a secret past it is refused with AADSTS7000222.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: Uuid,
    /// A verified domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    pub display_name: String,
    /// Roles already granted by admin consent (none: the app is not in the tenant yet).
    #[serde(default)]
    pub consented_roles: Option<Vec<String>>,
    /// The tenant's users. None: an admin (Global Administrator), a user without roles and an
    /// app admin (Cloud Application Administrator), named after the domain.
    #[serde(default)]
    pub users: Option<Vec<UserConfig>>,
}

/// A user in a tenant's directory; also the body of `POST /_emulator/tenants/{id}/users`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The object id (`oid`); random when absent.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub user_principal_name: String,
    pub display_name: String,
    /// Active directory roles, by role template id (see [`crate::directory_roles`]).
    #[serde(default)]
    pub roles: Vec<Uuid>,
}

/// What an admin-consent page visit does.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    /// Show the page: pick a tenant, Accept or Cancel.
    #[default]
    Interactive,
    /// Accept at once and redirect (API tests).
    AutoAccept,
    /// Decline at once and redirect with the AADSTS65004 error.
    AutoDecline,
}

/// What tokens look like during the propagation delay after a consent.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PropagationEffect {
    /// Tokens are issued without `roles`.
    #[default]
    NoRoles,
    /// The token endpoint answers AADSTS700016, as if the app were not in the tenant yet.
    NotFound,
    /// The token endpoint answers AADSTS65001, as if consent had not been given yet.
    ConsentRequired,
}

/// Expiry beyond a resource's maximum.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LifetimePolicy {
    /// 400 `ExtensionError` "Subscription expiration can only be N minutes in the future."
    #[default]
    Reject,
    /// Grant the maximum instead (Graph has sometimes granted less than asked).
    Clamp,
}

/// Which `http://` notification URLs are accepted (Graph accepts only `https://`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HttpUrls {
    #[default]
    Never,
    /// `http://` to loopback hosts (127.0.0.0/8, ::1, localhost).
    Loopback,
    /// Any `http://` URL (e.g. another container).
    Any,
}

/// Subscriptions to a user's mailbox or OneDrive when the user is not in the tenant's directory.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnknownUsers {
    /// Graph's behaviour: 404 `ExtensionError` "Operation: Create; Exception: [Status Code:
    /// NotFound; Reason: The requested user '{user}@{tenant}' is invalid.]".
    #[default]
    Refuse,
    /// Any user id or UPN is accepted (many mailboxes without adding their users).
    Accept,
}

/// Which `error` a declined admin consent redirects with (§8.1 lists three).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDeclineError {
    /// What Entra really sends (Obs): `error=access_denied`.
    #[default]
    AccessDenied,
    /// The v1 docs: "The admin canceled the request".
    PermissionDenied,
    /// The v2 docs: consent is required (AADSTS65004).
    ConsentRequired,
}

impl ConsentDeclineError {
    /// The redirect's `error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::PermissionDenied => "permission_denied",
            Self::ConsentRequired => "consent_required",
        }
    }
}

/// How `subscriptionExpirationDateTime` is written in notifications (§3.2: Graph's formats vary).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExpirationFormat {
    /// Each notification takes the next of the three below, in turn.
    #[default]
    Varied,
    /// `2016-03-19T22:11:09.952Z`
    Millis,
    /// `2019-09-18T00:52:45.9696658+00:00`
    Ticks,
    /// `2021-12-31T16:16:44.9907405+05:30` (the same instant at a local offset)
    LocalOffset,
}

/// How the `resource` of an Outlook notification is written (§3.2: casing and syntax vary).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStyle {
    /// `Users/{user}/Messages/{id}`, the most common form.
    #[default]
    Normalized,
    /// `users/{user}@{tenant}/messages/{id}`, as in Microsoft's docs sample.
    TenantQualified,
    /// `Users('{user}')/messages('{id}')`
    Keyed,
    /// Each notification takes the next of the three, in turn.
    Varied,
}

/// Which claim set validation tokens carry (§5.4: Graph has sent both).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenVersion {
    /// `iss` `https://sts.windows.net/{tenant}/`, `appid`, `ver` 1.0 (the docs example).
    V1,
    /// `iss` `{authority}/{tenant}/v2.0`, `azp`, `ver` 2.0 (what current SDKs expect).
    #[default]
    V2,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    pub consent_mode: ConsentMode,
    /// The `error` of the redirect when consent is declined (the page's Cancel, or
    /// `consent_mode = "auto_decline"`).
    pub consent_decline_error: ConsentDeclineError,
    /// Tenant chosen by `auto_accept` when the consent URL names `organizations` or `common`.
    pub auto_accept_tenant: Option<Uuid>,
    pub consent_propagation_secs: u64,
    pub propagation_effect: PropagationEffect,
    /// Lifetime of issued access tokens.
    pub token_lifetime_secs: u64,
    pub lifetime_policy: LifetimePolicy,
    pub http_notification_urls: HttpUrls,
    /// How long a validation request may take.
    pub validation_timeout_ms: u64,
    /// Fail every validation with "Subscription validation request timed out."
    pub validation_always_times_out: bool,
    /// 409 for a second subscription with the same resource and changeType.
    pub reject_duplicates: bool,
    /// Subscription API calls allowed per app per tenant in `rate_window_secs`.
    pub rate_limit_per_app: u32,
    /// Subscription API calls allowed per tenant across apps in `rate_window_secs`.
    pub rate_limit_per_tenant: u32,
    pub rate_window_secs: u64,
    /// Directory (user, group) subscriptions per app per tenant.
    pub directory_quota_per_app: usize,
    /// Directory subscriptions per tenant across apps.
    pub directory_quota_per_tenant: usize,
    /// Outlook subscriptions per mailbox across apps.
    pub mailbox_quota: usize,
    /// Mailboxes an Exchange application access policy keeps the app out of (§6.2): Outlook
    /// subscriptions on them are refused with 403 `ExtensionError` on create, get, update,
    /// reauthorize and delete. Entries are compared, case-insensitively, with the user id (or
    /// UPN) as written in the resource path `users/{id}/…`.
    pub blocked_mailboxes: Vec<String>,
    /// App-only subscriptions to `users/{id or UPN}/messages|events|contacts|mailFolders…` or
    /// `users/{id}/drive/root` naming a user not in the tenant's directory: `refuse` (Graph)
    /// or `accept`.
    pub unknown_users: UnknownUsers,
    /// A subscription API outage: every subscription call (after authentication) answers this
    /// status (e.g. 500, 503) with Graph's error body and no Retry-After. `None`: none.
    pub outage_status: Option<u16>,
    /// How long a notification POST may take before it counts as failed (§3.3: 3 s).
    pub delivery_timeout_ms: u64,
    /// The most items one notification POST carries.
    pub max_batch_items: usize,
    /// Holds every delivery while true: notifications queue up and go out, batched, once it is
    /// set back to false.
    pub delivery_paused: bool,
    pub expiration_format: ExpirationFormat,
    pub resource_style: ResourceStyle,
    /// The wait before the first retry of a failed notification; each later wait doubles
    /// (§3.4: exponential backoff, schedule unpublished).
    pub retry_initial_secs: u64,
    /// The longest wait between two retries.
    pub retry_max_interval_secs: u64,
    /// How long after it was queued a notification is still retried (§3.4: 4 h), then dropped.
    /// Notifications held for an unanswered reauthorization challenge are dropped after it too.
    pub retry_horizon_secs: u64,
    /// How long deliveries continue after a `reauthorizationRequired` before they pause (§4).
    pub reauthorization_grace_secs: u64,
    /// Sends `reauthorizationRequired` by itself when a subscription's authorization (the
    /// token behind it, `token_lifetime_secs` from its creation or last reauthorization) has
    /// less than this left, and pauses deliveries when that token expires. 0: off.
    pub reauthorization_lead_secs: u64,
    /// A notification POST slower than this counts as slow for throttling (§3.4: 2,900 ms).
    pub slow_threshold_ms: u64,
    /// Notifications a URL must have received in the window before its slow ratio counts.
    pub throttle_min_samples: u64,
    /// At this share of slow notifications (percent) a URL is throttled as slow…
    pub slow_percent: u64,
    /// …and at this share its notifications are dropped.
    pub drop_percent: u64,
    /// The counters reset every window (§3.4: 10 minutes).
    pub throttle_window_secs: u64,
    /// In the slow state, new notifications wait this long and failed ones are retried this far
    /// apart (§3.4: 10 minutes).
    pub slow_delay_secs: u64,
    /// The claim set of the validationTokens sent with rich notifications (§5.4).
    pub validation_token_version: TokenVersion,
    /// Signs this user (a UPN, case-insensitive, or an object id) in at once when the authorize
    /// endpoint is visited, without the sign-in page: the unattended counterpart of
    /// `consent_mode = "auto_accept"`. The URL's tenant must allow the user's tenant.
    pub auto_sign_in_user: Option<String>,
    /// How long an authorization code can be redeemed (Entra: about 10 minutes).
    pub auth_code_lifetime_secs: u64,
    /// A refresh token can be redeemed once only: reusing one answers AADSTS70000. Off, a
    /// rotated refresh token stays valid (as Entra's do for a while).
    pub strict_refresh_tokens: bool,
    /// How long after it was issued a refresh token expires (AADSTS700082; Entra: 90 days).
    pub refresh_token_lifetime_secs: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            public_url: None,
            deliver_via: Vec::new(),
            app: AppConfig::default(),
            tenants: vec![TenantConfig {
                id: Uuid::parse_str(DEFAULT_TENANT_ID).unwrap_or_default(),
                domain: "contoso.onmicrosoft.com".into(),
                display_name: "Contoso".into(),
                consented_roles: None,
                users: None,
            }],
            behaviour: Behaviour::default(),
            state_file: None,
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            client_id: Uuid::parse_str(DEFAULT_CLIENT_ID).unwrap_or_default(),
            display_name: "Graphhook".into(),
            secrets: vec![SecretConfig {
                value: DEFAULT_CLIENT_SECRET.into(),
                expires_at: None,
            }],
            certificates: Vec::new(),
            redirect_uris: vec![
                "http://127.0.0.1:8080/onboarding/callback".into(),
                "http://localhost:8080/onboarding/callback".into(),
                "http://127.0.0.1:8080/onboarding/signed-in".into(),
                "http://localhost:8080/onboarding/signed-in".into(),
            ],
            roles: [
                "Mail.Read",
                "Calendars.Read",
                "Contacts.Read",
                "User.Read.All",
                "Group.Read.All",
                "Files.ReadWrite.All",
            ]
            .map(String::from)
            .to_vec(),
            group_membership_claims: "DirectoryRole".into(),
            sign_in_audience: SignInAudience::default(),
            delegated_permissions: DEFAULT_DELEGATED_PERMISSIONS.map(String::from).to_vec(),
        }
    }
}

impl Behaviour {
    /// Whether an access policy keeps the app out of this mailbox (`None`: not an Outlook
    /// resource, never blocked).
    pub fn blocks_mailbox(&self, mailbox: Option<&str>) -> bool {
        mailbox.is_some_and(|mailbox| {
            let mailbox = mailbox.to_lowercase();
            self.blocked_mailboxes
                .iter()
                .any(|blocked| blocked.trim().to_lowercase() == mailbox)
        })
    }
}

impl EmulatorConfig {
    /// Reads a TOML file (every key optional; the defaults fill the rest).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::bail!("emulator config {} does not exist", path.display());
        }
        Figment::new()
            .merge(Toml::file(path))
            .extract()
            .map_err(|e| anyhow::anyhow!("emulator config {}: {e}", path.display()))
    }

    /// The base URL clients use.
    /// `deliver_via` as (from, to) prefixes; an entry without `=` or with an empty side is an
    /// error that names it.
    pub fn delivery_routes(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.deliver_via
            .iter()
            .map(|rule| match rule.split_once('=') {
                Some((from, to)) if !from.is_empty() && !to.is_empty() => {
                    Ok((from.to_owned(), to.to_owned()))
                }
                _ => anyhow::bail!("deliver_via {rule:?}: expected FROM=TO (two URL prefixes)"),
            })
            .collect()
    }

    pub fn base_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}
