//! When the database is unreachable, when a pooled connection turns out to be dead, and what
//! may then be tried again.
//!
//! The pool does not test a connection before handing it out (`test_before_acquire` costs a
//! round trip per checkout, 11–24 % of the insert path; see performance.md). So after PostgreSQL
//! restarts, or an administrator ends sessions, the pool still holds connections the server has
//! closed with SQLSTATE 57P01 ("terminating connection due to administrator command"), and the
//! first statement on each fails. Three things follow:
//!
//! - such failures, like refused connections, timeouts and the other connection exceptions
//!   (class 08, 57P01–57P03), are *unavailable*: the api answers 503 with `Retry-After`, a job is
//!   retried. Never a 500.
//! - once a dead connection has been seen, every connection opened before that moment is
//!   suspect: the pool's `before_acquire` check closes them as they are checked out and opens
//!   fresh ones. The check compares two instants, no round trip. The moment is one per process
//!   because a failure is noticed where a [`DbErr`] becomes a domain error, which knows no pool;
//!   a false alarm costs one reconnect per pooled connection.
//! - an operation is run once more only when that is safe: [`retry_read`] for reads (and writes
//!   that repeat to the same result). A write whose statement reached a connection that then
//!   died may have been applied, so it is not repeated: its caller gets the 503. One whose
//!   statement never left the pool is safe to repeat, and the pool does repeat it: it keeps
//!   trying to open a connection (refused, starting up) until `acquire_timeout_ms`.

use std::{
    future::Future,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DbErr, RuntimeErr, sqlx};

use crate::platform::error::{DomainError, DomainResult};

/// How long a client should wait before trying again after a 503 for an unavailable database.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Whether a database error means the database is unreachable, restarting or overloaded (worth
/// trying again later) rather than a problem with the statement.
pub fn is_unavailable(err: &DbErr) -> bool {
    let Some(sqlx_err) = sqlx_error(err) else {
        return matches!(err, DbErr::ConnectionAcquire(_));
    };
    match sqlx_err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            is_connection_exception(&code)
                // too_many_connections: no new connection for now.
                || code == "53300"
        }),
        _ => false,
    }
}

/// Whether the connection a statement ran on broke under it: the server ended the session
/// (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), a connection
/// exception (class 08) or the socket failed.
pub fn is_connection_lost(err: &DbErr) -> bool {
    match sqlx_error(err) {
        Some(sqlx::Error::Io(_)) => true,
        Some(sqlx::Error::Database(db)) => db.code().is_some_and(|c| is_connection_exception(&c)),
        _ => false,
    }
}

/// Whether the failure came before the statement was sent: no connection could be opened (for
/// another reason than the pool's timeout, after which trying again would only wait again).
pub fn never_sent(err: &DbErr) -> bool {
    matches!(err, DbErr::Conn(_)) && is_unavailable(err)
}

fn is_connection_exception(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

fn sqlx_error(err: &DbErr) -> Option<&sqlx::Error> {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    }
}

/// The instant connections are measured against; set before the first pool opens.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds after [`epoch`] when a dead connection was last seen; 0: never.
static SUSPECT_BEFORE: AtomicU64 = AtomicU64::new(0);

fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// Notes a failed statement: if its connection was dead, every connection opened until now is
/// suspect and replaced when next checked out.
pub fn observe(err: &DbErr) {
    if is_connection_lost(err) {
        let now = nanos_since_epoch(Instant::now()).max(1);
        if SUSPECT_BEFORE.fetch_max(now, Ordering::AcqRel) < now {
            tracing::warn!(
                error = %err,
                "a database connection was found dead; pooled connections opened before now are replaced"
            );
        }
    }
}

/// Whether a pooled connection of this `age` may be handed out: it was opened after the last
/// dead connection was seen.
pub(super) fn is_fresh(age: Duration) -> bool {
    let suspect_before = SUSPECT_BEFORE.load(Ordering::Acquire);
    if suspect_before == 0 {
        return true;
    }
    let opened = Instant::now().checked_sub(age).unwrap_or_else(epoch);
    nanos_since_epoch(opened) > suspect_before
}

/// Starts the clock connections are measured with (before the first pool opens).
pub(super) fn start_clock() {
    epoch();
}

/// Runs `op`, and once more if the connection it ran on turned out to be dead or none could be
/// opened. For reads, and for writes that repeat to the same result (setting a timestamp);
/// the second run gets a fresh connection (see the module's documentation).
pub async fn retry_read<T, F, Fut>(mut op: F) -> DomainResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = DomainResult<T>>,
{
    match op().await {
        Err(DomainError::Database(e)) if is_connection_lost(&e) || never_sent(&e) => {
            tracing::info!(error = %e, "trying a read again on a fresh database connection");
            op().await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, sync::Arc};

    use sea_orm::ConnAcquireErr;

    use super::*;

    /// A server error with a SQLSTATE, as sqlx reports it.
    #[derive(Debug)]
    struct ServerError(&'static str);

    impl std::fmt::Display for ServerError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "server error {}", self.0)
        }
    }

    impl std::error::Error for ServerError {}

    impl sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn query(code: &'static str) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Database(
            Box::new(ServerError(code)),
        ))))
    }

    #[test]
    fn ended_sessions_and_connection_exceptions_are_unavailable_and_lost() {
        for code in ["57P01", "57P02", "57P03", "08006", "08003", "08001"] {
            assert!(is_unavailable(&query(code)), "{code}");
            assert!(is_connection_lost(&query(code)), "{code}");
        }
        let io = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        ))));
        assert!(is_unavailable(&io) && is_connection_lost(&io));
    }

    #[test]
    fn statement_errors_are_neither_unavailable_nor_retried() {
        for code in ["23505", "42P01", "40001", "57014"] {
            assert!(!is_unavailable(&query(code)), "{code}");
            assert!(!is_connection_lost(&query(code)), "{code}");
            assert!(!never_sent(&query(code)), "{code}");
        }
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }

    #[test]
    fn a_busy_pool_is_unavailable_but_not_worth_waiting_for_twice() {
        let timeout = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(is_unavailable(&timeout));
        assert!(!never_sent(&timeout) && !is_connection_lost(&timeout));
        let refused_while_connecting = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        )));
        assert!(never_sent(&refused_while_connecting));
    }

    #[tokio::test]
    async fn a_read_runs_again_once_after_a_dead_connection() {
        let mut runs = 0;
        let result = retry_read(|| {
            runs += 1;
            let first = runs == 1;
            async move {
                if first {
                    Err(DomainError::Database(query("57P01")))
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!((result.ok(), runs), (Some(7), 2));

        for (code, expected, why) in [
            ("57P01", 2, "once more, not until it works"),
            ("23505", 1, "a statement's own error is not repeated"),
        ] {
            let mut runs = 0;
            let result: DomainResult<()> = retry_read(|| {
                runs += 1;
                async { Err(DomainError::Database(query(code))) }
            })
            .await;
            assert!(result.is_err());
            assert_eq!(runs, expected, "{code}: {why}");
        }
    }

    #[test]
    fn connections_opened_before_a_dead_one_was_seen_are_replaced() {
        start_clock();
        std::thread::sleep(Duration::from_millis(5));
        let opened_earlier = Duration::from_millis(2);
        observe(&query("57P01"));
        assert!(!is_fresh(opened_earlier));
        std::thread::sleep(Duration::from_millis(2));
        assert!(is_fresh(Duration::from_micros(10)));
    }
}
