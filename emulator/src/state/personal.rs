//! Personal Microsoft accounts and drives. Entra keeps personal accounts in one built-in tenant,
//! `9188040d-6c67-4c5b-b112-36a304b66dad` ("consumers"): it is not an organization (nobody can
//! grant admin consent there or get an app-only token for it), it only lets personal users sign
//! in. This module seeds that tenant and derives the stable drive ids Graph shows for a
//! personal OneDrive and for a SharePoint site's document library, so the api, the tests and the
//! emulator agree on them without storing anything.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Tenant, User, World};

/// The tenant id of personal Microsoft accounts.
pub const CONSUMERS_TENANT: Uuid = Uuid::from_u128(0x9188040d_6c67_4c5b_b112_36a304b66dad);
/// Its name in URLs (`/consumers/oauth2/v2.0/authorize`) and its "domain".
pub const CONSUMERS_DOMAIN: &str = "consumers";
pub const CONSUMERS_NAME: &str = "Microsoft Accounts";
/// The personal user every emulator starts with.
pub const ALICE_UPN: &str = "alice@outlook.com";
pub const ALICE_NAME: &str = "Alice Personal";
/// Alice's object id: personal accounts' ids start with eight zero bytes.
pub const ALICE_ID: Uuid = Uuid::from_u128(0x00000000_0000_0000_a11c_e0000000a11c);

/// Whether a tenant id is the consumers tenant.
pub fn is_consumers(tenant: Uuid) -> bool {
    tenant == CONSUMERS_TENANT
}

/// The drive id of a personal user's OneDrive: 16 lowercase hex characters (as real personal
/// drive ids are), the first eight bytes of SHA-256 of `personal-drive:{user id}`.
pub fn personal_drive_id(user: Uuid) -> String {
    let digest = Sha256::digest(format!("personal-drive:{user}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The drive id of a SharePoint site's default document library: `b!` and 64 url-safe base64
/// characters (48 bytes, like real ids), from SHA-256 of the lower-cased site id and of
/// `documents:{site id}`.
pub fn site_drive_id(site: &str) -> String {
    let site = site.trim().to_lowercase();
    let mut bytes = Sha256::digest(site.as_bytes()).to_vec();
    bytes.extend_from_slice(&Sha256::digest(format!("documents:{site}").as_bytes())[..16]);
    format!("b!{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The consumers tenant with its seeded personal user.
pub fn consumers_tenant() -> Tenant {
    Tenant {
        id: CONSUMERS_TENANT,
        domain: CONSUMERS_DOMAIN.to_owned(),
        display_name: CONSUMERS_NAME.to_owned(),
        service_principal: None,
        revoked_at: None,
        removed_users: Vec::new(),
        users: vec![User {
            id: ALICE_ID,
            display_name: ALICE_NAME.to_owned(),
            user_principal_name: ALICE_UPN.to_owned(),
            roles: Vec::new(),
            session_generation: 0,
            sign_in_sessions_valid_from: None,
            interaction_required: None,
        }],
    }
}

impl World {
    /// The tenant and user of a personal account, by address or object id.
    pub fn personal_user(&self, name: &str) -> Option<&User> {
        self.tenants
            .get(&CONSUMERS_TENANT)?
            .users
            .iter()
            .find(|u| u.is_named(name))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn drive_ids_are_stable_and_shaped_like_graphs() {
        let id = personal_drive_id(ALICE_ID);
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, personal_drive_id(ALICE_ID));
        assert_ne!(id, personal_drive_id(Uuid::nil()));
        let site = site_drive_id("contoso.sharepoint.com,1,2");
        assert!(site.starts_with("b!") && site.len() == 66, "{site}");
        assert_eq!(site, site_drive_id("Contoso.sharepoint.com,1,2"));
    }
}
