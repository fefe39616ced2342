//! The state file's contents: which parts of the [`World`] are saved, in what shape, and how a
//! saved world meets the configuration it is started with.
//!
//! The state types' own `Serialize` is the control API's view of them, which leaves out secret
//! values, session generations and internal matching keys. The file needs all of it, so its
//! shape is declared here with serde's remote derive: each `…Def` lists every field of its type,
//! and adding a field to a state type fails to compile until it is listed here too. A change to
//! what is saved bumps [`FORMAT`] (an older file then starts a fresh world) unless the new field
//! has a default.

use std::collections::{BTreeMap, HashMap};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use uuid::Uuid;

use crate::{
    config::SignInAudience,
    crypto::CertInfo,
    rules::Kind,
    state::{
        AppRegistration, AppSecret, AuthCode, RefreshToken, ServicePrincipal, Subscription, Tenant,
        User, World,
    },
};

/// The version of the file's shape. A file of another version is not read.
pub const FORMAT: u32 = 1;

/// How a state type is written to the file and read back.
trait Saved: Sized {
    fn save<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    fn load<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Writes a borrowed value in its saved shape.
struct Out<'a, T>(&'a T);

impl<T: Saved> Serialize for Out<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.save(s)
    }
}

/// Reads a value in its saved shape.
struct In<T>(T);

impl<'de, T: Saved> Deserialize<'de> for In<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::load(d).map(In)
    }
}

impl<T: Saved> Saved for Vec<T> {
    fn save<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Out))
    }

    fn load<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<In<T>>::deserialize(d)?
            .into_iter()
            .map(|v| v.0)
            .collect())
    }
}

impl<T: Saved> Saved for Option<T> {
    fn save<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => s.serialize_some(&Out(value)),
            None => s.serialize_none(),
        }
    }

    fn load<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<In<T>>::deserialize(d)?.map(|v| v.0))
    }
}

/// A certificate is saved as its DER, in base64.
impl Saved for CertInfo {
    fn save<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.der))
    }

    fn load<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CertInfo::from_text(&text).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "saved")]`: a field whose type is [`Saved`].
mod saved {
    use serde::{Deserializer, Serializer};

    use super::Saved;

    pub(super) fn serialize<T: Saved, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        value.save(s)
    }

    pub(super) fn deserialize<'de, T: Saved, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::load(d)
    }
}

/// Implements [`Saved`] through a remote definition.
macro_rules! saved_as {
    ($($ty:ty => $def:ident),* $(,)?) => {$(
        impl Saved for $ty {
            fn save<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $def::serialize(self, s)
            }

            fn load<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $def::deserialize(d)
            }
        }
    )*};
}

saved_as! {
    AppSecret => AppSecretDef,
    AppRegistration => AppRegistrationDef,
    User => UserDef,
    ServicePrincipal => ServicePrincipalDef,
    Tenant => TenantDef,
    Subscription => SubscriptionDef,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "AppSecret")]
struct AppSecretDef {
    value: String,
    id: Uuid,
    hint: String,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "AppRegistration")]
struct AppRegistrationDef {
    client_id: Uuid,
    display_name: String,
    #[serde(with = "saved")]
    secrets: Vec<AppSecret>,
    #[serde(with = "saved")]
    certificates: Vec<CertInfo>,
    redirect_uris: Vec<String>,
    roles: Vec<String>,
    group_membership_claims: String,
    sign_in_audience: SignInAudience,
    delegated_permissions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "User")]
struct UserDef {
    id: Uuid,
    display_name: String,
    user_principal_name: String,
    roles: Vec<Uuid>,
    session_generation: u64,
    sign_in_sessions_valid_from: Option<DateTime<Utc>>,
    interaction_required: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ServicePrincipal")]
struct ServicePrincipalDef {
    object_id: Uuid,
    roles: Vec<String>,
    delegated_grants: Vec<String>,
    granted_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Tenant")]
struct TenantDef {
    id: Uuid,
    domain: String,
    display_name: String,
    #[serde(with = "saved")]
    service_principal: Option<ServicePrincipal>,
    revoked_at: Option<DateTime<Utc>>,
    #[serde(with = "saved")]
    users: Vec<User>,
    #[serde(with = "saved")]
    removed_users: Vec<User>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Subscription")]
struct SubscriptionDef {
    id: Uuid,
    tenant_id: Uuid,
    application_id: Uuid,
    creator_id: Uuid,
    resource: String,
    kind: Kind,
    delegated_user: Option<Uuid>,
    match_resource: Option<String>,
    change_type: String,
    client_state: Option<String>,
    notification_url: String,
    lifecycle_notification_url: Option<String>,
    expiration_date_time: DateTime<Utc>,
    include_resource_data: bool,
    encryption_certificate: Option<String>,
    encryption_certificate_id: Option<String>,
    latest_supported_tls_version: String,
    notification_url_app_id: Option<String>,
    created_at: DateTime<Utc>,
    last_authorized_at: DateTime<Utc>,
    reauthorization_required_at: Option<DateTime<Utc>>,
    paused_from: Option<DateTime<Utc>>,
    mailbox: Option<String>,
    renewals: u64,
    reauthorizations: u64,
}

/// The file as written: borrowed from the world, maps in key order so that the same world
/// always gives the same bytes.
#[derive(Serialize)]
struct Written<'a> {
    format: u32,
    app: Out<'a, AppRegistration>,
    tenants: Vec<Out<'a, Tenant>>,
    subscriptions: Vec<Out<'a, Subscription>>,
    refresh_tokens: BTreeMap<&'a str, &'a RefreshToken>,
    auth_codes: BTreeMap<&'a str, &'a AuthCode>,
}

/// Only the version, read first so that a file of another version is told apart from a
/// damaged one.
#[derive(Deserialize)]
struct Header {
    format: u32,
}

/// The file as read.
#[derive(Deserialize)]
struct Read {
    app: In<AppRegistration>,
    tenants: Vec<In<Tenant>>,
    subscriptions: Vec<In<Subscription>>,
    refresh_tokens: HashMap<String, RefreshToken>,
    auth_codes: HashMap<String, AuthCode>,
}

/// What the state file holds.
pub struct Snapshot {
    pub app: AppRegistration,
    pub tenants: Vec<Tenant>,
    pub subscriptions: Vec<Subscription>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub auth_codes: HashMap<String, AuthCode>,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("it was written in format {found}; this emulator reads format {FORMAT}")]
    Format { found: u32 },
    #[error("it cannot be read as an emulator state file: {0}")]
    Damaged(#[from] serde_json::Error),
}

/// The saved parts of the world, as the file's bytes.
pub fn encode(world: &World) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec_pretty(&Written {
        format: FORMAT,
        app: Out(&world.app),
        tenants: world.tenants.values().map(Out).collect(),
        subscriptions: world.subscriptions.values().map(Out).collect(),
        refresh_tokens: world
            .refresh_tokens
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        auth_codes: world
            .auth_codes
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
    })
}

/// Reads a file's bytes.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    let header: Header = serde_json::from_slice(bytes)?;
    if header.format != FORMAT {
        return Err(DecodeError::Format {
            found: header.format,
        });
    }
    let read: Read = serde_json::from_slice(bytes)?;
    Ok(Snapshot {
        app: read.app.0,
        tenants: read.tenants.into_iter().map(|t| t.0).collect(),
        subscriptions: read.subscriptions.into_iter().map(|s| s.0).collect(),
        refresh_tokens: read.refresh_tokens,
        auth_codes: read.auth_codes,
    })
}

/// Why a readable file is still not used.
#[derive(Debug, thiserror::Error)]
#[error("it belongs to the app registration {saved}, not to {configured}")]
pub struct OtherApp {
    saved: Uuid,
    configured: Uuid,
}

impl Snapshot {
    /// The saved world, started with `configured` (the world the configuration alone gives).
    /// What the file holds wins: the app registration, every tenant it knows (users, roles,
    /// consent), subscriptions, refresh tokens and authorization codes. The configuration
    /// still adds what the file lacks (tenants, redirect URIs, secrets, certificates), and the
    /// behaviour switches, counters and queues are the configuration's: they are not saved.
    /// A file of another app registration is not used: `configured` comes back.
    pub fn restore(self, configured: World) -> Result<World, (World, OtherApp)> {
        if self.app.client_id != configured.app.client_id {
            let why = OtherApp {
                saved: self.app.client_id,
                configured: configured.app.client_id,
            };
            return Err((configured, why));
        }
        let mut world = configured;
        let wanted = std::mem::replace(&mut world.app, self.app);
        let app = &mut world.app;
        for uri in wanted.redirect_uris {
            if !app.redirect_uris.contains(&uri) {
                app.redirect_uris.push(uri);
            }
        }
        for secret in wanted.secrets {
            if !app.secrets.iter().any(|s| s.value == secret.value) {
                app.secrets.push(secret);
            }
        }
        for cert in wanted.certificates {
            if !app
                .certificates
                .iter()
                .any(|c| c.thumbprint == cert.thumbprint)
            {
                app.certificates.push(cert);
            }
        }
        let configured_tenants = std::mem::take(&mut world.tenants);
        world.tenants = self.tenants.into_iter().map(|t| (t.id, t)).collect();
        for (id, tenant) in configured_tenants {
            world.tenants.entry(id).or_insert(tenant);
        }
        world.subscriptions = self.subscriptions.into_iter().map(|s| (s.id, s)).collect();
        world.refresh_tokens = self.refresh_tokens;
        world.auth_codes = self.auth_codes;
        Ok(world)
    }
}
