use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub entra_tenant_id: Uuid,
    pub name: String,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the tenant was offboarded; its data is removed a retention window later.
    pub offboarded_at: Option<DateTimeUtc>,
}

/// `pending` until consent is confirmed; `consent_revoked` when the token endpoint says consent
/// is gone; `suspended` by an operator; `offboarded` (by an operator or the tenant) until its
/// data is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "consent_revoked")]
    ConsentRevoked,
    #[sea_orm(string_value = "suspended")]
    Suspended,
    #[sea_orm(string_value = "offboarded")]
    Offboarded,
}

/// Rows that belong to a tenant name it (`belongs_to` in theirs); nothing is loaded from the
/// tenant's side, so it names none of them.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
