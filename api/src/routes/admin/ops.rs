//! Operational views for operators: queue depths and backlogs, delivery success and latency,
//! the app credential's expiry. The figures are `graphhook_domain::operator::ops`'; the views here give
//! them their wire names and their OpenAPI schemas.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{operator::ops, platform::ids::TenantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ErrorBody, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

/// One queue's jobs by state.
#[derive(Serialize, ToSchema)]
pub struct QueueDepthView {
    /// Ready to run now.
    pending: u64,
    /// Waiting for their time (delayed or retrying).
    scheduled: u64,
    /// Fetched by a live worker.
    running: u64,
    /// Given up on.
    dead: u64,
}

/// Deliveries whose attempt is due (`pending`, or `failed` and waiting for a retry).
#[derive(Serialize, ToSchema)]
pub struct SweeperView {
    deliveries_due: u64,
    oldest_due_at: Option<DateTime<Utc>>,
}

/// Batches Graph delivered and Graphhook acknowledged, not processed yet.
#[derive(Serialize, ToSchema)]
pub struct IngestView {
    unprocessed_batches: u64,
    oldest_unprocessed_at: Option<DateTime<Utc>>,
}

/// Active subscriptions whose renewal (or another upkeep action) is due.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionsView {
    due: u64,
    /// The earliest expiry among active subscriptions.
    nearest_expiry: Option<DateTime<Utc>>,
}

/// Queue depths as the worker's maintenance tick last recorded them, and the backlogs in
/// Postgres now.
#[derive(Serialize, ToSchema)]
pub struct QueuesView {
    /// When the depths were recorded; `null` when no worker recorded any in the past day.
    recorded_at: Option<DateTime<Utc>>,
    /// By queue name; empty when `recorded_at` is `null`.
    queues: BTreeMap<String, QueueDepthView>,
    sweeper: SweeperView,
    ingest: IngestView,
    subscriptions: SubscriptionsView,
}

/// Queue depths and backlogs.
#[utoipa::path(
    get,
    path = "/admin/v1/queues",
    operation_id = "admin_queues",
    responses(
        (status = 200, description = "Queue depths and backlogs", body = QueuesView),
        OperatorRefusals,
        (status = 503, description = "Postgres or Redis is unavailable", body = ErrorBody),
    ),
)]
pub async fn queues(
    _operator: Operator,
    state: web::Data<Services>,
    _query: web::Query<crate::pagination::NoQuery>,
) -> Result<HttpResponse, ApiError> {
    let (snapshot, backlogs) = futures::try_join!(
        ops::queue_snapshot(&state.redis, state.queues.prefix()),
        ops::backlogs(&state.db, state.clock.now()),
    )?;
    let snapshot = snapshot.unwrap_or_default();
    let ops::Backlogs {
        sweeper,
        ingest,
        subscriptions,
    } = backlogs;
    Ok(HttpResponse::Ok().json(QueuesView {
        recorded_at: snapshot.recorded_at,
        queues: snapshot
            .queues
            .into_iter()
            .map(|(name, d)| {
                let view = QueueDepthView {
                    pending: d.pending,
                    scheduled: d.scheduled,
                    running: d.running,
                    dead: d.dead,
                };
                (name, view)
            })
            .collect(),
        sweeper: SweeperView {
            deliveries_due: sweeper.deliveries_due,
            oldest_due_at: sweeper.oldest_due_at,
        },
        ingest: IngestView {
            unprocessed_batches: ingest.unprocessed_batches,
            oldest_unprocessed_at: ingest.oldest_unprocessed_at,
        },
        subscriptions: SubscriptionsView {
            due: subscriptions.due,
            nearest_expiry: subscriptions.nearest_expiry,
        },
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Only this tenant's attempts (`ten_…`).
    #[param(value_type = Option<String>)]
    tenant_id: Option<TenantId>,
}

/// Attempt latencies in milliseconds; each is the duration of some attempt.
#[derive(Serialize, ToSchema)]
pub struct LatencyView {
    p50: Option<u32>,
    p95: Option<u32>,
    p99: Option<u32>,
}

/// Delivery attempts since `since`; an attempt succeeded when the endpoint answered 2xx.
#[derive(Serialize, ToSchema)]
pub struct WindowView {
    /// `1h` or `24h`.
    #[schema(example = "1h")]
    window: &'static str,
    since: DateTime<Utc>,
    attempts: u64,
    succeeded: u64,
    failed: u64,
    /// `succeeded / attempts`, from 0 to 1; `null` without attempts.
    success_rate: Option<f64>,
    latency_ms: LatencyView,
}

/// One hour of attempts.
#[derive(Serialize, ToSchema)]
pub struct BucketView {
    /// The start of the hour.
    at: DateTime<Utc>,
    attempts: u64,
    succeeded: u64,
    p50_ms: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryStatsView {
    /// The last hour, then the last day.
    windows: Vec<WindowView>,
    /// 24 whole UTC hours, oldest first, the last one the current hour; hours without attempts
    /// are included.
    series: Vec<BucketView>,
}

/// Delivery success rates and latencies, for every tenant or one.
#[utoipa::path(
    get,
    path = "/admin/v1/deliveries/stats",
    operation_id = "admin_delivery_stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "The last hour, the last day, and the day hour by hour", body = DeliveryStatsView),
        (status = 400, description = "Malformed query (e.g. a tenant id that is not `ten_…`)", body = ErrorBody),
        OperatorRefusals,
        (status = 503, description = "Postgres is unavailable", body = ErrorBody),
    ),
)]
pub async fn delivery_stats(
    _operator: Operator,
    state: web::Data<Services>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stats = ops::delivery_stats(&state.db, state.clock.now(), query.tenant_id).await?;
    Ok(HttpResponse::Ok().json(DeliveryStatsView {
        windows: stats
            .windows
            .into_iter()
            .map(|w| WindowView {
                window: w.window,
                since: w.since,
                attempts: w.attempts,
                succeeded: w.succeeded,
                failed: w.failed,
                success_rate: w.success_rate,
                latency_ms: LatencyView {
                    p50: w.latency_ms.p50,
                    p95: w.latency_ms.p95,
                    p99: w.latency_ms.p99,
                },
            })
            .collect(),
        series: stats
            .series
            .into_iter()
            .map(|b| BucketView {
                at: b.at,
                attempts: b.attempts,
                succeeded: b.succeeded,
                p50_ms: b.p50_ms,
            })
            .collect(),
    }))
}

/// The credential Graphhook presents to Entra, and how long it has left.
#[derive(Serialize, ToSchema)]
pub struct CredentialView {
    /// `certificate`, `secret` or `none`: what token requests use.
    #[schema(value_type = String, example = "certificate")]
    kind: ops::CredentialKind,
    /// A certificate's `notAfter`, or a secret's configured `microsoft.client_secret_expires_at`;
    /// `null` when unknown (a secret without that setting).
    expires_at: Option<DateTime<Utc>>,
    /// Whole days until `expires_at`, rounded down; negative once expired.
    days_left: Option<i64>,
    /// What to do, when something needs doing: fewer than 30 days left, expired, unreadable,
    /// or no credential at all.
    warning: Option<String>,
}

/// The app credential's expiry.
#[utoipa::path(
    get,
    path = "/admin/v1/credential",
    operation_id = "admin_credential",
    responses(
        (status = 200, description = "The app credential in use and its expiry", body = CredentialView),
        OperatorRefusals,
    ),
)]
pub async fn credential(
    _operator: Operator,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let status = ops::credential_status(&state.settings.microsoft, state.clock.now());
    Ok(HttpResponse::Ok().json(CredentialView {
        kind: status.kind,
        expires_at: status.expires_at,
        days_left: status.days_left,
        warning: status.warning,
    }))
}
