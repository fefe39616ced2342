//! The people in each tenant's directory: who can sign in through the authorize endpoint, and
//! which directory roles they hold (what an ID token's `wids` lists). Every tenant starts with
//! an administrator, a user without roles and an app administrator, so an onboarding flow can
//! be tried with each kind of person without setting anything up. The default tenant, Contoso,
//! also has a mailbox user, Adele Vance (`adelev@contoso.onmicrosoft.com`, id
//! `8ee44408-0679-472c-bc2a-692812af3437`, no role): Graph refuses subscriptions to mailboxes
//! of users it cannot find (see `unknown_users`), and hers is the one the docs' examples use.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Tenant, World};
use crate::{config::UserConfig, directory_roles};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The object id (`oid`).
    pub id: Uuid,
    pub display_name: String,
    pub user_principal_name: String,
    /// Active directory roles, by role template id.
    pub roles: Vec<Uuid>,
    /// Bumped when the user's sessions are revoked: refresh tokens of an earlier generation
    /// are refused (AADSTS50173).
    #[serde(skip)]
    pub session_generation: u64,
    /// When sessions were last revoked (Graph's `signInSessionsValidFromDateTime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_sessions_valid_from: Option<DateTime<Utc>>,
    /// The AADSTS code (50076 or 53003) every refresh of this user's tokens fails with until
    /// it is cleared or the user signs in interactively again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_required: Option<u32>,
}

impl User {
    pub fn from_config(config: &UserConfig) -> Self {
        Self {
            id: config.id.unwrap_or_else(Uuid::new_v4),
            display_name: config.display_name.clone(),
            user_principal_name: config.user_principal_name.clone(),
            roles: config.roles.clone(),
            session_generation: 0,
            sign_in_sessions_valid_from: None,
            interaction_required: None,
        }
    }

    /// Whether `name` is this user's UPN (case-insensitive) or object id.
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        self.user_principal_name.eq_ignore_ascii_case(name)
            || Uuid::parse_str(name).is_ok_and(|id| id == self.id)
    }
}

/// A new tenant's users: `admin@`, `user@` and `appadmin@` its domain.
pub fn default_users(domain: &str, display_name: &str) -> Vec<User> {
    [
        (
            "admin",
            "Admin",
            vec![directory_roles::GLOBAL_ADMINISTRATOR],
        ),
        ("user", "User", Vec::new()),
        (
            "appadmin",
            "App Admin",
            vec![directory_roles::CLOUD_APPLICATION_ADMINISTRATOR],
        ),
    ]
    .into_iter()
    .map(|(local, title, roles)| User {
        id: Uuid::new_v4(),
        display_name: format!("{display_name} {title}"),
        user_principal_name: format!("{local}@{domain}"),
        roles,
        session_generation: 0,
        sign_in_sessions_valid_from: None,
        interaction_required: None,
    })
    .collect()
}

/// Contoso's mailbox user: the mailbox of the docs' examples (§1.2).
pub const CONTOSO_MAILBOX_USER: &str = "8ee44408-0679-472c-bc2a-692812af3437";

/// Adele Vance, Contoso's mailbox user without a directory role.
pub fn contoso_mailbox_user() -> UserConfig {
    UserConfig {
        id: Uuid::parse_str(CONTOSO_MAILBOX_USER).ok(),
        user_principal_name: "adelev@contoso.onmicrosoft.com".to_owned(),
        display_name: "Adele Vance".to_owned(),
        roles: Vec::new(),
    }
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error("tenant not found")]
    NoTenant,
    #[error("a user named {0} already exists")]
    Duplicate(String),
}

impl World {
    /// The tenant and user a UPN (case-insensitive) or object id names, in any tenant.
    pub fn find_user(&self, name: &str) -> Option<(&Tenant, &User)> {
        self.tenants
            .values()
            .find_map(|t| t.users.iter().find(|u| u.is_named(name)).map(|u| (t, u)))
    }

    /// A user of this tenant, by object id.
    pub fn user(&self, tenant: Uuid, id: Uuid) -> Option<&User> {
        self.tenants.get(&tenant)?.users.iter().find(|u| u.id == id)
    }

    /// A user of this tenant, by UPN or object id, to change.
    pub fn user_mut(&mut self, tenant: Uuid, name: &str) -> Option<&mut User> {
        self.tenants
            .get_mut(&tenant)?
            .users
            .iter_mut()
            .find(|u| u.is_named(name))
    }

    /// Adds a user to a tenant. UPNs and object ids are unique across every tenant, as in
    /// Entra (a UPN's domain belongs to one tenant).
    pub fn add_user(&mut self, tenant: Uuid, config: &UserConfig) -> Result<User, AddUserError> {
        if !self.tenants.contains_key(&tenant) {
            return Err(AddUserError::NoTenant);
        }
        let user = User::from_config(config);
        if self.find_user(&user.user_principal_name).is_some() {
            return Err(AddUserError::Duplicate(user.user_principal_name));
        }
        if self.find_user(&user.id.to_string()).is_some() {
            return Err(AddUserError::Duplicate(user.id.to_string()));
        }
        let t = self
            .tenants
            .get_mut(&tenant)
            .ok_or(AddUserError::NoTenant)?;
        t.removed_users
            .retain(|r| r.id != user.id && !r.is_named(&user.user_principal_name));
        t.users.push(user.clone());
        Ok(user)
    }

    /// Removes a user (by UPN or object id) from a tenant's directory; `None` if there was none.
    pub fn remove_user(&mut self, tenant: Uuid, name: &str) -> Option<User> {
        let t = self.tenants.get_mut(&tenant)?;
        let index = t.users.iter().position(|u| u.is_named(name))?;
        let user = t.users.remove(index);
        t.removed_users.push(user.clone());
        Some(user)
    }

    /// Whether `name` (a UPN or object id, as a resource path writes it) is a user of the tenant.
    pub fn has_user(&self, tenant: Uuid, name: &str) -> bool {
        self.tenants
            .get(&tenant)
            .is_some_and(|t| t.users.iter().any(|u| u.is_named(name)))
    }

    /// Whether `name` was a user of the tenant and was removed (and not added again).
    pub fn was_removed(&self, tenant: Uuid, name: &str) -> bool {
        self.tenants
            .get(&tenant)
            .is_some_and(|t| t.removed_users.iter().any(|u| u.is_named(name)))
    }

    /// Replaces a tenant's users with the configured ones.
    pub fn replace_users(&mut self, tenant: Uuid, users: &[UserConfig]) -> anyhow::Result<()> {
        if let Some(t) = self.tenants.get_mut(&tenant) {
            t.users.clear();
        }
        for config in users {
            self.add_user(tenant, config)
                .map_err(|e| anyhow::anyhow!("tenant {tenant}: {e}"))?;
        }
        Ok(())
    }
}
