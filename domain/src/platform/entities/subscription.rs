use sea_orm::{ActiveValue::Set, entity::prelude::*};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Graph's id, once Graph created it.
    pub graph_id: Option<String>,
    pub resource: String,
    /// The resource kind (`message`, `user`, …).
    pub kind: String,
    /// Graph's `changeType`, e.g. `created,updated`.
    pub change_types: String,
    pub include_resource_data: bool,
    /// The label of the certificate Graph encrypts this subscription's resource data with.
    pub encryption_certificate_id: Option<String>,
    /// SHA-256 of the `clientState` Graph echoes; the value itself is not stored.
    pub client_state_hash: Vec<u8>,
    /// The endpoints this subscription's events go to; `None`: every endpoint whose filter matches.
    pub endpoint_ids: Option<Json>,
    pub status: SubscriptionStatus,
    pub expires_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the next renewal is scheduled.
    pub renew_at: Option<DateTimeUtc>,
    pub last_renewed_at: Option<DateTimeUtc>,
    /// What the next upkeep does, and when: a renewal, or an action a lifecycle event or a
    /// consent change asked for.
    pub due_action: DueAction,
    pub due_at: Option<DateTimeUtc>,
    /// Bumped whenever an action is requested, so a worker finishing an older one keeps it.
    pub action_version: i32,
    /// Failed attempts at the due action in a row.
    pub failures: i32,
    /// Held by the worker acting on the subscription, until `lease_until`.
    pub lease_token: Option<Uuid>,
    pub lease_until: Option<DateTimeUtc>,
    /// When the tenant was told that the subscription would expire before a renewal succeeds.
    pub expiry_warned_at: Option<DateTimeUtc>,
    /// The delegated connection whose user's token holds it; `None`: app-only.
    pub connection_id: Option<Uuid>,
    /// The Entra tenant Graph notifies it under, when not the tenant's own (a personal account's
    /// subscriptions are notified under the consumers tenant).
    pub graph_tenant_id: Option<Uuid>,
    /// What the tenant asked for, when Graph was given something else (`resource`): a
    /// SharePoint site's drive resolved to `drives/{id}/root`.
    pub requested_resource: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DueAction {
    /// PATCH a later expirationDateTime.
    #[sea_orm(string_value = "renew")]
    Renew,
    /// POST /subscriptions/{id}/reauthorize (Graph sent reauthorizationRequired).
    #[sea_orm(string_value = "reauthorize")]
    Reauthorize,
    /// Create it again at Graph (Graph removed it, or no longer knows it).
    #[sea_orm(string_value = "recreate")]
    Recreate,
    /// Consent is back after a pause: renew, or recreate if Graph dropped it meanwhile.
    #[sea_orm(string_value = "resume")]
    Resume,
}

impl DueAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DueAction::Renew => "renew",
            DueAction::Reauthorize => "reauthorize",
            DueAction::Recreate => "recreate",
            DueAction::Resume => "resume",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    #[sea_orm(string_value = "creating")]
    Creating,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "paused")]
    Paused,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "deleted")]
    Deleted,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl ActiveModel {
    /// A new row as a create writes it before Graph is asked: `creating`, no Graph id, no
    /// expiry, no upkeep due, not rich, for every endpoint, app-only. Callers set what differs
    /// (rich content, endpoints, the connection that holds it; a Graph id, `active` and an
    /// expiry once Graph created it).
    pub fn creating(
        tenant_id: Uuid,
        resource: String,
        kind: String,
        change_types: String,
        client_state_hash: Vec<u8>,
        now: DateTimeUtc,
    ) -> Self {
        Self {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            graph_id: Set(None),
            resource: Set(resource),
            kind: Set(kind),
            change_types: Set(change_types),
            include_resource_data: Set(false),
            encryption_certificate_id: Set(None),
            client_state_hash: Set(client_state_hash),
            endpoint_ids: Set(None),
            status: Set(SubscriptionStatus::Creating),
            expires_at: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            renew_at: Set(None),
            last_renewed_at: Set(None),
            due_action: Set(DueAction::Renew),
            due_at: Set(None),
            action_version: Set(0),
            failures: Set(0),
            lease_token: Set(None),
            lease_until: Set(None),
            expiry_warned_at: Set(None),
            connection_id: Set(None),
            graph_tenant_id: Set(None),
            requested_resource: Set(None),
        }
    }
}
