use sea_orm::entity::prelude::*;

/// One lifecycle action on a subscription (renewal, reauthorization, recreation, pause,
/// resume, failure), as the tenant sees it in the subscription's history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub subscription_id: Uuid,
    /// `renew`, `reauthorize`, `recreate`, `resume`, `pause`, `fail`.
    pub action: String,
    /// What asked for it: `schedule`, `lifecycle:<event>`, `consent_revoked`, `consent_restored`,
    /// `not_found`.
    pub trigger: String,
    /// `succeeded`, `failed`, `requested`.
    pub outcome: String,
    /// Graph's subscription id after the action.
    pub graph_id: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
