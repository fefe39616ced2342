//! Endpoint filters over the event catalogue ([`crate::delivery::event_catalogue`]; `graph.message.*`),
//! and recording operational events for the tenant.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::{Value, json};

use crate::{
    platform::clock::Clock,
    platform::entities::operational_event,
    platform::error::DomainResult,
    platform::ids::{EndpointId, EventId, TenantId},
    platform::paging::Order,
};

/// Every event type (from [`crate::delivery::event_catalogue`]).
pub fn catalogue() -> Vec<String> {
    crate::delivery::event_catalogue::all()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

/// Whether a filter pattern matches an event type: exact, `prefix.*`, or `*`.
pub fn matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.') && event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// Checks a filter pattern against the catalogue: it must match at least one event type.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    let wildcard_ok = !pattern.contains('*')
        || (pattern.ends_with('*')
            && pattern.matches('*').count() == 1
            && (pattern == "*" || pattern.ends_with(".*")));
    if !wildcard_ok || !catalogue().iter().any(|t| matches(pattern, t)) {
        return Err(format!(
            "unknown event type or pattern '{pattern}': use a type from the catalogue (e.g. graph.message.created) or a prefix wildcard (e.g. graph.message.*)"
        ));
    }
    Ok(())
}

/// Whether an endpoint with these filters receives an event type (no filter: everything).
pub fn wanted(filters: &[String], event_type: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| matches(f, event_type))
}

/// Records an operational event for the tenant (delivered to its endpoints by the delivery
/// engine, and readable through the api).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    tenant: TenantId,
    endpoint: Option<EndpointId>,
    event_type: &str,
    data: Value,
) -> DomainResult<()> {
    let now = clock.now();
    operational_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(tenant.uuid()),
        event_type: Set(event_type.to_owned()),
        endpoint_id: Set(endpoint.map(|e| e.uuid())),
        payload: Set(json!({"type": event_type, "timestamp": now, "data": data})),
        created_at: Set(now),
        delivered_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Which recorded operational events to list.
#[derive(Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub endpoint: Option<EndpointId>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub order: Order,
    /// The previous page's last id.
    pub cursor: Option<EventId>,
}

/// The tenant's recorded operational events, oldest first (or newest first: `Order::Desc`).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    filter: &EventFilter,
    limit: u64,
) -> DomainResult<Vec<operational_event::Model>> {
    use operational_event::Column;
    let mut query = operational_event::Entity::find().filter(Column::TenantId.eq(tenant.uuid()));
    if let Some(t) = &filter.event_type {
        query = query.filter(Column::EventType.eq(t.clone()));
    }
    if let Some(endpoint) = filter.endpoint {
        query = query.filter(Column::EndpointId.eq(endpoint.uuid()));
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::CreatedAt.gte(since));
    }
    let query = filter
        .order
        .page(query, Column::Id, filter.cursor.map(|c| c.uuid()));
    Ok(query.limit(limit).all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(matches("graph.message.*", "graph.message.created"));
        assert!(!matches("graph.message.*", "graph.event.created"));
        assert!(matches("*", "endpoint.created"));
        assert!(matches("graph.user.updated", "graph.user.updated"));
        assert!(!matches("graph.mess*", "graph.message.created"));
        assert!(validate_pattern("graph.*").is_ok());
        assert!(validate_pattern("graph.drive_item.updated").is_ok());
        assert!(validate_pattern("graph.mail.*").is_err());
        assert!(validate_pattern("graph.*.created").is_err());
        assert!(wanted(&[], "graph.group.deleted"));
        assert!(!wanted(&["endpoint.*".into()], "graph.group.deleted"));
        assert_eq!(catalogue().len(), 21 + 20);
    }
}
