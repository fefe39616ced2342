//! The resource kinds Graphhook subscribes to (DESIGN.md, graph-protocol.md §6): their paths,
//! change types, the permission each needs, and how long Graph lets a subscription live. One
//! table; event types and endpoint filters use the kinds' names.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Message,
    Event,
    Contact,
    User,
    Group,
    Conversation,
    DriveItem,
}

/// One row of the table.
#[derive(Debug)]
pub struct KindSpec {
    pub kind: Kind,
    pub name: &'static str,
    /// Path patterns: literal segments (case-insensitive), `{id}` for one segment,
    /// `mailFolders('{name}')` style segments written as `mailFolders(…)`.
    pub paths: &'static [&'static str],
    pub change_types: &'static [&'static str],
    /// Application permissions that allow it (any one); `None` when Graph allows it only with a
    /// signed-in user's delegated token.
    pub application: Option<&'static [&'static str]>,
    /// The delegated permission (for the later delegated connections).
    pub delegated: &'static str,
    /// Maximum lifetime in minutes, and with resource data.
    pub max_minutes: i64,
    pub max_minutes_rich: Option<i64>,
}

pub const TABLE: &[KindSpec] = &[
    KindSpec {
        kind: Kind::Message,
        name: "message",
        paths: &[
            "users/{id}/messages",
            "users/{id}/mailFolders(…)/messages",
            "users/{id}/mailFolders/{id}/messages",
        ],
        change_types: &["created", "updated", "deleted"],
        application: Some(&["Mail.Read", "Mail.ReadBasic"]),
        delegated: "Mail.Read",
        max_minutes: 4_230,
        max_minutes_rich: Some(1_440),
    },
    KindSpec {
        kind: Kind::Event,
        name: "event",
        paths: &["users/{id}/events"],
        change_types: &["created", "updated", "deleted"],
        application: Some(&["Calendars.Read"]),
        delegated: "Calendars.Read",
        max_minutes: 4_230,
        max_minutes_rich: Some(1_440),
    },
    KindSpec {
        kind: Kind::Contact,
        name: "contact",
        paths: &[
            "users/{id}/contacts",
            "users/{id}/contactFolders/{id}/contacts",
        ],
        change_types: &["created", "updated", "deleted"],
        application: Some(&["Contacts.Read"]),
        delegated: "Contacts.Read",
        max_minutes: 4_230,
        max_minutes_rich: Some(1_440),
    },
    KindSpec {
        kind: Kind::User,
        name: "user",
        paths: &["users", "users/{id}"],
        change_types: &["updated", "deleted"],
        application: Some(&["User.Read.All"]),
        delegated: "User.Read.All",
        max_minutes: 41_760,
        max_minutes_rich: None,
    },
    KindSpec {
        kind: Kind::Group,
        name: "group",
        paths: &[
            "groups",
            "groups/{id}",
            "groups/{id}/members",
            "groups/{id}/owners",
        ],
        change_types: &["updated", "deleted"],
        application: Some(&["Group.Read.All"]),
        delegated: "Group.Read.All",
        max_minutes: 41_760,
        max_minutes_rich: None,
    },
    KindSpec {
        kind: Kind::Conversation,
        name: "conversation",
        paths: &["groups/{id}/conversations", "groups(…)/conversations"],
        change_types: &["created", "updated", "deleted"],
        application: None,
        delegated: "Group.Read.All",
        max_minutes: 4_230,
        max_minutes_rich: None,
    },
    KindSpec {
        kind: Kind::DriveItem,
        name: "drive_item",
        paths: &["drives/{id}/root", "users/{id}/drive/root"],
        change_types: &["updated"],
        application: Some(&["Files.ReadWrite.All"]),
        delegated: "Files.ReadWrite.All",
        max_minutes: 42_300,
        max_minutes_rich: None,
    },
];

pub fn spec(kind: Kind) -> &'static KindSpec {
    TABLE.iter().find(|s| s.kind == kind).unwrap_or(&TABLE[0])
}

/// A resource path Graphhook accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    /// The path as given, without a leading `/`.
    pub path: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("'{0}' is not a resource Graphhook can subscribe to; supported: {1}")]
    Unknown(String, String),
    #[error(
        "'{0}' ({1}) can only be subscribed to with a signed-in user's delegated token, which Graphhook does not support yet; app-only subscriptions are possible for messages, events, contacts, users, groups and OneDrive for Business / SharePoint drive roots"
    )]
    DelegatedOnly(String, &'static str),
    #[error("change type(s) {0} are not supported for {1} resources; supported: {2}")]
    ChangeTypes(String, &'static str, String),
    #[error("changeTypes must not be empty")]
    NoChangeTypes,
}

fn segment_matches(pattern: &str, segment: &str) -> bool {
    if pattern == "{id}" {
        return !segment.is_empty();
    }
    if let Some(prefix) = pattern.strip_suffix("(…)") {
        return segment.len() > prefix.len() + 2
            && segment[..prefix.len()].eq_ignore_ascii_case(prefix)
            && segment[prefix.len()..].starts_with('(')
            && segment.ends_with(')');
    }
    pattern.eq_ignore_ascii_case(segment)
}

fn path_matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| segment_matches(p, s))
}

/// Every supported pattern, for error messages.
pub fn supported_patterns() -> String {
    TABLE
        .iter()
        .filter(|s| s.application.is_some())
        .flat_map(|s| s.paths.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a `resource` into its kind; refuses what Graphhook cannot subscribe to app-only.
pub fn parse(resource: &str) -> Result<Resource, ResourceError> {
    let trimmed = resource.trim().trim_start_matches('/');
    let path = trimmed
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    if path.is_empty() || segments.iter().any(|s| s.is_empty()) || path.contains("://") {
        return Err(ResourceError::Unknown(
            resource.to_owned(),
            supported_patterns(),
        ));
    }
    if segments[0].eq_ignore_ascii_case("me") {
        return Err(ResourceError::DelegatedOnly(
            resource.to_owned(),
            "the signed-in user's own data",
        ));
    }
    for spec in TABLE {
        if spec.paths.iter().any(|p| path_matches(p, &segments)) {
            if spec.application.is_none() {
                return Err(ResourceError::DelegatedOnly(
                    resource.to_owned(),
                    "group conversations",
                ));
            }
            return Ok(Resource {
                kind: spec.kind,
                path: trimmed.to_owned(),
            });
        }
    }
    // A folder below a drive root exists only on personal OneDrive subscriptions.
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let drive_below_root = (lower.first().map(String::as_str) == Some("drives")
        && lower.get(2).map(String::as_str) == Some("root"))
        || (lower.first().map(String::as_str) == Some("users")
            && lower.get(2).map(String::as_str) == Some("drive"));
    if drive_below_root && segments.len() > 3 {
        return Err(ResourceError::DelegatedOnly(
            resource.to_owned(),
            "folders of a personal OneDrive",
        ));
    }
    Err(ResourceError::Unknown(
        resource.to_owned(),
        supported_patterns(),
    ))
}

/// Normalizes change types (`created,updated`), checking them against the kind.
pub fn change_types(kind: Kind, requested: &[String]) -> Result<String, ResourceError> {
    let spec = spec(kind);
    let mut wanted: Vec<&str> = requested
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if wanted.is_empty() {
        return Err(ResourceError::NoChangeTypes);
    }
    wanted.sort_unstable();
    wanted.dedup();
    let bad: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !spec.change_types.contains(c))
        .collect();
    if !bad.is_empty() {
        return Err(ResourceError::ChangeTypes(
            bad.join(", "),
            spec.name,
            spec.change_types.join(", "),
        ));
    }
    // Graph's order: created, updated, deleted.
    Ok(["created", "updated", "deleted"]
        .iter()
        .filter(|c| wanted.contains(c))
        .copied()
        .collect::<Vec<_>>()
        .join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_only_kinds_parse() {
        for (path, kind) in [
            ("users/u1/messages", Kind::Message),
            ("/users/u1/mailFolders('inbox')/messages", Kind::Message),
            ("users/u1/mailFolders/f1/messages", Kind::Message),
            ("users/u1/events", Kind::Event),
            ("users/u1/contactFolders/c/contacts", Kind::Contact),
            ("users", Kind::User),
            ("users/u1?$select=displayName", Kind::User),
            ("groups/g1/members", Kind::Group),
            ("drives/d1/root", Kind::DriveItem),
            ("users/u1/drive/root", Kind::DriveItem),
        ] {
            assert_eq!(parse(path).map(|r| r.kind), Ok(kind), "{path}");
        }
    }

    #[test]
    fn delegated_only_and_unknown_resources_are_refused_with_reasons() {
        assert!(matches!(
            parse("groups/g1/conversations"),
            Err(ResourceError::DelegatedOnly(..))
        ));
        assert!(matches!(
            parse("me/messages"),
            Err(ResourceError::DelegatedOnly(..))
        ));
        assert!(matches!(
            parse("drives/d1/root/Documents"),
            Err(ResourceError::DelegatedOnly(..))
        ));
        let unknown = parse("sites/s1/lists/l1").unwrap_err().to_string();
        assert!(
            unknown.contains("supported: users/{id}/messages"),
            "{unknown}"
        );
    }

    #[test]
    fn change_types_are_checked_and_ordered() {
        assert_eq!(
            change_types(Kind::Message, &["deleted".into(), "created".into()]),
            Ok("created,deleted".into())
        );
        assert!(matches!(
            change_types(Kind::User, &["created".into()]),
            Err(ResourceError::ChangeTypes(..))
        ));
        assert!(matches!(
            change_types(Kind::DriveItem, &[]),
            Err(ResourceError::NoChangeTypes)
        ));
    }
}
