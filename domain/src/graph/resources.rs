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
    /// Paths Graph accepts only with a signed-in user's token (`me/…`, conversations).
    pub delegated_paths: &'static [&'static str],
    /// The delegated permission a work/school connection needs; `None`: not through one.
    pub delegated: Option<&'static str>,
    /// The delegated permission a personal-account connection needs; `None`: not available.
    pub personal: Option<&'static str>,
    /// Maximum lifetime in minutes, and with resource data.
    pub max_minutes: i64,
    pub max_minutes_rich: Option<i64>,
}

/// A directory object (users, groups): updated or deleted, watched by the application alone, for
/// up to 29 days and without resource data.
const fn directory_object(
    kind: Kind,
    name: &'static str,
    paths: &'static [&'static str],
    application: &'static [&'static str],
) -> KindSpec {
    KindSpec {
        kind,
        name,
        paths,
        change_types: &["updated", "deleted"],
        application: Some(application),
        delegated_paths: &[],
        delegated: None,
        personal: None,
        max_minutes: 41_760,
        max_minutes_rich: None,
    }
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
        delegated_paths: &[
            "me/messages",
            "me/mailFolders(…)/messages",
            "me/mailFolders/{id}/messages",
        ],
        delegated: Some("Mail.Read"),
        personal: Some("Mail.Read"),
        max_minutes: 4_230,
        max_minutes_rich: Some(1_440),
    },
    KindSpec {
        kind: Kind::Event,
        name: "event",
        paths: &["users/{id}/events"],
        change_types: &["created", "updated", "deleted"],
        application: Some(&["Calendars.Read"]),
        delegated_paths: &["me/events"],
        delegated: Some("Calendars.Read"),
        personal: Some("Calendars.Read"),
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
        delegated_paths: &["me/contacts", "me/contactFolders/{id}/contacts"],
        delegated: Some("Contacts.Read"),
        personal: Some("Contacts.Read"),
        max_minutes: 4_230,
        max_minutes_rich: Some(1_440),
    },
    directory_object(
        Kind::User,
        "user",
        &["users", "users/{id}"],
        &["User.Read.All"],
    ),
    directory_object(
        Kind::Group,
        "group",
        &[
            "groups",
            "groups/{id}",
            "groups/{id}/members",
            "groups/{id}/owners",
        ],
        &["Group.Read.All"],
    ),
    KindSpec {
        kind: Kind::Conversation,
        name: "conversation",
        paths: &[],
        change_types: &["created", "updated", "deleted"],
        application: None,
        delegated_paths: &["groups/{id}/conversations", "groups(…)/conversations"],
        delegated: Some("Group.Read.All"),
        personal: None,
        max_minutes: 4_230,
        max_minutes_rich: None,
    },
    KindSpec {
        kind: Kind::DriveItem,
        name: "drive_item",
        paths: &["drives/{id}/root", "users/{id}/drive/root"],
        change_types: &["updated"],
        application: Some(&["Files.ReadWrite.All"]),
        delegated_paths: &["me/drive/root"],
        delegated: Some("Files.ReadWrite.All"),
        personal: Some("Files.ReadWrite"),
        max_minutes: 42_300,
        max_minutes_rich: None,
    },
];

pub fn spec(kind: Kind) -> &'static KindSpec {
    TABLE.iter().find(|s| s.kind == kind).unwrap_or(&TABLE[0])
}

/// Whose token may hold a subscription to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// App-only, or a connected user's token (Graph then limits it to what the user can read).
    Any,
    /// Only a connected user's token (`me/…`, group conversations).
    Delegated,
    /// Only a connected personal Microsoft account (folders of a personal OneDrive).
    Personal,
}

/// A SharePoint site's document library, which Graph subscribes to as `drives/{id}/root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteDrive {
    pub site: String,
    /// The drive named in the path; `None`: the site's default library.
    pub drive: Option<String>,
}

/// A resource path Graphhook accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    /// The path as given, without a leading `/`.
    pub path: String,
    pub access: Access,
    /// Set when the path names a SharePoint site's drive, to be resolved through Graph.
    pub site: Option<SiteDrive>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("'{0}' is not a resource Graphhook can subscribe to; supported: {1}")]
    Unknown(String, String),
    #[error(
        "'{0}' ({1}) can only be subscribed to with a signed-in user's delegated token: connect the user (POST /api/v1/connections) and pass that connection's connection_id"
    )]
    DelegatedOnly(String, &'static str),
    #[error(
        "'{0}' is a folder below a drive's root, which Graph subscribes to only for personal OneDrive accounts: pass the connection_id of a personal-account connection"
    )]
    PersonalOnly(String),
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

/// Folders of a personal OneDrive (any folder, not only the root).
const PERSONAL_FOLDERS: &[&str] = &[
    "me/drive/items/{id}",
    "drives/{id}/items/{id}",
    "users/{id}/drive/items/{id}",
];
/// A SharePoint site's default document library, and one named library.
const SITE_DRIVES: [&str; 2] = ["sites/{id}/drive/root", "sites/{id}/drives/{id}/root"];

/// Every supported pattern, for error messages.
pub fn supported_patterns() -> String {
    TABLE
        .iter()
        .flat_map(|s| s.paths.iter().chain(s.delegated_paths))
        .copied()
        .chain(SITE_DRIVES)
        .chain(PERSONAL_FOLDERS.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a `resource` into its kind and who may hold it (see [`Access`]).
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
    let found = |kind: Kind, access: Access| Resource {
        kind,
        path: trimmed.to_owned(),
        access,
        site: None,
    };
    for spec in TABLE {
        if spec.paths.iter().any(|p| path_matches(p, &segments)) {
            return Ok(found(spec.kind, Access::Any));
        }
        if spec
            .delegated_paths
            .iter()
            .any(|p| path_matches(p, &segments))
        {
            return Ok(found(spec.kind, Access::Delegated));
        }
    }
    if PERSONAL_FOLDERS.iter().any(|p| path_matches(p, &segments)) {
        return Ok(found(Kind::DriveItem, Access::Personal));
    }
    let plain_id = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '!' | '_' | '-'))
    };
    if SITE_DRIVES.iter().any(|p| path_matches(p, &segments))
        && plain_id(segments[1])
        && plain_id(segments[segments.len() - 2])
    {
        return Ok(Resource {
            site: Some(SiteDrive {
                site: segments[1].to_owned(),
                drive: (segments.len() == 5).then(|| segments[3].to_owned()),
            }),
            ..found(Kind::DriveItem, Access::Any)
        });
    }
    // A path below a drive root (`drives/{id}/root/Documents`) names a personal folder.
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let below_root = (lower.first().map(String::as_str) == Some("drives")
        && lower.get(2).map(String::as_str) == Some("root"))
        || (matches!(lower.first().map(String::as_str), Some("users" | "me"))
            && lower
                .get(if lower[0] == "me" { 1 } else { 2 })
                .map(String::as_str)
                == Some("drive"));
    if below_root && segments.len() > 3 {
        return Err(ResourceError::PersonalOnly(resource.to_owned()));
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
            let parsed = parse(path).unwrap();
            assert_eq!((parsed.kind, parsed.access), (kind, Access::Any), "{path}");
        }
    }

    #[test]
    fn delegated_personal_and_site_resources_say_who_may_hold_them() {
        for (path, kind, access) in [
            (
                "groups/g1/conversations",
                Kind::Conversation,
                Access::Delegated,
            ),
            (
                "groups('g1')/conversations",
                Kind::Conversation,
                Access::Delegated,
            ),
            ("me/messages", Kind::Message, Access::Delegated),
            (
                "me/mailFolders('inbox')/messages",
                Kind::Message,
                Access::Delegated,
            ),
            ("me/events", Kind::Event, Access::Delegated),
            ("me/drive/root", Kind::DriveItem, Access::Delegated),
            ("me/drive/items/F1", Kind::DriveItem, Access::Personal),
            ("drives/d1/items/F1", Kind::DriveItem, Access::Personal),
        ] {
            let parsed = parse(path).unwrap();
            assert_eq!((parsed.kind, parsed.access), (kind, access), "{path}");
            assert_eq!(parsed.site, None);
        }
        let site = parse("sites/contoso.sharepoint.com,1,2/drive/root").unwrap();
        assert_eq!(
            (site.kind, site.access, site.site),
            (
                Kind::DriveItem,
                Access::Any,
                Some(SiteDrive {
                    site: "contoso.sharepoint.com,1,2".into(),
                    drive: None
                })
            )
        );
        let named = parse("sites/s1/drives/b!x/root").unwrap();
        assert_eq!(named.site.and_then(|s| s.drive).as_deref(), Some("b!x"));
    }

    #[test]
    fn folders_below_a_root_and_unknown_resources_are_refused_with_reasons() {
        assert!(matches!(
            parse("drives/d1/root/Documents"),
            Err(ResourceError::PersonalOnly(..))
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
