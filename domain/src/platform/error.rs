//! The domain error: what went wrong, in terms the api maps to a status and a stable code, and
//! that jobs map to retry or give up. It knows nothing about HTTP: each variant says what kind
//! of refusal or failure it is, with the structured facts a client may act on (the field and
//! rule of a refused input, the state that conflicts, how long to wait when throttled).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An input refused. `field` names the input and `rule` the check it failed (both stable
    /// snake_case, for clients to act on); either may be unknown.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        rule: Option<String>,
        message: String,
    },
    /// A valid request that the current state refuses. `rule` names that state (stable, for
    /// callers that react to one case); `facts` are shown to the client.
    #[error("{message}")]
    Conflict {
        rule: &'static str,
        message: String,
        facts: Facts,
    },
    /// The caller may not do this (a permission or scope not granted, a tenant not active).
    #[error("{message}")]
    Forbidden { message: String, facts: Facts },
    /// A service we call (Microsoft Graph) asks us to slow down for `retry_after`.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after: Duration,
    },
    /// A service we call refused or failed in a way the caller should hear about; `facts`
    /// say how, where known.
    #[error("{message}")]
    Upstream { message: String, facts: Facts },
    /// Something this request needs is not available now (a queue, a setting, a token
    /// service); trying later may succeed.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<anyhow::Error>,
    },
    #[error("database error")]
    Database(#[source] sea_orm::DbErr),
    #[error("redis error")]
    Redis(#[from] redis::RedisError),
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: anyhow::Error,
    },
}

/// Named facts about a refusal, for the client (`None`: known to be absent).
pub type Facts = Vec<(&'static str, Option<String>)>;

/// Every database error a domain function meets passes here, so this is where a dead pooled
/// connection is noticed (see [`crate::platform::db::observe`]).
impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        crate::platform::db::observe(&err);
        Self::Database(err)
    }
}

/// `facts` led by the `rule` that applied (for errors whose variant has no rule of its own).
fn ruled(rule: &'static str, mut facts: Facts) -> Facts {
    facts.insert(0, ("rule", Some(rule.to_owned())));
    facts
}

impl DomainError {
    pub fn internal(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Self::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// An input refused, without naming the field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            field: None,
            rule: None,
            message: message.into(),
        }
    }

    /// An input refused, naming the field.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field),
            rule: None,
            message: message.into(),
        }
    }

    /// A request the current state refuses, `rule` naming that state.
    pub fn conflict(rule: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            rule,
            message: message.into(),
            facts: Facts::new(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            facts: Facts::new(),
        }
    }

    /// A service we call refused or failed, `rule` naming how.
    pub fn upstream_because(rule: &'static str, message: impl Into<String>, facts: Facts) -> Self {
        Self::Upstream {
            message: message.into(),
            facts: ruled(rule, facts),
        }
    }

    /// A request the current state refuses, `rule` naming that state, with facts for the client.
    pub fn conflict_with(rule: &'static str, message: impl Into<String>, facts: Facts) -> Self {
        Self::Conflict {
            rule,
            message: message.into(),
            facts,
        }
    }

    /// The caller may not do this, `rule` naming why, with facts for the client.
    pub fn forbidden_because(rule: &'static str, message: impl Into<String>, facts: Facts) -> Self {
        Self::Forbidden {
            message: message.into(),
            facts: ruled(rule, facts),
        }
    }

    /// An input refused, naming the field and the rule it broke.
    pub fn invalid_rule(
        field: &'static str,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            field: Some(field),
            rule: Some(rule.to_owned()),
            message: message.into(),
        }
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Self::Upstream {
            message: message.into(),
            facts: Facts::new(),
        }
    }

    /// `what` (e.g. "the job queue") cannot be reached now; `source` says why.
    pub fn unavailable(what: &str, source: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable {
            message: format!("{what} is temporarily unavailable; try again shortly"),
            source: Some(source.into()),
        }
    }

    /// Whether trying again later may succeed (infrastructure trouble rather than bad input).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Database(_) | Self::Redis(_) | Self::Internal { .. }
        )
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
