//! Typed, prefixed ids (`ten_…`, `prb_…`): a UUIDv7 inside, shown as a prefix and 32 hex digits.
//!
//! The prefix says what an id names, so a tenant id pasted where an endpoint id belongs is
//! refused instead of silently looked up in the wrong table. Ids sort by creation time.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected an id of the form {prefix}_<32 hex digits>")]
pub struct IdParseError {
    pub prefix: &'static str,
}

/// The id of a row that belongs to a tenant, in its `Table`: [`super::owned`]'s finders take one
/// and know from it where to look.
pub trait RowId: Copy + Into<Uuid> {
    type Table: sea_orm::EntityTrait;
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, row of $table:path) => {
        typed_id!($(#[$meta])* $name, $prefix);

        impl RowId for $name {
            type Table = $table;
        }
    };
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = IdParseError { prefix: $prefix };
                let rest = s.strip_prefix(concat!($prefix, "_")).ok_or(err.clone())?;
                if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err);
                }
                Uuid::parse_str(rest).map(Self).map_err(|_| err)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// A customer tenant of Graphhook.
    TenantId, "ten"
);
typed_id!(
    /// A recorded admin consent.
    ConsentId, "con"
);
typed_id!(
    /// A tenant API key.
    ApiKeyId, "key"
);
typed_id!(
    /// An entry of the audit log.
    AuditId, "aud"
);
typed_id!(
    /// A worker pipeline probe.
    ProbeId, "prb"
);
typed_id!(
    /// A tenant's webhook endpoint.
    EndpointId, "ep", row of super::entities::endpoint::Entity
);
typed_id!(
    /// A Microsoft user connected to a tenant (delegated access).
    ConnectionId, "conn", row of super::entities::connection::Entity
);
typed_id!(
    /// A Graph subscription held for a tenant.
    SubscriptionId, "sub", row of super::entities::subscription::Entity
);
typed_id!(
    /// A message: one event for a tenant. Its text form is also the `webhook-id`.
    MessageId, "msg", row of super::entities::message::Entity
);
typed_id!(
    /// A message's delivery to one endpoint.
    DeliveryId, "dlv"
);
typed_id!(
    /// One attempt of a delivery.
    AttemptId, "att"
);
typed_id!(
    /// An operational event recorded for a tenant.
    EventId, "evt"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = TenantId::new();
        let text = id.to_string();
        assert!(text.starts_with("ten_"));
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<TenantId>(), Ok(id));
    }

    #[test]
    fn an_id_with_another_prefix_is_refused() {
        let probe = ProbeId::new().to_string();
        assert_eq!(
            probe.parse::<TenantId>(),
            Err(IdParseError { prefix: "ten" })
        );
        assert!("ten_xyz".parse::<TenantId>().is_err());
        assert!(
            "ten_0194c1a2-7b3c-7d4e-8f90-123456789abc"
                .parse::<TenantId>()
                .is_err()
        );
    }

    #[test]
    fn ids_are_json_strings() {
        let id = ProbeId::new();
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, format!("\"{id}\""));
        let back: Result<ProbeId, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(id));
    }
}
