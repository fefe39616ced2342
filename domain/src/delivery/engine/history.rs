//! What the tenant sees of its deliveries, and what it can ask again: lists of messages,
//! deliveries and attempts (all scoped to the tenant), resending a message to an endpoint, and
//! recovering an endpoint's failed deliveries since a time. Both keep the message's
//! `webhook-id` and are recorded as `manual` and `recovery` attempts.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
    sea_query::{Expr, OnConflict},
};

use super::{Trigger, push_deliveries};
use crate::platform::owned::TenantOwned;
/// The tenant's message (or `NotFound`, also for another tenant's).
pub use crate::platform::owned::find as message;
use crate::{
    delivery::endpoints,
    platform::entities::{
        attempt,
        delivery::{self, DeliveryStatus},
        endpoint::{self, EndpointStatus},
        message,
    },
    platform::error::{DomainError, DomainResult},
    platform::ids::{AttemptId, DeliveryId, EndpointId, MessageId, TenantId},
    services::Services,
};

pub use crate::platform::paging::Order;

#[derive(Debug, Default)]
pub struct MessageFilter {
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Messages with a delivery to this endpoint (in `status`, when both are given).
    pub endpoint: Option<EndpointId>,
    /// Messages with at least one delivery in this status (to `endpoint`, when both are given).
    pub status: Option<DeliveryStatus>,
    pub order: Order,
    /// The previous page's last id.
    pub cursor: Option<MessageId>,
}

pub async fn messages<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    filter: &MessageFilter,
    limit: u64,
) -> DomainResult<Vec<message::Model>> {
    let mut query = message::Entity::find().filter(
        Condition::all()
            .add(message::Column::TenantId.eq(tenant.uuid()))
            .add_option(
                filter
                    .event_type
                    .clone()
                    .map(|t| message::Column::EventType.eq(t)),
            )
            .add_option(
                filter
                    .since
                    .map(|since| message::Column::CreatedAt.gte(since)),
            )
            .add_option(
                filter
                    .until
                    .map(|until| message::Column::CreatedAt.lt(until)),
            ),
    );
    if filter.endpoint.is_some() || filter.status.is_some() {
        // One delivery of the tenant's that matches both: to the endpoint, in the status.
        let mut with = sea_orm::sea_query::Query::select();
        with.column(delivery::Column::MessageId)
            .from(delivery::Entity)
            .and_where(delivery::Column::TenantId.eq(tenant.uuid()));
        if let Some(e) = filter.endpoint {
            with.and_where(delivery::Column::EndpointId.eq(e.uuid()));
        }
        if let Some(s) = filter.status {
            with.and_where(delivery::Column::Status.eq(s));
        }
        query = query.filter(message::Column::Id.in_subquery(with.to_owned()));
    }
    let query = filter
        .order
        .page(query, message::Column::Id, filter.cursor.map(|c| c.uuid()));
    Ok(query.limit(limit).all(db).await?)
}

impl TenantOwned for message::Entity {
    const NAME: &'static str = "message";

    const TENANT_ID: message::Column = message::Column::TenantId;
    const ID: message::Column = message::Column::Id;
}

#[derive(Debug, Default)]
pub struct DeliveryFilter {
    pub endpoint: Option<EndpointId>,
    pub message: Option<MessageId>,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub order: Order,
    /// The previous page's last id.
    pub cursor: Option<DeliveryId>,
}

pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    filter: &DeliveryFilter,
    limit: u64,
) -> DomainResult<Vec<delivery::Model>> {
    let mut query = delivery::Entity::find().filter(
        Condition::all()
            .add(delivery::Column::TenantId.eq(tenant.uuid()))
            .add_option(
                filter
                    .endpoint
                    .map(|e| delivery::Column::EndpointId.eq(e.uuid())),
            )
            .add_option(
                filter
                    .message
                    .map(|m| delivery::Column::MessageId.eq(m.uuid())),
            )
            .add_option(filter.status.map(|s| delivery::Column::Status.eq(s)))
            .add_option(
                filter
                    .since
                    .map(|since| delivery::Column::CreatedAt.gte(since)),
            ),
    );
    if let Some(t) = &filter.event_type {
        let ids: Vec<uuid::Uuid> = message::Entity::find()
            .select_only()
            .column(message::Column::Id)
            .filter(message::Column::TenantId.eq(tenant.uuid()))
            .filter(message::Column::EventType.eq(t.clone()))
            .into_tuple()
            .all(db)
            .await?;
        query = query.filter(delivery::Column::MessageId.is_in(ids));
    }
    let query = filter
        .order
        .page(query, delivery::Column::Id, filter.cursor.map(|c| c.uuid()));
    Ok(query.limit(limit).all(db).await?)
}

/// A delivery's attempts, oldest first.
pub async fn attempts<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    delivery: DeliveryId,
    after: Option<AttemptId>,
    limit: u64,
) -> DomainResult<Vec<attempt::Model>> {
    // The delivery must be the tenant's.
    delivery::Entity::find_by_id(delivery.uuid())
        .filter(delivery::Column::TenantId.eq(tenant.uuid()))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("delivery"))?;
    let mut query = attempt::Entity::find()
        .filter(attempt::Column::TenantId.eq(tenant.uuid()))
        .filter(attempt::Column::DeliveryId.eq(delivery.uuid()));
    if let Some(after) = after {
        query = query.filter(attempt::Column::Id.gt(after.uuid()));
    }
    Ok(query
        .order_by_asc(attempt::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Not claimed by a worker's attempt in flight (a claim that ran out is no claim).
fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(delivery::Column::ClaimedUntil.is_null())
        .add(delivery::Column::ClaimedUntil.lte(now))
}

/// Makes the delivery due now for a `trigger` attempt, unless an attempt of it is in flight:
/// two at once would leave one of them unrecorded, so that is a 409 `attempt_in_flight`.
async fn requeue(
    services: &Services,
    delivery: delivery::Model,
    trigger: Trigger,
) -> DomainResult<delivery::Model> {
    let now = services.clock.now();
    let requeued = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Pending),
        )
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(delivery::Column::NextTrigger, Expr::value(trigger.as_str()))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(delivery.id))
        .filter(unclaimed(now))
        .exec_with_returning(&services.db)
        .await?;
    let Some(delivery) = requeued.into_iter().next() else {
        return Err(DomainError::conflict(
            "attempt_in_flight",
            "an attempt of this delivery is in flight; send it again once that attempt is recorded",
        ));
    };
    if let Err(error) = push_deliveries(&services.queues, std::slice::from_ref(&delivery)).await {
        tracing::warn!(%error, "enqueue failed; the sweeper will deliver it");
    }
    Ok(delivery)
}

/// Sends a message again to one of the tenant's active endpoints (a `manual` attempt).
pub async fn resend(
    services: &Services,
    tenant: TenantId,
    message_id: MessageId,
    endpoint_id: EndpointId,
) -> DomainResult<delivery::Model> {
    let message = message(&services.db, tenant, message_id).await?;
    let endpoint = active_endpoint(services, tenant, endpoint_id).await?;
    if message.payload.is_none() {
        return Err(DomainError::conflict(
            "payload_removed",
            "the message's payload was removed by retention",
        ));
    }
    let existing = || {
        delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant.uuid()))
            .filter(delivery::Column::MessageId.eq(message.id))
            .filter(delivery::Column::EndpointId.eq(endpoint.id))
            .one(&services.db)
    };
    let delivery = match existing().await? {
        Some(delivery) => delivery,
        None => {
            let now = services.clock.now();
            let first = delivery::ActiveModel {
                id: Set(DeliveryId::new().uuid()),
                tenant_id: Set(tenant.uuid()),
                message_id: Set(message.id),
                endpoint_id: Set(endpoint.id),
                status: Set(DeliveryStatus::Pending),
                attempt_count: Set(0),
                next_attempt_at: Set(Some(now)),
                next_trigger: Set(Trigger::Manual.as_str().to_owned()),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                claimed_until: Set(None),
            };
            // Another resend may create it meanwhile: then that one is the delivery.
            delivery::Entity::insert(first)
                .on_conflict(
                    OnConflict::columns([
                        delivery::Column::MessageId,
                        delivery::Column::EndpointId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&services.db)
                .await?;
            existing().await?.ok_or(DomainError::NotFound("delivery"))?
        }
    };
    requeue(services, delivery, Trigger::Manual).await
}

/// The tenant's endpoint, which must be active to be delivered to again.
async fn active_endpoint(
    services: &Services,
    tenant: TenantId,
    id: EndpointId,
) -> DomainResult<endpoint::Model> {
    let endpoint = endpoints::find(&services.db, tenant, id).await?;
    if endpoint.status != EndpointStatus::Active {
        return Err(DomainError::conflict(
            "endpoint_not_active",
            "the endpoint is not active",
        ));
    }
    Ok(endpoint)
}

/// Delivers again every failed or exhausted delivery of an endpoint created since `since`
/// (`recovery` attempts). Returns how many.
pub async fn recover(
    services: &Services,
    tenant: TenantId,
    endpoint_id: EndpointId,
    since: DateTime<Utc>,
) -> DomainResult<usize> {
    let endpoint = active_endpoint(services, tenant, endpoint_id).await?;
    let failed = delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(tenant.uuid()))
        .filter(delivery::Column::EndpointId.eq(endpoint.id))
        .filter(delivery::Column::Status.is_in([DeliveryStatus::Failed, DeliveryStatus::Exhausted]))
        .filter(delivery::Column::CreatedAt.gte(since))
        .all(&services.db)
        .await?;
    let now = services.clock.now();
    let mut count = 0;
    // In bulk: a recovery may cover many thousands of deliveries. The update checks again what
    // the read found: one delivered meanwhile, or with a retry in flight, is left alone.
    for chunk in failed.chunks(1_000) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|d| d.id).collect();
        let requeued = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::Pending),
            )
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                delivery::Column::NextTrigger,
                Expr::value(Trigger::Recovery.as_str()),
            )
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::TenantId.eq(tenant.uuid()))
            .filter(delivery::Column::Id.is_in(ids))
            .filter(
                delivery::Column::Status.is_in([DeliveryStatus::Failed, DeliveryStatus::Exhausted]),
            )
            .filter(unclaimed(now))
            .exec_with_returning(&services.db)
            .await?;
        count += requeued.len();
        if let Err(error) = push_deliveries(&services.queues, &requeued).await {
            tracing::warn!(%error, "enqueue failed; the sweeper will deliver them");
        }
    }
    Ok(count)
}
