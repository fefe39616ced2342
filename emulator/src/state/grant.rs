//! What a user's sign-in granted an app: the authorization code carries it to the token
//! endpoint, and every refresh token issued from it keeps it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A delegated grant: to which app, for which user of which tenant, and with what scope.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DelegatedGrant {
    pub client_id: Uuid,
    /// The signed-in user's tenant.
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// The sign-in's `scope`, as sent (for its OpenID Connect scopes).
    pub scope: String,
    /// The Graph permissions granted, by their registered names.
    pub granted: Vec<String>,
}
