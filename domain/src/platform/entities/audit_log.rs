use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant the action concerned; `None` for deployment-wide actions.
    pub tenant_id: Option<Uuid>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub details: Json,
    pub request_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "tenant")]
    Tenant,
    #[sea_orm(string_value = "system")]
    System,
    /// A Microsoft 365 administrator who signed in to onboard their organization (by `oid`).
    #[sea_orm(string_value = "administrator")]
    Administrator,
    /// A Microsoft user who connected their account to a tenant (by `oid`).
    #[sea_orm(string_value = "user")]
    User,
}

belongs_to_tenant!("SetNull");

impl ActiveModelBehavior for ActiveModel {}
