//! Retention: message payloads, attempts and published operational events older than the
//! configured ages are removed in small batches, each its own statement, so live traffic is
//! never locked out for long.

use chrono::Duration;
use sea_orm::{ConnectionTrait, Statement};

use crate::{platform::clock::Clock, platform::error::DomainResult};

/// How long things are kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub payloads: Duration,
    pub attempts: Duration,
}

/// What one run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub payloads: u64,
    pub attempts: u64,
    pub events: u64,
}

const PAYLOADS: &str = "UPDATE messages SET payload = NULL WHERE id IN (SELECT id FROM messages WHERE payload IS NOT NULL AND created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
const ATTEMPTS: &str = "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
const EVENTS: &str = "DELETE FROM operational_events WHERE id IN (SELECT id FROM operational_events WHERE delivered_at IS NOT NULL AND created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Removes up to `max_batches` batches of `batch` rows of each kind that are past retention.
/// Operational events are kept as long as attempts, and only once published.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    keep: Retention,
    batch: u64,
    max_batches: usize,
) -> DomainResult<Removed> {
    let now = clock.now();
    let payloads = in_batches(db, PAYLOADS, now - keep.payloads, batch, max_batches).await?;
    let attempts = in_batches(db, ATTEMPTS, now - keep.attempts, batch, max_batches).await?;
    let events = in_batches(db, EVENTS, now - keep.attempts, batch, max_batches).await?;
    let removed = Removed {
        payloads,
        attempts,
        events,
    };
    for (kind, n) in [
        ("payloads", payloads),
        ("attempts", attempts),
        ("events", events),
    ] {
        if n > 0 {
            metrics::counter!("graphhook_retention_removed_total", "kind" => kind).increment(n);
        }
    }
    Ok(removed)
}

async fn in_batches<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
    batch: u64,
    max_batches: usize,
) -> DomainResult<u64> {
    let mut total = 0;
    for _ in 0..max_batches {
        let done = db
            .execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                [cutoff.into(), (batch as i64).into()],
            ))
            .await?
            .rows_affected();
        total += done;
        if done < batch {
            break;
        }
    }
    Ok(total)
}
