//! Step 1: claiming due deliveries, many in one statement.
//!
//! A claim moves each delivery's `next_attempt_at` past the end of its request (the endpoint's
//! timeout plus a grace), so the sweeper and other workers leave it alone while it is attempted,
//! and a killed worker's delivery comes due again by itself. Rows are taken with
//! `FOR UPDATE SKIP LOCKED` and the due condition is checked again under the lock, so two
//! workers never claim the same delivery. The claim returns what sending needs: the message's
//! `webhook-id` and payload, read in the same statement.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement, Value};

use super::Lane;
use crate::platform::error::DomainResult;

/// What a batch is made of.
#[derive(Clone, Copy, Debug)]
pub enum Selector {
    /// The due deliveries of one tenant whose next attempt belongs to `lane`, oldest first.
    Tenant { tenant: uuid::Uuid, lane: Lane },
    /// One delivery, if it is due.
    Delivery(uuid::Uuid),
    /// One delivery its writer reserved (due later, so that no worker takes it): a test send.
    Reserved(uuid::Uuid),
}

/// A claimed delivery with its message.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub endpoint_id: uuid::Uuid,
    pub attempt_count: i32,
    pub next_trigger: String,
    /// When it was due before the claim (restored if it is not attempted after all).
    pub was_due: DateTime<Utc>,
    pub webhook_id: String,
    pub event_type: String,
    /// `None`: removed by retention.
    pub payload: Option<Vec<u8>>,
}

impl Claimed {
    pub fn lane(&self) -> Lane {
        Lane::next(&self.next_trigger, self.attempt_count)
    }
}

/// The lane's condition on a delivery row (the same split as [`Lane::of`]).
pub(crate) fn lane_condition(lane: Lane) -> &'static str {
    match lane {
        Lane::Live => "next_trigger = 'scheduled' AND attempt_count = 0",
        Lane::Retry => "next_trigger = 'scheduled' AND attempt_count > 0",
        Lane::Replay => "next_trigger <> 'scheduled'",
    }
}

/// Claims up to `limit` due deliveries until `until`. Returns them oldest due first.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    selector: Selector,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> DomainResult<Vec<Claimed>> {
    // A tenant's due deliveries, taken round-robin over its endpoints: the oldest of each
    // endpoint first, then the second oldest of each, and so on. An endpoint with a backlog
    // (held back by its in-flight cap, say) cannot fill a batch on its own and starve the
    // tenant's other endpoints. Each endpoint's rows come from its partial index (the status
    // condition is the index's); one delivery comes by its key, with a status condition the
    // planner does not read as a reason to scan the due index as well.
    let (due, key): (String, Value) = match selector {
        Selector::Tenant { tenant, lane } => (
            format!(
                r#"SELECT d.id, d.was_due FROM endpoints e
                   CROSS JOIN LATERAL (
                     SELECT x.id, x.was_due, row_number() OVER (ORDER BY x.was_due) AS turn
                       FROM (SELECT id, next_attempt_at AS was_due FROM deliveries
                              WHERE endpoint_id = e.id AND tenant_id = $1 AND {}
                                AND status IN ('pending', 'failed') AND next_attempt_at <= $2
                              ORDER BY next_attempt_at
                              LIMIT $3
                                FOR UPDATE SKIP LOCKED) x) d
                  WHERE e.tenant_id = $1
                  ORDER BY d.turn, d.was_due
                  LIMIT $3"#,
                lane_condition(lane)
            ),
            tenant.into(),
        ),
        Selector::Delivery(id) => (
            "SELECT id, next_attempt_at AS was_due FROM deliveries \
              WHERE id = $1 AND status NOT IN ('delivered', 'exhausted') \
                AND next_attempt_at <= $2 LIMIT $3 FOR UPDATE SKIP LOCKED"
                .to_owned(),
            id.into(),
        ),
        Selector::Reserved(id) => (
            "SELECT id, next_attempt_at AS was_due FROM deliveries \
              WHERE id = $1 AND status NOT IN ('delivered', 'exhausted') \
                AND next_attempt_at > $2 LIMIT $3 FOR UPDATE SKIP LOCKED"
                .to_owned(),
            id.into(),
        ),
    };
    let sql = format!(
        r#"WITH due AS ({due}),
           claimed AS (
             UPDATE deliveries d SET next_attempt_at = $4, claimed_until = $4, updated_at = $2
               FROM due WHERE d.id = due.id
             RETURNING d.id, d.tenant_id, d.endpoint_id, d.message_id, d.attempt_count,
                       d.status, d.next_trigger, due.was_due)
           SELECT c.id, c.tenant_id, c.endpoint_id, c.attempt_count, c.status, c.next_trigger,
                  c.was_due, m.webhook_id, m.event_type, m.payload
             FROM claimed c JOIN messages m ON m.id = c.message_id
            ORDER BY c.was_due, c.id"#
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [
                key,
                now.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
                until.into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Claimed {
                id: row.try_get("", "id")?,
                tenant_id: row.try_get("", "tenant_id")?,
                endpoint_id: row.try_get("", "endpoint_id")?,
                attempt_count: row.try_get("", "attempt_count")?,
                next_trigger: row.try_get("", "next_trigger")?,
                was_due: row.try_get("", "was_due")?,
                webhook_id: row.try_get("", "webhook_id")?,
                event_type: row.try_get("", "event_type")?,
                payload: row.try_get("", "payload")?,
            })
        })
        .collect()
}

/// What becomes of claimed deliveries that are not attempted after all.
#[derive(Debug, PartialEq, Eq)]
pub enum Unclaim<'a> {
    /// Due again as before (held back by the in-flight cap or the rate limit).
    Restore,
    /// Due at this time (the circuit is open until then).
    DueAt(DateTime<Utc>),
    /// Not due until something changes, with a note (endpoint not active, tenant suspended,
    /// payload removed).
    Park(&'a str),
}

/// Gives claimed deliveries back, each only while it is still under this claim (`until`). Rows
/// are found by primary key (`= ANY`), never through the due index, whose dead entries a busy
/// table has many of.
pub async fn unclaim<C: ConnectionTrait>(
    db: &C,
    claimed: &[Claimed],
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    how: Unclaim<'_>,
) -> DomainResult<()> {
    if claimed.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = claimed
        .iter()
        .map(|c| serde_json::json!({"id": c.id, "was_due": c.was_due}))
        .collect();
    let (set, extra): (&str, Option<Value>) = match how {
        Unclaim::Restore => ("next_attempt_at = r.was_due", None),
        Unclaim::DueAt(at) => ("next_attempt_at = $5", Some(at.into())),
        Unclaim::Park(note) => (
            "next_attempt_at = NULL, last_error = $5",
            Some(note.to_owned().into()),
        ),
    };
    let sql = format!(
        r#"UPDATE deliveries d SET {set}, claimed_until = NULL, updated_at = $3
             FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, was_due timestamptz)
            WHERE d.id = ANY($4::uuid[]) AND d.id = r.id AND d.next_attempt_at = $2
              AND d.status NOT IN ('delivered', 'exhausted')"#
    );
    let mut values: Vec<Value> = vec![
        serde_json::Value::Array(rows).into(),
        until.into(),
        now.into(),
        uuid_array(claimed.iter().map(|c| c.id)).into(),
    ];
    values.extend(extra);
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// A `uuid[]` parameter as Postgres reads it from text (`$n::uuid[]`): a condition
/// `id = ANY(…)` on it lets the planner use the primary key, where a join with a JSON record set
/// of unknown size may not.
pub(crate) fn uuid_array(ids: impl Iterator<Item = uuid::Uuid>) -> String {
    let mut text = String::from("{");
    for (i, id) in ids.enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&id.to_string());
    }
    text.push('}');
    text
}
