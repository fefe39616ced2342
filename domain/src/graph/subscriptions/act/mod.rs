//! Acting on a subscription handed out by [`super::upkeep::claim_due`]: renew it (PATCH a
//! later expiry), reauthorize it, recreate it, or resume it after consent came back, and turn
//! Graph's answer into the subscription's next state.
//!
//! - 404 (Graph no longer knows it; or the 400 `ErrorInvalidParameter` integrators see on PATCH)
//!   → recreate it: new Graph id, new `clientState`, same Graphhook subscription,
//!   `graph.subscription.recreated`.
//! - 429 (and 503/504 with Retry-After) → the tenant's due upkeep waits for Retry-After; no
//!   failure is counted.
//! - 403 → only this subscription is `failed`, with Graph's reason (an Exchange access policy
//!   on one mailbox, say).
//! - A token error meaning consent is gone → the tenant is `consent_revoked` and its
//!   subscriptions `paused` (done where the token is fetched).
//! - Anything else → tried again with backoff; when the next try would come after the
//!   subscription expires, `graph.subscription.renewal_failed` tells the tenant once.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, Statement, TransactionSession, TransactionTrait};

mod failed;
mod success;

#[cfg(test)]
pub(crate) use success::tests_support;

use failed::failed;

use super::{
    AtGraph, CreateError, create_at_graph, granted_expiry, lifetime, new_client_state,
    upkeep::{Claimed, Recorded, emit, record, release},
};
use crate::{
    graph::microsoft::{TokenError, graph::GraphCallError, tokens::AccessToken},
    graph::resources,
    platform::entities::{
        delivery,
        subscription::{self, DueAction, SubscriptionStatus},
        tenant::TenantStatus,
    },
    platform::error::{DomainError, DomainResult},
    services::Services,
    tenancy::tenants::{self, AccessError},
};

/// What acting on a claimed subscription came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    Renewed,
    Reauthorized,
    Recreated,
    /// Graph throttled the tenant: its upkeep waits.
    Throttled,
    /// Failed for now; tried again later.
    Retrying,
    /// Graph refused this subscription (403): it is `failed`.
    Failed,
    /// The tenant's consent is gone: its subscriptions are paused.
    ConsentGone,
    /// Nothing to do: the lease was lost, or the subscription or tenant is no longer active.
    Skipped,
}

/// The result and the deliveries of the events it wrote, for the caller to enqueue.
#[derive(Debug)]
pub struct Upkept {
    pub done: Done,
    pub deliveries: Vec<delivery::Model>,
}

impl Upkept {
    fn only(done: Done) -> Self {
        Self {
            done,
            deliveries: Vec::new(),
        }
    }
}

enum Failure {
    NotFound,
    Throttled(Option<u64>),
    Forbidden(String),
    ConsentGone,
    Transient(String),
}

impl From<GraphCallError> for Failure {
    fn from(error: GraphCallError) -> Self {
        let error = match error {
            GraphCallError::Unavailable(e) => return Failure::Transient(e),
            GraphCallError::Graph(e) => e,
        };
        match error.status {
            404 => Failure::NotFound,
            400 if error.code.eq_ignore_ascii_case("ErrorInvalidParameter") => Failure::NotFound,
            429 => Failure::Throttled(error.retry_after),
            503 | 504 if error.retry_after.is_some() => Failure::Throttled(error.retry_after),
            403 => Failure::Forbidden(error.to_string()),
            _ => Failure::Transient(error.to_string()),
        }
    }
}

fn from_create(error: CreateError) -> Result<Failure, DomainError> {
    Ok(match error {
        CreateError::Throttled { retry_after } => Failure::Throttled(retry_after),
        CreateError::Refused(e) if e.status == 403 => Failure::Forbidden(e.to_string()),
        e @ CreateError::GraphQuota(_) => Failure::Forbidden(e.to_string()),
        CreateError::Access(
            AccessError::Token(TokenError::ConsentGone { .. }) | AccessError::Reauthorize { .. },
        ) => Failure::ConsentGone,
        CreateError::Access(AccessError::Domain(e)) | CreateError::Domain(e) => return Err(e),
        other => Failure::Transient(other.to_string()),
    })
}

enum Success {
    Renewed { expires_at: DateTime<Utc> },
    Reauthorized,
    Recreated { at_graph: AtGraph, reason: String },
}

/// The longest lifetime Graph allows this subscription's kind (with resource data or not).
fn max_minutes(subscription: &subscription::Model) -> i64 {
    resources::parse(&subscription.resource)
        .map(|r| {
            let spec = resources::spec(r.kind);
            match subscription.include_resource_data {
                true => spec.max_minutes_rich.unwrap_or(spec.max_minutes),
                false => spec.max_minutes,
            }
        })
        .unwrap_or(60)
}

/// Acts on a claimed subscription. Every change is written only while the lease still holds.
#[tracing::instrument(skip_all, fields(subscription = %handed_out.subscription))]
pub async fn run(services: &Services, handed_out: &Claimed) -> DomainResult<Upkept> {
    // The job's lease is used once: this run swaps it for a lease of its own (and extends it),
    // so a second run of the same job (the queue delivers at least once, e.g. when a busy
    // worker misses heartbeats) finds it gone and does nothing.
    let now = services.clock.now();
    let lease_secs =
        i64::try_from(services.settings.subscriptions.upkeep_lease_secs).unwrap_or(300);
    let taken = services
        .db
        .query_one_raw(Statement::from_sql_and_values(
            services.db.get_database_backend(),
            r"UPDATE subscriptions SET lease_token = gen_random_uuid(), lease_until = $3
               WHERE id = $1 AND lease_token = $2
           RETURNING lease_token",
            [
                handed_out.subscription.into(),
                handed_out.lease.into(),
                (now + Duration::seconds(lease_secs)).into(),
            ],
        ))
        .await?;
    let Some(taken) = taken else {
        return Ok(Upkept::only(Done::Skipped));
    };
    let claimed = &Claimed {
        subscription: handed_out.subscription,
        lease: taken.try_get("", "lease_token")?,
    };
    let found = subscription::Entity::find_by_id(claimed.subscription)
        .one(&services.db)
        .await?;
    let Some(subscription) = found.filter(|s| s.lease_token == Some(claimed.lease)) else {
        return Ok(Upkept::only(Done::Skipped));
    };
    let tenant = tenants::find(&services.db, subscription.tenant_id.into()).await?;
    // A suspended tenant's subscriptions are kept alive for when it is resumed.
    let Some(tenant) =
        tenant.filter(|t| matches!(t.status, TenantStatus::Active | TenantStatus::Suspended))
    else {
        release(&services.db, claimed).await?;
        return Ok(Upkept::only(Done::Skipped));
    };
    if subscription.status != SubscriptionStatus::Active {
        release(&services.db, claimed).await?;
        return Ok(Upkept::only(Done::Skipped));
    }
    let action = subscription.due_action;
    // Reauthorizing starts from a fresh token (§4); so does everything after a pause.
    let fresh = action != DueAction::Renew;
    let token = match super::token_for(services, &tenant, &subscription, fresh).await {
        Ok(token) => token,
        // The tenant's consent, or the connection's user, is gone: the subscription was paused
        // where the token was refused.
        Err(
            AccessError::Token(TokenError::ConsentGone { .. }) | AccessError::Reauthorize { .. },
        ) => {
            return Ok(Upkept::only(Done::ConsentGone));
        }
        Err(AccessError::Token(error)) => {
            let failure = Failure::Transient(format!("no token for the tenant: {error}"));
            return failed(services, &subscription, claimed, failure).await;
        }
        Err(AccessError::Domain(error)) => return Err(error),
    };
    let mut outcome = match action {
        DueAction::Renew | DueAction::Resume | DueAction::Reauthorize => {
            renew_or_reauthorize(services, &token, &subscription, action).await
        }
        DueAction::Recreate => recreate(services, &token, &subscription, true, "removed").await?,
    };
    if matches!(outcome, Err(Failure::NotFound)) && action != DueAction::Recreate {
        outcome = recreate(services, &token, &subscription, false, "not_found").await?;
    }
    match outcome {
        Ok(success) => succeeded(services, &subscription, claimed, success).await,
        Err(Failure::ConsentGone) => Ok(Upkept::only(Done::ConsentGone)),
        Err(failure) => failed(services, &subscription, claimed, failure).await,
    }
}

/// Renews (a later expiry) or reauthorizes the subscription Graph holds under its id; one
/// without an id is, to Graph, not found.
async fn renew_or_reauthorize(
    services: &Services,
    token: &AccessToken,
    subscription: &subscription::Model,
    action: DueAction,
) -> Result<Success, Failure> {
    let Some(graph_id) = &subscription.graph_id else {
        return Err(Failure::NotFound);
    };
    if action == DueAction::Reauthorize {
        services
            .graph
            .reauthorize_subscription(token, graph_id)
            .await?;
        return Ok(Success::Reauthorized);
    }
    let asked = services.clock.now() + lifetime(&services.settings, max_minutes(subscription));
    let expiration = asked.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let graph = services
        .graph
        .renew_subscription(token, graph_id, &expiration)
        .await?;
    Ok(Success::Renewed {
        expires_at: granted_expiry(&graph, asked),
    })
}

/// Creates the subscription again at Graph (after deleting what is left of it, when `tidy`).
async fn recreate(
    services: &Services,
    token: &AccessToken,
    subscription: &subscription::Model,
    tidy: bool,
    reason: &str,
) -> DomainResult<Result<Success, Failure>> {
    if tidy && let Some(graph_id) = &subscription.graph_id {
        // Graph usually removed it already; one it still holds would make a duplicate.
        if let Err(error) = services.graph.delete_subscription(token, graph_id).await {
            let failure = Failure::from(error);
            if matches!(failure, Failure::Throttled(_)) {
                return Ok(Err(failure));
            }
        }
    }
    let created = create_at_graph(
        services,
        token,
        &subscription.resource,
        &subscription.change_types,
        max_minutes(subscription),
        subscription.include_resource_data,
        new_client_state(),
    )
    .await;
    Ok(match created {
        Ok(at_graph) => Ok(Success::Recreated {
            at_graph,
            reason: reason.to_owned(),
        }),
        Err(error) => Err(from_create(error)?),
    })
}

/// Writes a success as [`success::plan`] decides it: the new expiry (and Graph id), the next
/// renewal, the lease given back (an action requested meanwhile stays due), the log line and
/// the events.
async fn succeeded(
    services: &Services,
    subscription: &subscription::Model,
    claimed: &Claimed,
    success: Success,
) -> DomainResult<Upkept> {
    let now = services.clock.now();
    let plan = success::plan(
        &services.settings,
        subscription,
        &success,
        now,
        rand::random(),
    );
    let Some(txn) = under_lease(
        &services.db,
        claimed,
        r"UPDATE subscriptions
                 SET expires_at = $3, renew_at = $4,
                     last_renewed_at = coalesce($5, last_renewed_at),
                     graph_id = coalesce($6, graph_id),
                     client_state_hash = coalesce($7, client_state_hash),
                     failures = 0, last_error = NULL, expiry_warned_at = NULL,
                     due_action = CASE WHEN action_version = $8 THEN 'renew' ELSE due_action END,
                     due_at = CASE WHEN action_version = $8 THEN $4 ELSE due_at END,
                     lease_token = NULL, lease_until = NULL, updated_at = $9
               WHERE id = $1 AND lease_token = $2 AND status = 'active'",
        vec![
            plan.expires_at.into(),
            plan.renew_at.into(),
            plan.renewed_at.into(),
            plan.graph_id.clone().into(),
            plan.client_state.as_deref().map(super::hash).into(),
            subscription.action_version.into(),
            now.into(),
        ],
    )
    .await?
    else {
        return Ok(Upkept::only(Done::Skipped));
    };
    let line = Recorded {
        action: plan.action,
        trigger: plan.trigger,
        outcome: "succeeded",
        graph_id: plan
            .graph_id
            .as_deref()
            .or(subscription.graph_id.as_deref()),
        detail: plan.detail.clone(),
    };
    record(&txn, &services.clock, subscription, line).await?;
    let mut deliveries = Vec::new();
    for (event_type, data) in plan.events {
        deliveries.extend(emit(&txn, &services.clock, subscription, event_type, data).await?);
    }
    txn.commit().await?;
    Ok(Upkept {
        done: plan.done,
        deliveries,
    })
}

/// Begins a transaction with a write that holds only while the lease does: its SQL names the
/// claimed subscription `$1` and the lease `$2`, and `values` from `$3` on. `None`, rolled back,
/// when the lease was lost meanwhile.
pub(super) async fn under_lease<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    claimed: &Claimed,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> DomainResult<Option<C::Transaction>> {
    let leased = [claimed.subscription.into(), claimed.lease.into()];
    let txn = db.begin().await?;
    let updated = txn
        .execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            sql,
            leased.into_iter().chain(values),
        ))
        .await?
        .rows_affected();
    if updated == 0 {
        txn.rollback().await?;
        tracing::warn!("the lease was lost before the result was written");
        return Ok(None);
    }
    Ok(Some(txn))
}
