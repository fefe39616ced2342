//! The domain error: what went wrong, in terms the api maps to a status and a stable code, and
//! that jobs map to retry or give up. It knows nothing about HTTP.

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
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

/// Every database error a domain function meets passes here, so this is where a dead pooled
/// connection is noticed (see [`crate::platform::db::observe`]).
impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        crate::platform::db::observe(&err);
        Self::Database(err)
    }
}

impl DomainError {
    pub fn internal(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Self::Internal {
            context: context.into(),
            source: source.into(),
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
