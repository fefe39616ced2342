//! The emulator's in-memory world: the app registration, tenants with their users, service
//! principal and consent (the built-in consumers tenant of personal accounts among them),
//! authorization codes waiting to be redeemed, refresh tokens, Graph subscriptions, and counts
//! of the calls made to them.

pub mod auth_codes;
pub mod calls;
pub mod grant;
pub mod personal;
pub mod refresh;
pub mod users;

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    config::{Behaviour, DEFAULT_TENANT_ID, EmulatorConfig, SignInAudience},
    crypto::CertInfo,
    delivery::Deliveries,
    rules::Kind,
    state::{calls::CallStats, refresh::RefreshStats},
};

pub use auth_codes::AuthCode;
pub use grant::DelegatedGrant;
pub use personal::{CONSUMERS_TENANT, is_consumers};
pub use refresh::RefreshToken;
pub use users::User;

#[derive(Clone, Debug, Serialize)]
pub struct AppSecret {
    #[serde(skip)]
    pub value: String,
    /// The secret's id (what Entra shows as "Secret ID", not its value).
    pub id: Uuid,
    pub hint: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AppRegistration {
    pub client_id: Uuid,
    pub display_name: String,
    pub secrets: Vec<AppSecret>,
    #[serde(serialize_with = "thumbprints")]
    pub certificates: Vec<CertInfo>,
    pub redirect_uris: Vec<String>,
    pub roles: Vec<String>,
    /// The manifest's `groupMembershipClaims` (see [`AppRegistration::emits_wids`]).
    pub group_membership_claims: String,
    pub sign_in_audience: SignInAudience,
    /// The delegated Graph permissions the registration lists.
    pub delegated_permissions: Vec<String>,
}

impl AppRegistration {
    /// Whether ID tokens carry `wids`: `groupMembershipClaims` names `DirectoryRole` or `All`.
    pub fn emits_wids(&self) -> bool {
        self.group_membership_claims.split(',').any(|part| {
            let part = part.trim();
            part.eq_ignore_ascii_case("DirectoryRole") || part.eq_ignore_ascii_case("All")
        })
    }
}

fn thumbprints<S: serde::Serializer>(certs: &[CertInfo], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(certs.iter().map(|c| c.thumbprint.clone()))
}

/// The app's service principal in a tenant: it exists once an admin consented (or an operator
/// of the emulator created it without grants).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub object_id: Uuid,
    pub roles: Vec<String>,
    /// Delegated permissions an admin granted for every user of the tenant (the app's
    /// delegated permissions as they were at the last admin consent).
    pub delegated_grants: Vec<String>,
    pub granted_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: Uuid,
    pub domain: String,
    pub display_name: String,
    pub service_principal: Option<ServicePrincipal>,
    /// When consent was last revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The people who can sign in to the tenant.
    pub users: Vec<User>,
    /// Users removed from the directory (`DELETE /_emulator/tenants/{id}/users/{user}`): Graph
    /// then fails the Outlook subscriptions on their mailboxes (§1.2, §7.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed_users: Vec<User>,
}

/// A Graph subscription as the emulator stores it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub application_id: Uuid,
    pub creator_id: Uuid,
    pub resource: String,
    pub kind: Kind,
    /// The signed-in user, for a subscription created with a delegated token.
    pub delegated_user: Option<Uuid>,
    /// The path changes are matched against when it is not `resource` as written: a delegated
    /// `me/…` resolved to the user (`users/{oid}/messages`, `drives/{driveId}/root`).
    #[serde(skip)]
    pub match_resource: Option<String>,
    pub change_type: String,
    pub client_state: Option<String>,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub expiration_date_time: DateTime<Utc>,
    pub include_resource_data: bool,
    pub encryption_certificate: Option<String>,
    pub encryption_certificate_id: Option<String>,
    pub latest_supported_tls_version: String,
    pub notification_url_app_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_authorized_at: DateTime<Utc>,
    /// When a `reauthorizationRequired` went out that the app has not answered yet (by
    /// `/reauthorize` or a PATCH).
    pub reauthorization_required_at: Option<DateTime<Utc>>,
    /// From when change notifications are held because that challenge went unanswered (§4).
    pub paused_from: Option<DateTime<Utc>>,
    /// The mailbox of an Outlook resource (for its quota and Exchange's access policy).
    #[serde(skip)]
    pub mailbox: Option<String>,
    /// Successful `PATCH /subscriptions/{id}` calls (renewals, new URLs, key rotations). Shown
    /// by the control API only; Graph's JSON has no such field.
    pub renewals: u64,
    /// Successful `POST /subscriptions/{id}/reauthorize` calls. Control API only, as above.
    pub reauthorizations: u64,
}

/// What a new subscription is made of; everything else starts as Graph's defaults (no rich
/// notifications, TLS 1.2, authorized now, no call counted yet).
#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub tenant_id: Uuid,
    pub application_id: Uuid,
    /// The service principal's object id in the tenant (app-only `creatorId`).
    pub creator_id: Uuid,
    pub resource: String,
    pub kind: Kind,
    /// The mailbox [`crate::rules::parse_resource`] found in an Outlook resource.
    pub mailbox: Option<String>,
    /// The signed-in user of a delegated subscription (then `creator_id` is that user).
    pub delegated_user: Option<Uuid>,
    /// See [`Subscription::match_resource`].
    pub match_resource: Option<String>,
    pub change_type: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration_date_time: DateTime<Utc>,
}

/// Why a subscription no longer exists.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Ended {
    /// Deleted by its app (or through the control API).
    Deleted,
    /// Its expiration passed.
    Expired,
    /// Graph removed it and said so with `subscriptionRemoved` (§4).
    Removed,
}

/// Everything the emulator holds.
#[derive(Debug)]
pub struct World {
    pub app: AppRegistration,
    pub tenants: BTreeMap<Uuid, Tenant>,
    pub subscriptions: BTreeMap<Uuid, Subscription>,
    pub behaviour: Behaviour,
    /// Recent subscription-API calls, per (tenant, app), for throttling.
    pub calls: BTreeMap<(Uuid, Uuid), VecDeque<DateTime<Utc>>>,
    /// Token-endpoint requests per tenant (as named in the URL), for tests and operators.
    pub token_requests: BTreeMap<String, u64>,
    /// Notifications waiting for delivery, and what happened to earlier ones.
    pub delivery: Deliveries,
    /// Subscriptions that no longer exist, and why (their notifications are dropped).
    pub ended: BTreeMap<Uuid, Ended>,
    /// Calls that reached the subscription API, by operation and status.
    pub call_stats: CallStats,
    /// Authorization codes issued by the authorize endpoint, by code.
    pub auth_codes: HashMap<String, AuthCode>,
    /// Refresh tokens issued by the token endpoint, by token.
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Refresh-token grants asked for (shown by `GET /_emulator/calls`).
    pub refresh_stats: RefreshStats,
}

impl World {
    pub fn from_config(config: &EmulatorConfig, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let certificates = config
            .app
            .certificates
            .iter()
            .map(|pem| CertInfo::from_text(pem))
            .collect::<Result<Vec<_>, _>>()?;
        let app = AppRegistration {
            client_id: config.app.client_id,
            display_name: config.app.display_name.clone(),
            secrets: config
                .app
                .secrets
                .iter()
                .map(|s| AppSecret::new(s.value.clone(), s.expires_at))
                .collect(),
            certificates,
            redirect_uris: config.app.redirect_uris.clone(),
            roles: config.app.roles.clone(),
            group_membership_claims: config.app.group_membership_claims.clone(),
            sign_in_audience: config.app.sign_in_audience,
            delegated_permissions: config.app.delegated_permissions.clone(),
        };
        let mut world = Self {
            app,
            tenants: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            behaviour: config.behaviour.clone(),
            calls: BTreeMap::new(),
            token_requests: BTreeMap::new(),
            delivery: Deliveries::default(),
            ended: BTreeMap::new(),
            call_stats: CallStats::default(),
            auth_codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            refresh_stats: RefreshStats::default(),
        };
        world
            .tenants
            .insert(CONSUMERS_TENANT, personal::consumers_tenant());
        for t in &config.tenants {
            world.add_tenant(t.id, t.domain.clone(), t.display_name.clone());
            match &t.users {
                Some(users) => world.replace_users(t.id, users)?,
                None if t.id.to_string() == DEFAULT_TENANT_ID => {
                    world
                        .add_user(t.id, &users::contoso_mailbox_user())
                        .map_err(|e| anyhow::anyhow!("tenant {}: {e}", t.id))?;
                }
                None => {}
            }
            if let Some(roles) = &t.consented_roles {
                world.grant_consent(t.id, roles.clone(), now - Duration::days(1));
            }
        }
        Ok(world)
    }

    /// Adds a tenant (unless one with this id exists) with the default users
    /// ([`users::default_users`]).
    pub fn add_tenant(&mut self, id: Uuid, domain: String, display_name: String) -> &Tenant {
        self.tenants.entry(id).or_insert_with(|| Tenant {
            id,
            users: users::default_users(&domain, &display_name),
            domain,
            display_name,
            service_principal: None,
            revoked_at: None,
            removed_users: Vec::new(),
        })
    }

    /// Finds a tenant by GUID or verified domain.
    pub fn find_tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        match Uuid::parse_str(id_or_domain) {
            Ok(id) => self.tenants.get(&id),
            Err(_) => self
                .tenants
                .values()
                .find(|t| t.domain.eq_ignore_ascii_case(id_or_domain)),
        }
    }

    /// Admin consent: the service principal exists (created if needed) with these roles and,
    /// tenant-wide, the app's delegated permissions as they are now. Not in the consumers
    /// tenant, which is no organization.
    pub fn grant_consent(&mut self, tenant: Uuid, roles: Vec<String>, at: DateTime<Utc>) -> bool {
        let delegated = self.app.delegated_permissions.clone();
        self.grant_consent_with(tenant, roles, delegated, at)
    }

    /// [`World::grant_consent`] with the delegated permissions given.
    pub fn grant_consent_with(
        &mut self,
        tenant: Uuid,
        roles: Vec<String>,
        delegated_grants: Vec<String>,
        at: DateTime<Utc>,
    ) -> bool {
        if is_consumers(tenant) {
            return false;
        }
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return false;
        };
        let object_id = t
            .service_principal
            .as_ref()
            .map(|sp| sp.object_id)
            .unwrap_or_else(Uuid::new_v4);
        t.service_principal = Some(ServicePrincipal {
            object_id,
            roles,
            delegated_grants,
            granted_at: Some(at),
        });
        true
    }

    /// A service principal without any granted permission.
    pub fn create_service_principal(&mut self, tenant: Uuid) -> bool {
        if is_consumers(tenant) {
            return false;
        }
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return false;
        };
        if t.service_principal.is_none() {
            t.service_principal = Some(ServicePrincipal {
                object_id: Uuid::new_v4(),
                roles: Vec::new(),
                delegated_grants: Vec::new(),
                granted_at: None,
            });
        }
        true
    }

    /// Revokes consent: removes the service principal (tokens then fail with AADSTS700016), or
    /// only its grants (tokens then carry no roles).
    pub fn revoke_consent(
        &mut self,
        tenant: Uuid,
        keep_service_principal: bool,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(t) = self.tenants.get_mut(&tenant) else {
            return false;
        };
        if keep_service_principal {
            if let Some(sp) = t.service_principal.as_mut() {
                sp.roles.clear();
                sp.delegated_grants.clear();
                sp.granted_at = None;
            }
        } else {
            t.service_principal = None;
        }
        t.revoked_at = Some(at);
        true
    }

    /// Removes subscriptions whose expiration has passed: Graph deletes expired subscriptions.
    /// Whether it removed any.
    pub fn purge_expired(&mut self, now: DateTime<Utc>) -> bool {
        let expired: Vec<Uuid> = self
            .subscriptions
            .values()
            .filter(|s| s.expiration_date_time <= now)
            .map(|s| s.id)
            .collect();
        let any = !expired.is_empty();
        for id in expired {
            self.remove_subscription(id, Ended::Expired);
        }
        any
    }

    /// Removes a subscription and remembers why; `None` if there was none.
    pub fn remove_subscription(&mut self, id: Uuid, why: Ended) -> Option<Subscription> {
        let removed = self.subscriptions.remove(&id)?;
        self.ended.insert(id, why);
        Some(removed)
    }
}

impl Subscription {
    /// A subscription with a fresh id, created at `now`.
    pub fn new(new: NewSubscription, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::new_v4(),
            tenant_id: new.tenant_id,
            application_id: new.application_id,
            creator_id: new.creator_id,
            resource: new.resource,
            kind: new.kind,
            delegated_user: new.delegated_user,
            match_resource: new.match_resource,
            change_type: new.change_type,
            client_state: new.client_state,
            notification_url: new.notification_url,
            lifecycle_notification_url: new.lifecycle_notification_url,
            expiration_date_time: new.expiration_date_time,
            include_resource_data: false,
            encryption_certificate: None,
            encryption_certificate_id: None,
            latest_supported_tls_version: "v1_2".to_owned(),
            notification_url_app_id: None,
            created_at: now,
            last_authorized_at: now,
            reauthorization_required_at: None,
            paused_from: None,
            mailbox: new.mailbox,
            renewals: 0,
            reauthorizations: 0,
        }
    }

    /// The app answered a reauthorization challenge (or renewed): delivery resumes.
    pub fn reauthorized(&mut self, now: DateTime<Utc>) {
        self.last_authorized_at = now;
        self.reauthorization_required_at = None;
        self.paused_from = None;
    }

    /// Whether change notifications are held at `now`.
    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        self.paused_from.is_some_and(|from| from <= now)
    }
}

impl AppSecret {
    pub fn new(value: String, expires_at: Option<DateTime<Utc>>) -> Self {
        let hint: String = value.chars().take(3).collect();
        Self {
            value,
            id: Uuid::new_v4(),
            hint,
            expires_at,
        }
    }
}
