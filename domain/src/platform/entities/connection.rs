use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A Microsoft user connected to a tenant (see [`crate::tenancy::connections`]). Tokens are sealed with
/// the deployment's encryption key; `Debug` of the model never shows them in the clear.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub account: Account,
    pub status: ConnectionStatus,
    /// The Graph permissions asked for, space-separated.
    pub scopes: String,
    /// The Graph permissions Entra granted (the token's `scope`), space-separated.
    pub granted_scopes: Option<String>,
    /// The user's `oid` and `tid`.
    pub user_object_id: Option<Uuid>,
    pub user_tenant_id: Option<Uuid>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Sealed refresh token.
    pub refresh_token: Option<Vec<u8>>,
    /// Sealed access token, shared by every process until `access_expires_at`.
    pub access_token: Option<Vec<u8>>,
    pub access_expires_at: Option<DateTimeUtc>,
    pub refreshed_at: Option<DateTimeUtc>,
    /// SHA-256 of the `state` of the sign-in waiting to come back, if one is.
    pub auth_state_hash: Option<Vec<u8>>,
    /// Sealed PKCE verifier of that sign-in.
    pub auth_verifier: Option<Vec<u8>>,
    pub auth_nonce: Option<String>,
    pub auth_expires_at: Option<DateTimeUtc>,
    pub login_hint: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub connected_at: Option<DateTimeUtc>,
}

/// Which Entra authority the user signs in through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// A work or school account of the tenant's own organization (`organizations`).
    #[sea_orm(string_value = "work")]
    Work,
    /// A personal Microsoft account (`consumers`).
    #[sea_orm(string_value = "personal")]
    Personal,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Work => "work",
            Account::Personal => "personal",
        }
    }

    /// The Entra authority segment its sign-in and tokens use.
    pub fn authority_segment(self) -> &'static str {
        match self {
            Account::Work => "organizations",
            Account::Personal => "consumers",
        }
    }
}

/// `pending` until the user signs in; `active`; `reauthorization_required` when Entra no longer
/// refreshes its token (revoked, expired, interaction required) until the user connects again;
/// `deleted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "reauthorization_required")]
    ReauthorizationRequired,
    #[sea_orm(string_value = "deleted")]
    Deleted,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Pending => "pending",
            ConnectionStatus::Active => "active",
            ConnectionStatus::ReauthorizationRequired => "reauthorization_required",
            ConnectionStatus::Deleted => "deleted",
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
