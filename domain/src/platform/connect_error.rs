//! Why PostgreSQL or Redis could not be reached, said so that whoever starts Graphhook can act
//! on it: which server (its URL, password masked), the cause in plain words (refused, timed
//! out, unknown host, credentials refused, no such database…) and the README section to read.
//!
//! Start-up tries each server once, within its configured connect timeout, and fails with this
//! error rather than retrying in silence: an orchestrator restarts the process, and the log
//! says what is wrong.

use std::time::Duration;

use sea_orm::sqlx;

use crate::platform::secret::redact_url;

/// Where the README explains each cause and what to do.
pub const README_SECTION: &str = "\"Start-up errors\" in the README";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Service::Postgres => "database.url",
            Service::Redis => "redis.url",
        }
    }
}

/// What went wrong, as far as the client can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens at that host and port.
    Refused,
    /// No answer within the connect timeout (a firewall dropping packets, a hung server).
    TimedOut(Duration),
    /// The host name does not resolve.
    UnknownHost,
    /// The server refused the user name or password.
    Authentication,
    /// PostgreSQL: the database named in the URL does not exist.
    UnknownDatabase,
    /// The server is starting, shutting down or out of connections.
    NotReady,
    /// TLS could not be set up.
    Tls,
    /// Something answered, but not in this server's protocol (a wrong port).
    Protocol,
    /// Anything else; the detail says what.
    Other,
}

impl Cause {
    fn explain(&self, service: Service) -> String {
        let name = service.name();
        match self {
            Cause::Refused => format!(
                "connection refused: nothing listens at that host and port (is {name} running? is {} right?)",
                service.key()
            ),
            Cause::TimedOut(after) => format!(
                "no answer within {} ms (is the host reachable from here, or a firewall dropping the connection?)",
                after.as_millis()
            ),
            Cause::UnknownHost => format!(
                "the host name does not resolve (check the host in {})",
                service.key()
            ),
            Cause::Authentication => format!(
                "{name} refused the credentials (check the user name and password in {})",
                service.key()
            ),
            Cause::UnknownDatabase => {
                "the database does not exist (`graphhook migrate up` creates it)".to_owned()
            }
            Cause::NotReady => format!(
                "{name} is not accepting connections yet (starting up, shutting down or full)"
            ),
            Cause::Tls => {
                "TLS could not be set up (check sslmode / rediss:// and the server's certificate)"
                    .to_owned()
            }
            Cause::Protocol => {
                format!("something answered that is not {name} (is the port right?)")
            }
            Cause::Other => "could not connect".to_owned(),
        }
    }
}

/// A server that could not be reached. Its text never holds a password.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} at {url}: {}; see {README_SECTION}{}",
    service.name(),
    cause.explain(*service),
    detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
)]
pub struct ConnectError {
    pub service: Service,
    /// The URL with its password masked.
    pub url: String,
    pub cause: Cause,
    /// The client library's own words, when they add something.
    pub detail: Option<String>,
}

impl ConnectError {
    pub fn new(service: Service, url: &str, cause: Cause, detail: Option<String>) -> Self {
        // The library's words are not expected to quote the password; make sure of it.
        let password = url::Url::parse(url)
            .ok()
            .and_then(|u| u.password().map(str::to_owned))
            .filter(|p| !p.is_empty());
        let detail = match (detail, password) {
            (Some(detail), Some(password)) => Some(detail.replace(&password, "***")),
            (detail, _) => detail,
        };
        Self {
            service,
            url: redact_url(url),
            cause,
            detail,
        }
    }

    /// A failed PostgreSQL connection attempt, made with a connect timeout of `timeout`.
    pub fn postgres(url: &str, error: &sqlx::Error, timeout: Duration) -> Self {
        let cause = match error {
            sqlx::Error::Io(io) => io_cause(io, timeout),
            sqlx::Error::Tls(_) => Cause::Tls,
            sqlx::Error::Protocol(_) => Cause::Protocol,
            sqlx::Error::PoolTimedOut => Cause::NotReady,
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("28P01" | "28000") => Cause::Authentication,
                Some("3D000") => Cause::UnknownDatabase,
                Some("57P03" | "53300") => Cause::NotReady,
                _ => Cause::Other,
            },
            _ => Cause::Other,
        };
        Self::new(Service::Postgres, url, cause, Some(error.to_string()))
    }

    /// A failed Redis connection attempt, made with a connect timeout of `timeout`.
    pub fn redis(url: &str, error: &redis::RedisError, timeout: Duration) -> Self {
        let auth = matches!(error.kind(), redis::ErrorKind::AuthenticationFailed)
            || matches!(error.code(), Some("WRONGPASS" | "NOAUTH"))
            || (error.code() == Some("ERR") && error.detail().is_some_and(|d| d.contains("AUTH")));
        let cause = if auth {
            Cause::Authentication
        } else if error.is_connection_refusal() {
            Cause::Refused
        } else if error.is_timeout() {
            Cause::TimedOut(timeout)
        } else if matches!(error.kind(), redis::ErrorKind::Parse) {
            Cause::Protocol
        } else if is_lookup_failure(&error.to_string()) {
            Cause::UnknownHost
        } else if error.code() == Some("LOADING") {
            Cause::NotReady
        } else {
            Cause::Other
        };
        Self::new(Service::Redis, url, cause, Some(error.to_string()))
    }

    /// No answer within `after`.
    pub fn timed_out(service: Service, url: &str, after: Duration) -> Self {
        Self::new(service, url, Cause::TimedOut(after), None)
    }
}

fn io_cause(io: &std::io::Error, timeout: Duration) -> Cause {
    match io.kind() {
        std::io::ErrorKind::ConnectionRefused => Cause::Refused,
        std::io::ErrorKind::TimedOut => Cause::TimedOut(timeout),
        _ if is_lookup_failure(&io.to_string()) => Cause::UnknownHost,
        _ => Cause::Other,
    }
}

/// How the resolver says a name does not resolve (tokio passes getaddrinfo's words on).
fn is_lookup_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("lookup address")
        || message.contains("name or service not known")
        || message.contains("no such host")
        || message.contains("nodename nor servname")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_server_the_masked_url_the_cause_and_the_readme() {
        let error = ConnectError::postgres(
            "postgres://graphhook:hunter2@db.internal:5432/graphhook",
            &sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            Duration::from_secs(2),
        );
        let text = error.to_string();
        assert!(
            text.starts_with(
                "PostgreSQL at postgres://graphhook:***@db.internal:5432/graphhook: connection refused"
            ),
            "{text}"
        );
        assert!(
            text.contains("see \"Start-up errors\" in the README"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn a_timeout_says_how_long_it_waited_and_redis_urls_are_masked_too() {
        let text = ConnectError::timed_out(
            Service::Redis,
            "redis://:s3cret@cache:6379/0",
            Duration::from_millis(2000),
        )
        .to_string();
        assert!(
            text.starts_with("Redis at redis://:***@cache:6379/0: no answer within 2000 ms"),
            "{text}"
        );
        assert!(!text.contains("s3cret"));
    }

    #[test]
    fn a_password_quoted_by_the_library_is_masked_too() {
        let error = ConnectError::new(
            Service::Postgres,
            "postgres://app:hunter2@db/graphhook",
            Cause::Other,
            Some("rejected password hunter2".to_owned()),
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn resolver_failures_are_unknown_hosts() {
        let io = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        assert_eq!(io_cause(&io, Duration::from_secs(2)), Cause::UnknownHost);
    }
}
