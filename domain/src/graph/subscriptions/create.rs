//! Creating a subscription without ever leaving a Graph subscription that nothing holds.
//!
//! Graph's create is synchronous and cannot share a transaction with our insert, so the row
//! comes first:
//! 1. every input is checked ([`super::input`]) before anything is written or Graph is called;
//! 2. under a per-tenant advisory lock, one transaction counts the tenant's subscriptions and
//!    inserts the new one as `creating`: the quota holds however many creates race, and the
//!    row holds its slot while Graph works;
//! 3. Graph creates it (running its validation handshake against our receiver);
//! 4. the row becomes `active` with Graph's id and expiry, but only while it is still
//!    `creating` (the reconciler may have given it up, the tenant may have deleted it).
//!
//! When Graph refuses, the row is removed. When the row cannot be completed (Postgres went away
//! after Graph's 201), Graph's subscription is deleted at once and the row removed, as far as
//! that is possible; what a crash leaves behind, the reconciler ([`super::reconcile`]) resolves.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::json;

use super::{
    AtGraph, CreateError, CreateRequest, create_at_graph, hash,
    input::{self, Checked},
    new_client_state, token_through,
};
use crate::{
    delivery::endpoints,
    graph::microsoft::{graph::GraphCallError, tokens::AccessToken},
    graph::resources::{Access, Kind, ResourceError},
    operator::audit::{self, Actor, NewEntry},
    platform::entities::{
        connection::{self, Account, ConnectionStatus},
        subscription::{self, SubscriptionStatus},
        tenant,
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{ConnectionId, SubscriptionId, TenantId},
    platform::quota::{self, Quota},
    services::Services,
    tenancy::connections,
    tenancy::tenants,
};

/// Creates a subscription at Graph for the tenant and records it `active`.
#[tracing::instrument(skip_all, fields(tenant = %tenant.id))]
pub async fn create(
    services: &Services,
    tenant: &tenant::Model,
    request: CreateRequest,
    actor: Actor,
) -> Result<subscription::Model, CreateError> {
    let tenant_id = TenantId::from(tenant.id);
    let mut checked = input::check(request)?;
    for id in checked.endpoint_ids.iter().flatten() {
        endpoints::find(&services.db, tenant_id, *id)
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => CreateError::UnknownEndpoint(*id),
                other => CreateError::Domain(other),
            })?;
    }
    let via = match checked.connection_id {
        None => {
            app_only(services, tenant_id, &checked).await?;
            None
        }
        Some(id) => Some(through_connection(services, tenant_id, id, &checked).await?),
    };
    let token = token_through(services, tenant, via.as_ref().map(|c| c.id), false).await?;
    let requested = resolve_site(services, &token, &mut checked).await?;
    let holder_columns = Holder {
        connection_id: via.as_ref().map(|c| c.id),
        graph_tenant_id: via
            .as_ref()
            .filter(|c| c.account == Account::Personal)
            .and_then(|c| c.user_tenant_id),
        requested_resource: requested,
    };

    let client_state = new_client_state();
    let row = reserve(services, tenant_id, &checked, &client_state, holder_columns).await?;
    let created = match create_at_graph(
        services,
        &token,
        &checked.resource.path,
        &checked.change_type,
        checked.max_minutes,
        checked.rich,
        client_state,
    )
    .await
    {
        Ok(created) => created,
        Err(error) => {
            give_back(&services.db, row.id).await;
            return Err(match error {
                CreateError::Duplicate { graph_id, .. } => CreateError::Duplicate {
                    existing: holder(&services.db, tenant_id, graph_id.as_deref(), &checked)
                        .await?,
                    graph_id,
                },
                other => other,
            });
        }
    };
    finish(services, tenant_id, &row, &created, actor, &token).await
}

/// A SharePoint site's drive (`sites/{id}/drive[s/{id}]/root`) is resolved to its drive id, which
/// is what Graph subscribes to; returns what the tenant asked for, when it was such a path.
async fn resolve_site(
    services: &Services,
    token: &AccessToken,
    checked: &mut Checked,
) -> Result<Option<String>, CreateError> {
    Ok(match checked.resource.site.clone() {
        None => None,
        Some(site) => {
            let drive = services
                .graph
                .site_drive(token, &site.site, site.drive.as_deref())
                .await
                .map_err(|e| match e {
                    GraphCallError::Graph(e) if e.status == 404 => CreateError::SiteNotFound {
                        resource: checked.resource.path.clone(),
                        graph: e.message,
                    },
                    other => {
                        super::map_graph_error(other, &super::notification_url(&services.settings))
                    }
                })?;
            let asked =
                std::mem::replace(&mut checked.resource.path, format!("drives/{drive}/root"));
            Some(asked)
        }
    })
}

/// Writes Graph's answer to the reserved row. When that cannot be done, Graph's copy is deleted
/// so no subscription is left that Graphhook does not know (unless the write did commit and
/// only its acknowledgement was lost).
async fn finish(
    services: &Services,
    tenant_id: TenantId,
    row: &subscription::Model,
    created: &AtGraph,
    actor: Actor,
    token: &AccessToken,
) -> Result<subscription::Model, CreateError> {
    match complete(services, tenant_id, row, created, actor).await {
        Ok(Some(model)) => Ok(model),
        Ok(None) => {
            abandon(services, token, &created.graph_id, row.id).await;
            Err(CreateError::Domain(DomainError::conflict(
                "deleted_during_create",
                "the subscription was deleted (or given up) while Microsoft Graph created it; Graph's copy was deleted too",
            )))
        }
        Err(error) => {
            // The write may have committed with only its acknowledgement lost.
            if let Ok(Some(done)) = subscription::Entity::find_by_id(row.id)
                .filter(subscription::Column::GraphId.eq(created.graph_id.as_str()))
                .filter(subscription::Column::Status.eq(SubscriptionStatus::Active))
                .one(&services.db)
                .await
            {
                return Ok(done);
            }
            abandon(services, token, &created.graph_id, row.id).await;
            Err(error.into())
        }
    }
}

/// What holds a subscription besides its tenant: the connection whose user's token created it,
/// the Entra tenant Graph notifies it under, and what the tenant asked for when Graph was
/// given something else.
struct Holder {
    connection_id: Option<uuid::Uuid>,
    graph_tenant_id: Option<uuid::Uuid>,
    requested_resource: Option<String>,
}

/// An app-only subscription: the resource allows one, and the tenant granted its permission.
async fn app_only(
    services: &Services,
    tenant: TenantId,
    checked: &Checked,
) -> Result<(), CreateError> {
    let path = || checked.resource.path.clone();
    match checked.resource.access {
        Access::Delegated => {
            let what = match checked.spec.kind {
                Kind::Conversation => "group conversations",
                _ => "the signed-in user's own data",
            };
            return Err(ResourceError::DelegatedOnly(path(), what).into());
        }
        Access::Personal => return Err(ResourceError::PersonalOnly(path()).into()),
        Access::Any => {}
    }
    let granted = tenants::current_consent(&services.db, tenant)
        .await?
        .map(|c| tenants::granted_roles(&c))
        .unwrap_or_default();
    let needed = checked.spec.application.unwrap_or(&[]);
    if !needed.iter().any(|p| granted.iter().any(|g| g == p)) {
        return Err(CreateError::MissingPermission {
            permission: needed.join(" or "),
            kind: checked.spec.name,
        });
    }
    Ok(())
}

/// A subscription through a connection: active, of an account that may hold the resource, and
/// granted the delegated permission it needs.
async fn through_connection(
    services: &Services,
    tenant: TenantId,
    id: ConnectionId,
    checked: &Checked,
) -> Result<connection::Model, CreateError> {
    let found = connections::find(&services.db, tenant, id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => CreateError::UnknownConnection(id),
            other => CreateError::Domain(other),
        })?;
    if found.status != ConnectionStatus::Active {
        return Err(CreateError::ConnectionNotActive {
            id,
            status: found.status.as_str(),
        });
    }
    let app_only_hint = "; subscribe to it app-only (without connection_id)";
    if checked.resource.site.is_some() {
        return Err(CreateError::NotThroughConnection {
            kind: "SharePoint site drive",
            account: found.account.as_str(),
            hint: app_only_hint,
        });
    }
    if checked.resource.access == Access::Personal && found.account == Account::Work {
        return Err(ResourceError::PersonalOnly(checked.resource.path.clone()).into());
    }
    let needed = match found.account {
        Account::Work => checked.spec.delegated,
        Account::Personal => checked.spec.personal,
    };
    let Some(needed) = needed else {
        return Err(CreateError::NotThroughConnection {
            kind: checked.spec.name,
            account: found.account.as_str(),
            hint: if checked.spec.application.is_some() {
                app_only_hint
            } else {
                ""
            },
        });
    };
    let broader = format!("{needed}.All");
    let granted = found.granted_scopes.as_deref().unwrap_or_default();
    if !granted
        .split_whitespace()
        .any(|g| g.eq_ignore_ascii_case(needed) || g.eq_ignore_ascii_case(&broader))
    {
        return Err(CreateError::MissingScope {
            id,
            scope: needed,
            kind: checked.spec.name,
        });
    }
    Ok(found)
}

/// Counts the tenant's subscriptions and inserts the new one as `creating`, in one transaction
/// under the tenant's lock.
async fn reserve(
    services: &Services,
    tenant: TenantId,
    checked: &Checked,
    client_state: &str,
    holder: Holder,
) -> Result<subscription::Model, CreateError> {
    let txn = services.db.begin().await.map_err(DomainError::from)?;
    let held = subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant.uuid()))
        .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted));
    let held = quota::count(&txn, tenant, Quota::Subscriptions, held).await?;
    let limit = services.settings.subscriptions.max_per_tenant;
    if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
        txn.rollback().await.map_err(DomainError::from)?;
        return Err(CreateError::TenantQuota(limit));
    }
    let row = subscription::ActiveModel {
        id: Set(SubscriptionId::new().uuid()),
        include_resource_data: Set(checked.rich),
        endpoint_ids: Set(checked.endpoint_ids.as_ref().map(|ids| json!(ids))),
        connection_id: Set(holder.connection_id),
        graph_tenant_id: Set(holder.graph_tenant_id),
        requested_resource: Set(holder.requested_resource),
        ..subscription::ActiveModel::creating(
            tenant.uuid(),
            checked.resource.path.clone(),
            checked.spec.name.to_owned(),
            checked.change_type.clone(),
            hash(client_state),
            services.clock.now(),
        )
    }
    .insert(&txn)
    .await
    .map_err(DomainError::from)?;
    txn.commit().await.map_err(DomainError::from)?;
    Ok(row)
}

/// Makes the `creating` row `active` with what Graph granted, and audits it; `None` when the
/// row is no longer `creating`.
async fn complete(
    services: &Services,
    tenant: TenantId,
    row: &subscription::Model,
    created: &AtGraph,
    actor: Actor,
) -> DomainResult<Option<subscription::Model>> {
    let txn = services.db.begin().await?;
    let completed = subscription::Entity::update_many()
        .set(subscription::ActiveModel {
            graph_id: Set(Some(created.graph_id.clone())),
            include_resource_data: Set(created.certificate_label.is_some()),
            encryption_certificate_id: Set(created.certificate_label.clone()),
            status: Set(SubscriptionStatus::Active),
            expires_at: Set(Some(created.expires_at)),
            updated_at: Set(services.clock.now()),
            renew_at: Set(Some(created.renew_at)),
            due_at: Set(Some(created.renew_at)),
            ..Default::default()
        })
        .filter(subscription::Column::Id.eq(row.id))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Creating))
        .exec_with_returning(&txn)
        .await?;
    let Some(model) = completed.into_iter().next() else {
        txn.rollback().await?;
        return Ok(None);
    };
    let entry = NewEntry::new(actor, "subscription.created")
        .tenant(tenant)
        .target("subscription", SubscriptionId::from(row.id))
        .details(json!({"graph_id": created.graph_id, "resource": row.resource}));
    audit::record(&txn, &services.clock, entry).await?;
    txn.commit().await?;
    Ok(Some(model))
}

/// Removes a row that never became a subscription (Graph refused, or it was abandoned). A
/// failure is only logged: the reconciler removes rows stuck in `creating`.
async fn give_back<C: ConnectionTrait>(db: &C, id: uuid::Uuid) {
    let removed = subscription::Entity::delete_many()
        .filter(subscription::Column::Id.eq(id))
        .filter(subscription::Column::Status.eq(SubscriptionStatus::Creating))
        .exec(db)
        .await;
    if let Err(error) = removed {
        tracing::warn!(%error, subscription = %SubscriptionId::from(id), "could not remove a row stuck in creating; the reconciler will");
    }
}

/// Deletes at Graph a subscription whose row could not be completed, then the row.
async fn abandon(services: &Services, token: &AccessToken, graph_id: &str, row: uuid::Uuid) {
    if let Err(error) = services.graph.delete_subscription(token, graph_id).await {
        tracing::warn!(%error, graph_id, "could not delete a Graph subscription whose row was not completed; the reconciler will");
    }
    give_back(&services.db, row).await;
}

/// The tenant's subscription that holds what Graph called a duplicate: by Graph's id when its
/// message names one; else (or when that is a create of the same combination still waiting for
/// Graph) by the same resource and change types.
async fn holder<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    graph_id: Option<&str>,
    checked: &Checked,
) -> DomainResult<Option<SubscriptionId>> {
    let mine = || {
        subscription::Entity::find()
            .filter(subscription::Column::TenantId.eq(tenant.uuid()))
            .filter(subscription::Column::Status.ne(SubscriptionStatus::Deleted))
    };
    if let Some(graph_id) = graph_id
        && let Some(found) = mine()
            .filter(subscription::Column::GraphId.eq(graph_id))
            .one(db)
            .await?
    {
        return Ok(Some(found.id.into()));
    }
    let mut same = mine()
        .filter(subscription::Column::Resource.eq(checked.resource.path.as_str()))
        .filter(subscription::Column::ChangeTypes.eq(checked.change_type.as_str()));
    if graph_id.is_some() {
        same = same.filter(subscription::Column::Status.eq(SubscriptionStatus::Creating));
    }
    Ok(same.one(db).await?.map(|s| s.id.into()))
}
