//! What operators look at to tell whether Graphhook keeps up: the queue depths the worker's
//! maintenance tick records in Redis, the backlogs Postgres holds (due deliveries, unprocessed
//! inbound batches, due subscriptions), delivery success and latency from the attempts, and the
//! expiry of the app credential Graphhook presents to Entra.
//!
//! Every "now" is the caller's [`Clock`](crate::Clock) reading, never the database's `now()`, so
//! the figures agree with what the worker decides at the same moment (and tests can move time).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, QueryResult, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    graph::subscriptions::upkeep,
    platform::config::MicrosoftSettings,
    platform::error::DomainResult,
    platform::ids::TenantId,
    platform::redis_conn::{self, ConnectionManager},
};

/// Where the worker's maintenance tick stores its queue depths (the worker's
/// `queue_depths::snapshot_key` writes the same key).
pub fn queue_depths_key(prefix: &str) -> String {
    redis_conn::key(prefix, "stats:queue_depths")
}

/// One queue's jobs by state, as the maintenance tick counted them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueDepth {
    /// Ready to run now.
    pub pending: u64,
    /// Waiting for their time (delayed or retrying).
    pub scheduled: u64,
    /// Fetched by a live worker.
    pub running: u64,
    /// Given up on.
    pub dead: u64,
}

/// The last snapshot the maintenance tick recorded (it expires after a day).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueSnapshot {
    pub recorded_at: Option<DateTime<Utc>>,
    pub queues: BTreeMap<String, QueueDepth>,
}

/// The last queue snapshot, `None` when no tick recorded one in the past day. A snapshot that
/// does not parse (a worker of another version) is logged and treated as absent.
#[tracing::instrument(skip_all)]
pub async fn queue_snapshot(
    redis: &ConnectionManager,
    prefix: &str,
) -> DomainResult<Option<QueueSnapshot>> {
    let key = queue_depths_key(prefix);
    let json: Option<String> = redis_conn::retry(|| {
        let mut conn = redis.clone();
        let key = key.clone();
        async move { conn.get(key).await }
    })
    .await?;
    Ok(json.and_then(|json| match serde_json::from_str(&json) {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            tracing::warn!(%error, "the queue depths snapshot does not parse; ignored");
            None
        }
    }))
}

/// Deliveries whose attempt is due: what the sweeper would enqueue now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SweeperBacklog {
    pub deliveries_due: u64,
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// Inbound batches acknowledged to Graph and not processed yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IngestBacklog {
    pub unprocessed_batches: u64,
    pub oldest_unprocessed_at: Option<DateTime<Utc>>,
}

/// Active subscriptions whose upkeep (renewal or another action) is due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubscriptionBacklog {
    pub due: u64,
    /// The earliest expiry among active subscriptions.
    pub nearest_expiry: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Backlogs {
    pub sweeper: SweeperBacklog,
    pub ingest: IngestBacklog,
    pub subscriptions: SubscriptionBacklog,
}

/// What waits in Postgres at `now`. Each count uses the partial index its worker query uses.
#[tracing::instrument(skip(db))]
pub async fn backlogs<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> DomainResult<Backlogs> {
    // `failed` deliveries are waiting for a retry: `engine::sweep_due` takes both.
    let deliveries = one(
        db,
        "SELECT count(*) AS n, min(next_attempt_at) AS oldest FROM deliveries
          WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1",
        vec![now.into()],
    )
    .await?;
    let batches = one(
        db,
        "SELECT count(*) AS n, min(received_at) AS oldest FROM inbound_batches
          WHERE processed_at IS NULL",
        vec![],
    )
    .await?;
    let subscriptions = one(
        db,
        "SELECT count(*) AS n FROM subscriptions WHERE status = 'active' AND due_at <= $1",
        vec![now.into()],
    )
    .await?;
    Ok(Backlogs {
        sweeper: SweeperBacklog {
            deliveries_due: count(&deliveries, "n")?,
            oldest_due_at: deliveries.try_get("", "oldest")?,
        },
        ingest: IngestBacklog {
            unprocessed_batches: count(&batches, "n")?,
            oldest_unprocessed_at: batches.try_get("", "oldest")?,
        },
        subscriptions: SubscriptionBacklog {
            due: count(&subscriptions, "n")?,
            nearest_expiry: upkeep::nearest_expiry(db).await?,
        },
    })
}

/// Attempt latencies in milliseconds (`percentile_disc`: each is a duration some attempt took).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50: Option<u32>,
    pub p95: Option<u32>,
    pub p99: Option<u32>,
}

/// Delivery attempts made since `since`. An attempt succeeded when the endpoint answered 2xx.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowStats {
    /// `1h` or `24h`.
    pub window: &'static str,
    pub since: DateTime<Utc>,
    pub attempts: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// `succeeded / attempts`; `None` without attempts.
    pub success_rate: Option<f64>,
    pub latency_ms: Latency,
}

/// One hour of attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// The start of the hour.
    pub at: DateTime<Utc>,
    pub attempts: u64,
    pub succeeded: u64,
    pub p50_ms: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryStats {
    pub windows: Vec<WindowStats>,
    /// [`SERIES_HOURS`] whole UTC hours, oldest first, the last one the current (partial) hour;
    /// hours without attempts are included. Whole hours keep a finished hour's figures the same
    /// from one request to the next, so it covers a little less than the `24h` window.
    pub series: Vec<Bucket>,
}

/// How many hourly buckets the series has.
pub const SERIES_HOURS: i64 = 24;

const WINDOWS: [(&str, i64); 2] = [("1h", 1), ("24h", 24)];

const SUCCEEDED: &str = "count(*) FILTER (WHERE status_code BETWEEN 200 AND 299)";

/// Delivery success and latency in the last hour and the last day, and hour by hour, for every
/// tenant or for `tenant`.
#[tracing::instrument(skip(db))]
pub async fn delivery_stats<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant: Option<TenantId>,
) -> DomainResult<DeliveryStats> {
    let tenant: Option<Uuid> = tenant.map(|t| t.uuid());
    let mut windows = Vec::with_capacity(WINDOWS.len());
    for (window, hours) in WINDOWS {
        let since = now - Duration::hours(hours);
        let row = one(
            db,
            &format!(
                "SELECT count(*) AS attempts, {SUCCEEDED} AS succeeded,
                        percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
                        percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
                        percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
                   FROM attempts
                  WHERE created_at >= $1 AND created_at <= $2
                    AND ($3::uuid IS NULL OR tenant_id = $3)"
            ),
            vec![since.into(), now.into(), tenant.into()],
        )
        .await?;
        let attempts = count(&row, "attempts")?;
        let succeeded = count(&row, "succeeded")?;
        windows.push(WindowStats {
            window,
            since,
            attempts,
            succeeded,
            failed: attempts - succeeded,
            success_rate: (attempts > 0).then(|| succeeded as f64 / attempts as f64),
            latency_ms: Latency {
                p50: millis(&row, "p50")?,
                p95: millis(&row, "p95")?,
                p99: millis(&row, "p99")?,
            },
        });
    }
    Ok(DeliveryStats {
        windows,
        series: series(db, now, tenant).await?,
    })
}

async fn series<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant: Option<Uuid>,
) -> DomainResult<Vec<Bucket>> {
    let start = series_start(now);
    let mut buckets: Vec<Bucket> = (0..SERIES_HOURS)
        .map(|i| Bucket {
            at: start + Duration::hours(i),
            attempts: 0,
            succeeded: 0,
            p50_ms: None,
        })
        .collect();
    // One pass over the day's attempts (by the index on created_at); hours are numbered here
    // rather than by date_trunc, which would follow the session's time zone.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            format!(
                "SELECT floor(extract(epoch FROM created_at - $1) / 3600)::bigint AS bucket,
                        count(*) AS attempts, {SUCCEEDED} AS succeeded,
                        percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50
                   FROM attempts
                  WHERE created_at >= $1 AND created_at <= $2
                    AND ($3::uuid IS NULL OR tenant_id = $3)
                  GROUP BY 1"
            ),
            [start.into(), now.into(), tenant.into()],
        ))
        .await?;
    for row in rows {
        let index: i64 = row.try_get("", "bucket")?;
        let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) else {
            continue;
        };
        bucket.attempts = count(&row, "attempts")?;
        bucket.succeeded = count(&row, "succeeded")?;
        bucket.p50_ms = millis(&row, "p50")?;
    }
    Ok(buckets)
}

/// The start of the series' first hour: the current hour is its last.
fn series_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    hour - Duration::hours(SERIES_HOURS - 1)
}

async fn one<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> DomainResult<QueryResult> {
    db.query_one_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await?
    .ok_or_else(|| sea_orm::DbErr::RecordNotFound("an aggregate returned no row".into()).into())
}

fn count(row: &QueryResult, column: &str) -> DomainResult<u64> {
    let n: i64 = row.try_get("", column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn millis(row: &QueryResult, column: &str) -> DomainResult<Option<u32>> {
    let ms: Option<i32> = row.try_get("", column)?;
    Ok(ms.map(|ms| u32::try_from(ms).unwrap_or(0)))
}

/// What Graphhook authenticates to Entra with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Certificate,
    Secret,
    None,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialStatus {
    pub kind: CredentialKind,
    /// A certificate's `notAfter`; `None` for a secret, whose expiry only Entra knows.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whole days until `expires_at`, rounded down: negative once it has expired.
    pub days_left: Option<i64>,
    /// What an operator should do, when something needs doing.
    pub warning: Option<String>,
}

/// Fewer days left than this earn a warning.
pub const WARN_DAYS: i64 = 30;

/// The credential the token broker uses (a certificate with its private key before a secret,
/// as `microsoft::TokenBroker::new` chooses) and how long it has left at `now`.
pub fn credential_status(settings: &MicrosoftSettings, now: DateTime<Utc>) -> CredentialStatus {
    let status = |kind, warning: Option<String>| CredentialStatus {
        kind,
        expires_at: None,
        days_left: None,
        warning,
    };
    match (
        &settings.client_certificate,
        &settings.client_private_key,
        &settings.client_secret,
    ) {
        (Some(pem), Some(_), _) => match certificate_not_after(pem) {
            Ok(expires_at) => expiry_status(CredentialKind::Certificate, expires_at, now),
            Err(error) => status(
                CredentialKind::Certificate,
                Some(format!(
                    "the expiry of microsoft.client_certificate cannot be read ({error}); \
                     check that it is a PEM certificate"
                )),
            ),
        },
        (_, _, Some(_)) => match settings.client_secret_expires_at {
            Some(expires_at) => expiry_status(CredentialKind::Secret, expires_at, now),
            None => status(CredentialKind::Secret, None),
        },
        (Some(_), None, None) => status(
            CredentialKind::None,
            Some(
                "microsoft.client_certificate is set without microsoft.client_private_key; \
                 no app credential is usable"
                    .into(),
            ),
        ),
        _ => status(
            CredentialKind::None,
            Some("no app credential configured".into()),
        ),
    }
}

fn expiry_status(
    kind: CredentialKind,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CredentialStatus {
    let days_left = (expires_at - now).num_seconds().div_euclid(86_400);
    let (what, action) = match kind {
        CredentialKind::Secret => (
            "client secret",
            "add a new one to the app registration, then set microsoft.client_secret and microsoft.client_secret_expires_at",
        ),
        _ => (
            "certificate",
            "add a new one to the app registration and to microsoft.client_certificate",
        ),
    };
    let warning = if expires_at <= now {
        Some(format!(
            "the app's {what} expired on {}; {action}",
            expires_at.format("%Y-%m-%d %H:%M UTC")
        ))
    } else if days_left < WARN_DAYS {
        let when = match days_left {
            0 => "in less than a day".to_owned(),
            1 => "in 1 day".to_owned(),
            n => format!("in {n} days"),
        };
        Some(format!("the app's {what} expires {when}; {action}"))
    } else {
        None
    };
    CredentialStatus {
        kind,
        expires_at: Some(expires_at),
        days_left: Some(days_left),
        warning,
    }
}

/// The `notAfter` of the first certificate in a PEM.
pub fn certificate_not_after(pem: &str) -> anyhow::Result<DateTime<Utc>> {
    let der = crate::graph::microsoft::tokens::pem_to_der(pem)?;
    anyhow::ensure!(!der.is_empty(), "no PEM certificate found");
    let unix =
        not_after_unix(&der).map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
    DateTime::from_timestamp(i64::try_from(unix.as_secs())?, unix.subsec_nanos())
        .ok_or_else(|| anyhow::anyhow!("notAfter is out of range"))
}

/// Walks RFC 5280's `Certificate → tbsCertificate → validity → notAfter` with the `der` crate
/// the RSA keys already bring in; only this one field is needed, so no full X.509 parser.
fn not_after_unix(der: &[u8]) -> Result<std::time::Duration, rsa::pkcs8::der::Error> {
    use rsa::pkcs8::der::{
        Decode, Reader, SliceReader, Tag, Tagged,
        asn1::{AnyRef, GeneralizedTime, UtcTime},
    };
    let certificate = AnyRef::from_der(der)?;
    certificate.tag().assert_eq(Tag::Sequence)?;
    let tbs: AnyRef<'_> = SliceReader::new(certificate.value())?.decode()?;
    tbs.tag().assert_eq(Tag::Sequence)?;
    let mut fields = SliceReader::new(tbs.value())?;
    // version [0] EXPLICIT, absent from v1 certificates
    if fields.peek_tag()?.is_context_specific() {
        fields.decode::<AnyRef<'_>>()?;
    }
    // serialNumber, signature, issuer
    for _ in 0..3 {
        fields.decode::<AnyRef<'_>>()?;
    }
    fields.decode::<AnyRef<'_>>()?.sequence(|validity| {
        validity.decode::<AnyRef<'_>>()?; // notBefore
        let not_after: AnyRef<'_> = validity.decode()?;
        // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
        match not_after.tag() {
            Tag::UtcTime => Ok(not_after.decode_as::<UtcTime>()?.to_unix_duration()),
            _ => Ok(not_after.decode_as::<GeneralizedTime>()?.to_unix_duration()),
        }
    })
}

#[cfg(test)]
mod tests;
