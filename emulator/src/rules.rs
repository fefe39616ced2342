//! Graph's rules per subscription resource (graph-protocol.md §6): which paths exist, which
//! change types each allows, which application permission it needs, and how long a
//! subscription may live. This is the emulator's own reading of the protocol, kept apart from
//! the api's resource table on purpose.

use chrono::{DateTime, Duration, Utc};

use crate::config::LifetimePolicy;

/// A kind of subscribable resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Message,
    Event,
    Contact,
    User,
    Group,
    GroupConversation,
    DriveItem,
    List,
    ChatMessage,
    Presence,
    TodoTask,
    CallRecord,
    SecurityAlert,
}

/// A path pattern: literal segments (case-insensitive), `*` for one id, `prefix(*` for a
/// segment such as `mailFolders('inbox')`.
struct Pattern(&'static [&'static str]);

const MINUTES_OUTLOOK: i64 = 4_230;

impl Kind {
    fn patterns(self) -> &'static [Pattern] {
        match self {
            Kind::Message => &[
                Pattern(&["users", "*", "messages"]),
                Pattern(&["users", "*", "mailfolders(*", "messages"]),
                Pattern(&["users", "*", "mailfolders", "*", "messages"]),
                Pattern(&["me", "messages"]),
                Pattern(&["me", "mailfolders(*", "messages"]),
                Pattern(&["me", "mailfolders", "*", "messages"]),
            ],
            Kind::Event => &[
                Pattern(&["users", "*", "events"]),
                Pattern(&["me", "events"]),
            ],
            Kind::Contact => &[
                Pattern(&["users", "*", "contacts"]),
                Pattern(&["users", "*", "contactfolders", "*", "contacts"]),
                Pattern(&["me", "contacts"]),
            ],
            Kind::User => &[Pattern(&["users"]), Pattern(&["users", "*"])],
            Kind::Group => &[
                Pattern(&["groups"]),
                Pattern(&["groups", "*"]),
                Pattern(&["groups", "*", "members"]),
                Pattern(&["groups", "*", "owners"]),
            ],
            Kind::GroupConversation => &[Pattern(&["groups", "*", "conversations"])],
            Kind::DriveItem => &[
                Pattern(&["drives", "*", "root"]),
                Pattern(&["users", "*", "drive", "root"]),
                Pattern(&["me", "drive", "root"]),
                // A folder: personal OneDrive only (delegated).
                Pattern(&["drives", "*", "items", "*"]),
                Pattern(&["users", "*", "drive", "items", "*"]),
                Pattern(&["me", "drive", "items", "*"]),
            ],
            Kind::List => &[Pattern(&["sites", "*", "lists", "*"])],
            Kind::ChatMessage => &[
                Pattern(&["teams", "*", "channels", "*", "messages"]),
                Pattern(&["teams", "getallmessages"]),
                Pattern(&["chats", "*", "messages"]),
                Pattern(&["chats", "getallmessages"]),
                Pattern(&["users", "*", "chats", "getallmessages"]),
            ],
            Kind::Presence => &[
                Pattern(&["communications", "presences", "*"]),
                Pattern(&["communications", "presences"]),
            ],
            Kind::TodoTask => &[Pattern(&["me", "todo", "lists", "*", "tasks"])],
            Kind::CallRecord => &[Pattern(&["communications", "callrecords"])],
            Kind::SecurityAlert => &[
                Pattern(&["security", "alerts", "*"]),
                Pattern(&["security", "alerts"]),
            ],
        }
    }

    const ALL: [Kind; 13] = [
        Kind::Message,
        Kind::Event,
        Kind::Contact,
        Kind::User,
        Kind::Group,
        Kind::GroupConversation,
        Kind::DriveItem,
        Kind::List,
        Kind::ChatMessage,
        Kind::Presence,
        Kind::TodoTask,
        Kind::CallRecord,
        Kind::SecurityAlert,
    ];

    /// The change types Graph accepts for this kind.
    pub fn change_types(self) -> &'static [&'static str] {
        match self {
            Kind::Message
            | Kind::Event
            | Kind::Contact
            | Kind::GroupConversation
            | Kind::ChatMessage
            | Kind::TodoTask => &["created", "updated", "deleted"],
            Kind::User | Kind::Group => &["updated", "deleted"],
            Kind::DriveItem | Kind::List | Kind::Presence | Kind::SecurityAlert => &["updated"],
            Kind::CallRecord => &["created"],
        }
    }

    /// Application permissions that allow an app-only subscription; `None` where Graph does not
    /// support app-only subscriptions at all (§6.2, application column).
    pub fn application_roles(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::Message => Some(&["Mail.ReadBasic", "Mail.Read"]),
            Kind::Event => Some(&["Calendars.Read"]),
            Kind::Contact => Some(&["Contacts.Read"]),
            Kind::User => Some(&["User.Read.All"]),
            Kind::Group => Some(&["Group.Read.All"]),
            Kind::DriveItem => Some(&["Files.ReadWrite.All"]),
            Kind::List => Some(&["Sites.ReadWrite.All"]),
            Kind::ChatMessage => Some(&["ChannelMessage.Read.All", "Chat.Read.All"]),
            Kind::CallRecord => Some(&["CallRecords.Read.All"]),
            Kind::SecurityAlert => Some(&["SecurityEvents.ReadWrite.All"]),
            Kind::GroupConversation | Kind::Presence | Kind::TodoTask => None,
        }
    }

    /// Delegated permissions that allow a subscription for a signed-in user, work or school
    /// (`personal` false) or personal; `None` where Graph does not support it for that kind of
    /// account (§6.2, D and MSA columns).
    pub fn delegated_scopes(self, personal: bool) -> Option<&'static [&'static str]> {
        match (self, personal) {
            (Kind::Message, _) => Some(&["Mail.ReadBasic", "Mail.Read"]),
            (Kind::Event, _) => Some(&["Calendars.Read"]),
            (Kind::Contact, _) => Some(&["Contacts.Read"]),
            (Kind::TodoTask, _) => Some(&["Tasks.ReadWrite"]),
            (Kind::DriveItem, true) => Some(&["Files.ReadWrite"]),
            (Kind::DriveItem, false) => Some(&["Files.ReadWrite.All"]),
            (Kind::User, false) => Some(&["User.Read.All"]),
            (Kind::Group | Kind::GroupConversation, false) => Some(&["Group.Read.All"]),
            (Kind::List, false) => Some(&["Sites.ReadWrite.All"]),
            (Kind::ChatMessage, false) => Some(&["ChannelMessage.Read.All", "Chat.Read"]),
            (Kind::Presence, false) => Some(&["Presence.Read.All"]),
            (Kind::SecurityAlert, false) => Some(&["SecurityEvents.ReadWrite.All"]),
            _ => None,
        }
    }

    /// The maximum lifetime in minutes (§6.1, current values).
    pub fn max_minutes(self, include_resource_data: bool) -> i64 {
        match self {
            Kind::Message | Kind::Event | Kind::Contact if include_resource_data => 1_440,
            Kind::Message | Kind::Event | Kind::Contact => MINUTES_OUTLOOK,
            Kind::User | Kind::Group => 41_760,
            Kind::GroupConversation | Kind::CallRecord | Kind::TodoTask => MINUTES_OUTLOOK,
            Kind::DriveItem | Kind::List => 42_300,
            Kind::ChatMessage => 4_320,
            Kind::Presence => 60,
            Kind::SecurityAlert => 43_200,
        }
    }

    pub fn is_directory(self) -> bool {
        matches!(self, Kind::User | Kind::Group)
    }

    pub fn is_outlook(self) -> bool {
        matches!(self, Kind::Message | Kind::Event | Kind::Contact)
    }

    /// Teams resources need a lifecycle URL when they live longer than an hour.
    pub fn is_teams(self) -> bool {
        matches!(self, Kind::ChatMessage)
    }

    /// Whether a path is delegated-only (`me/…`).
    fn delegated_only(segments: &[String]) -> bool {
        segments.first().is_some_and(|s| s == "me")
    }
}

/// A parsed `resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    /// The lower-cased path segments, without query.
    pub segments: Vec<String>,
    /// The mailbox (user id) of an Outlook resource, for its quota.
    pub mailbox: Option<String>,
    /// `me/…` paths need a signed-in user.
    pub delegated_only: bool,
}

/// Parses a subscription `resource` (leading `/` optional, OData options allowed).
pub fn parse_resource(resource: &str) -> Option<Resource> {
    let path = resource.split('?').next().unwrap_or_default();
    let path = path.trim().trim_start_matches('/').trim_end_matches('/');
    if path.is_empty()
        || path.starts_with("http")
        || path.starts_with("v1.0")
        || path.starts_with("beta")
    {
        return None;
    }
    let mut segments: Vec<String> = path.split('/').map(str::to_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        return None;
    }
    // `groups('{id}')/…` is `groups/{id}/…`.
    if let Some(id) = segments
        .first()
        .and_then(|s| s.strip_prefix("groups("))
        .and_then(|s| s.strip_suffix(')'))
    {
        let id = id.trim_matches('\'').to_owned();
        segments.splice(0..1, ["groups".to_owned(), id]);
    }
    for kind in Kind::ALL {
        if kind.patterns().iter().any(|p| matches(p, &segments)) {
            let mailbox = (kind.is_outlook() && segments.first().is_some_and(|s| s == "users"))
                .then(|| segments.get(1).cloned())
                .flatten();
            let delegated_only = Kind::delegated_only(&segments);
            return Some(Resource {
                kind,
                segments,
                mailbox,
                delegated_only,
            });
        }
    }
    None
}

fn matches(pattern: &Pattern, segments: &[String]) -> bool {
    pattern.0.len() == segments.len()
        && pattern.0.iter().zip(segments).all(|(p, s)| match *p {
            "*" => !s.contains('(') || s.ends_with(')'),
            p if p.ends_with("(*") => s.starts_with(&p[..p.len() - 1]) && s.ends_with(')'),
            p => p == s,
        })
}

/// Splits and checks a `changeType` value against a kind; returns the unsupported entries.
pub fn unsupported_change_types(kind: Kind, change_type: &str) -> Vec<String> {
    change_type
        .split(',')
        .map(str::trim)
        .filter(|c| !kind.change_types().contains(c))
        .map(str::to_owned)
        .collect()
}

/// Parses a resource for an app-only subscription and checks its change types; the error is
/// the message Graph's 400 carries.
pub fn app_only_target(resource: &str, change_type: &str) -> Result<Resource, String> {
    let Some(parsed) = parse_resource(resource) else {
        return Err(format!(
            "Resource '{resource}' is not supported for subscriptions."
        ));
    };
    let kind = parsed.kind;
    if parsed.delegated_only {
        return Err(format!(
            "Resource '{resource}' needs a signed-in user; application permissions cannot use 'me'."
        ));
    }
    if kind.application_roles().is_none() {
        return Err(format!(
            "Subscriptions to '{resource}' are not supported with application permissions."
        ));
    }
    if parsed.is_drive_folder() {
        return Err(format!(
            "Resource '{resource}' is not supported for subscriptions: OneDrive for Business and SharePoint support subscriptions to the root folder only."
        ));
    }
    check_change_types(&parsed, resource, change_type)?;
    Ok(parsed)
}

impl Resource {
    /// A drive folder other than the root (`…/items/{id}`).
    pub fn is_drive_folder(&self) -> bool {
        self.kind == Kind::DriveItem && self.segments.iter().any(|s| s == "items")
    }
}

/// The change types must be ones the kind allows; the error is Graph's 400 message.
pub fn check_change_types(
    parsed: &Resource,
    resource: &str,
    change_type: &str,
) -> Result<(), String> {
    let kind = parsed.kind;
    let unsupported = unsupported_change_types(kind, change_type);
    if !unsupported.is_empty() {
        return Err(format!(
            "ChangeType '{}' is not supported for resource '{resource}'. Supported change types: {}.",
            unsupported.join(","),
            kind.change_types().join(",")
        ));
    }
    Ok(())
}

/// Why an expiration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimeError {
    Past,
    /// Beyond the kind's maximum, under [`LifetimePolicy::Reject`].
    TooLong {
        max_minutes: i64,
    },
}

impl LifetimeError {
    /// Graph's message (§6.1, §7.2).
    pub fn message(self) -> String {
        match self {
            LifetimeError::Past => "Subscription expiration must be in the future.".to_owned(),
            LifetimeError::TooLong { max_minutes } => {
                format!("Subscription expiration can only be {max_minutes} minutes in the future.")
            }
        }
    }
}

/// The expiration to store for a requested one: it must be in the future, and beyond the kind's
/// maximum it is refused or cut to the maximum, as the policy says.
pub fn allowed_expiration(
    kind: Kind,
    include_resource_data: bool,
    requested: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: LifetimePolicy,
) -> Result<DateTime<Utc>, LifetimeError> {
    if requested <= now {
        return Err(LifetimeError::Past);
    }
    let max_minutes = kind.max_minutes(include_resource_data);
    let max = now + Duration::minutes(max_minutes);
    if requested <= max {
        return Ok(requested);
    }
    match policy {
        LifetimePolicy::Clamp => Ok(max),
        LifetimePolicy::Reject => Err(LifetimeError::TooLong { max_minutes }),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_documented_paths_parse_to_their_kinds() {
        // graph-protocol.md §6.2
        let cases = [
            (
                "users/8ee44408-0679-472c-bc2a-692812af3437/mailFolders('inbox')/messages",
                Kind::Message,
            ),
            ("/users/abc/messages", Kind::Message),
            ("users/abc/mailFolders/AAMk/messages", Kind::Message),
            ("users/abc/events", Kind::Event),
            ("users/abc/contactFolders/f1/contacts", Kind::Contact),
            ("users", Kind::User),
            ("users/abc?$select=displayName", Kind::User),
            ("groups/g1/members", Kind::Group),
            ("groups('g1')/conversations", Kind::GroupConversation),
            ("groups/g1/conversations", Kind::GroupConversation),
            ("me/drive/items/F1", Kind::DriveItem),
            ("drives/d1/root", Kind::DriveItem),
            ("users/abc/drive/root", Kind::DriveItem),
            ("sites/s1/lists/l1", Kind::List),
            ("teams/getAllMessages", Kind::ChatMessage),
            ("communications/callRecords", Kind::CallRecord),
        ];
        for (path, kind) in cases {
            assert_eq!(parse_resource(path).map(|r| r.kind), Some(kind), "{path}");
        }
    }

    #[test]
    fn unknown_and_absolute_paths_do_not_parse() {
        for path in [
            "",
            "users/abc/calendar",
            "https://graph.microsoft.com/v1.0/users",
            "drives/d1/root/folder",
            "drives/d1/items",
            "users//messages",
        ] {
            assert_eq!(parse_resource(path), None, "{path}");
        }
    }

    #[test]
    fn change_types_follow_each_kind() {
        assert!(unsupported_change_types(Kind::Message, "created,updated,deleted").is_empty());
        assert_eq!(
            unsupported_change_types(Kind::User, "created,updated"),
            vec!["created"]
        );
        assert_eq!(
            unsupported_change_types(Kind::DriveItem, "updated,deleted"),
            vec!["deleted"]
        );
    }

    #[test]
    fn lifetimes_are_the_current_maximums() {
        assert_eq!(Kind::Message.max_minutes(false), 4_230);
        assert_eq!(Kind::Message.max_minutes(true), 1_440);
        assert_eq!(Kind::User.max_minutes(false), 41_760);
        assert_eq!(Kind::DriveItem.max_minutes(false), 42_300);
    }

    #[test]
    fn the_mailbox_of_an_outlook_resource_is_known() {
        let r = parse_resource("users/ABC/messages");
        assert_eq!(r.and_then(|r| r.mailbox), Some("abc".to_owned()));
    }
}
