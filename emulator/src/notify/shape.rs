//! What a changed item looks like in a notification, per kind of resource (§3.2): the
//! normalized `resource` (whose casing and syntax are not the subscription's), `resourceData`
//! with `@odata.type` (casing varies too), `@odata.id`, `@odata.etag` where Graph has one
//! (Outlook) and `id`; and which subscriptions a change reaches.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    config::ResourceStyle,
    rules::{self, Kind},
};

/// What a change happens to: a collection (new item ids are made up) or one item.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: Kind,
    /// The collection's path, lower-cased, for matching subscriptions.
    pub segments: Vec<String>,
    /// The same path as given, for writing resources.
    pub original: Vec<String>,
    /// The item changed, when the path names one.
    pub item_id: Option<String>,
}

impl Target {
    /// Reads a change's resource: a subscribable path (`users/{id}/messages`, `users`,
    /// `users/{id}`) or an item of a collection (`users/{id}/messages/{messageId}`).
    pub fn parse(resource: &str) -> Option<Self> {
        let path = resource.split('?').next().unwrap_or_default();
        let path = path.trim().trim_matches('/');
        let original: Vec<String> = path.split('/').map(str::to_owned).collect();
        if let Some(parsed) = rules::parse_resource(path) {
            let item_id = match parsed.kind {
                Kind::User | Kind::Group => original.get(1).cloned(),
                Kind::Presence | Kind::SecurityAlert => original.get(2).cloned(),
                Kind::List => original.get(3).cloned(),
                _ => None,
            };
            return Some(Self {
                kind: parsed.kind,
                segments: parsed.segments,
                original,
                item_id,
            });
        }
        let (last, parent) = original.split_last()?;
        let parsed = rules::parse_resource(&parent.join("/"))?;
        // Users, groups, drive roots, lists and presences name items themselves; a path below
        // one of them, or below one alert, is not an item.
        let item_kinds = matches!(
            parsed.kind,
            Kind::User | Kind::Group | Kind::DriveItem | Kind::List | Kind::Presence
        );
        let below_alert = parsed.kind == Kind::SecurityAlert && parent.len() > 2;
        let collection = !(item_kinds || below_alert);
        collection.then(|| Self {
            kind: parsed.kind,
            segments: parsed.segments,
            original: parent.to_vec(),
            item_id: Some(last.clone()),
        })
    }

    /// Whether a subscription to `subscribed` hears of this change: the same path, a path
    /// above it (`users` hears of `users/{id}`), a whole mailbox collection for one of its
    /// folders, or a Teams `getAllMessages` for any channel or chat.
    pub fn covered_by(&self, subscribed: &rules::Resource) -> bool {
        if subscribed.kind != self.kind {
            return false;
        }
        let (s, t) = (&subscribed.segments, &self.segments);
        if t.starts_with(s) {
            return true;
        }
        match self.kind {
            Kind::Message | Kind::Event | Kind::Contact => {
                !has_folder(s) && without_folder(t) == *s
            }
            // A drive's root hears of changes in any of its folders.
            Kind::DriveItem => {
                s.len() == 3 && s[0] == "drives" && s[2] == "root" && t.get(..2) == s.get(..2)
            }
            Kind::ChatMessage => {
                s.last().is_some_and(|l| l == "getallmessages")
                    && match s.first().map(String::as_str) {
                        Some("teams") => t.first().is_some_and(|f| f == "teams"),
                        _ => t.first().is_some_and(|f| f == "chats"),
                    }
            }
            _ => false,
        }
    }

    /// A new id for an item of this kind, in the form Graph uses for it.
    pub fn new_item_id(&self) -> String {
        match self.kind {
            Kind::Message | Kind::Event | Kind::Contact => {
                let mut bytes = Uuid::new_v4().as_bytes().to_vec();
                bytes.extend_from_slice(Uuid::new_v4().as_bytes());
                format!("AAMkAG{}", STANDARD.encode(bytes).replace('/', "-"))
            }
            Kind::GroupConversation => {
                let mut bytes = Uuid::new_v4().as_bytes().to_vec();
                bytes.extend_from_slice(&Uuid::new_v4().as_bytes()[..8]);
                format!("AAQkAG{}", STANDARD.encode(bytes).replace('/', "-"))
            }
            Kind::ChatMessage => {
                (1_600_000_000_000u64 + u64::from(Uuid::new_v4().as_u128() as u32)).to_string()
            }
            _ => Uuid::new_v4().to_string(),
        }
    }
}

fn is_folder(segment: &str) -> bool {
    segment.starts_with("mailfolders") || segment == "contactfolders"
}

fn has_folder(segments: &[String]) -> bool {
    segments.iter().any(|s| is_folder(s))
}

/// `users/u/mailfolders('inbox')/messages` → `users/u/messages`.
fn without_folder(segments: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for s in segments {
        if skip_next {
            skip_next = false;
        } else if is_folder(s) {
            // `mailfolders('inbox')` stands alone; `mailfolders/{id}` has its id next.
            skip_next = !s.contains('(');
        } else {
            out.push(s.clone());
        }
    }
    out
}

/// The `resource` and `resourceData` of one changed item.
pub struct Rendered {
    pub resource: String,
    pub resource_data: Value,
}

/// The segment after `name`, or inside `name('…')`, or a made-up id.
fn key_after(original: &[String], name: &str) -> String {
    for (i, s) in original.iter().enumerate() {
        if s.eq_ignore_ascii_case(name) {
            if let Some(next) = original.get(i + 1) {
                return next.clone();
            }
        } else if s.len() > name.len() + 2 && s[..name.len()].eq_ignore_ascii_case(name) {
            return s[name.len()..]
                .trim_matches(|c| matches!(c, '(' | ')' | '\''))
                .to_owned();
        }
    }
    Uuid::new_v4().to_string()
}

fn etag() -> String {
    let bytes = Uuid::new_v4();
    format!(
        "W/\"CQAAABYAAAD{}\"",
        STANDARD.encode(&bytes.as_bytes()[..12])
    )
}

/// How Graph names a changed item: its `resource` path, `@odata.id`, `@odata.type`, an
/// `@odata.etag` for Outlook items and one more property for directory objects.
struct Named {
    resource: String,
    odata_id: String,
    odata_type: String,
    etag: Option<String>,
    extra: Option<(&'static str, String)>,
}

impl Named {
    /// An item whose `@odata.id` is its resource path.
    fn at(path: String, odata_type: &str) -> Self {
        Self {
            resource: path.clone(),
            odata_id: path,
            odata_type: odata_type.to_owned(),
            etag: None,
            extra: None,
        }
    }
}

/// Writes the item as Graph does for its kind. `style` applies to Outlook resources, which
/// Graph writes in several ways; it is never [`ResourceStyle::Varied`] here.
pub fn render(target: &Target, id: &str, tenant: Uuid, style: ResourceStyle) -> Rendered {
    let joined = target.original.join("/");
    let named = match target.kind {
        Kind::Message | Kind::Event | Kind::Contact => outlook_item(target, id, tenant, style),
        Kind::User | Kind::Group => {
            let (plural, type_name) = if target.kind == Kind::User {
                ("Users", "#Microsoft.Graph.User")
            } else {
                ("Groups", "#Microsoft.Graph.Group")
            };
            Named {
                extra: Some(("organizationId", tenant.to_string())),
                ..Named::at(format!("{plural}/{id}"), type_name)
            }
        }
        Kind::GroupConversation => {
            let group = key_after(&target.original, "groups");
            Named::at(
                format!("groups('{group}')/conversations('{id}')"),
                "#Microsoft.Graph.Conversation",
            )
        }
        Kind::ChatMessage => Named::at(
            chat_message_path(target, id),
            "#Microsoft.Graph.chatMessage",
        ),
        Kind::Presence => Named::at(
            format!("communications/presences('{id}')"),
            "#Microsoft.Graph.presence",
        ),
        Kind::DriveItem => Named::at(joined, "#Microsoft.Graph.DriveItem"),
        Kind::List => Named::at(joined, "#Microsoft.Graph.List"),
        Kind::CallRecord => Named::at(
            format!("communications/callRecords/{id}"),
            "#microsoft.graph.callrecord",
        ),
        Kind::SecurityAlert => Named::at(format!("security/alerts/{id}"), "#Microsoft.Graph.alert"),
        Kind::TodoTask => Named::at(format!("{joined}/{id}"), "#Microsoft.Graph.todoTask"),
    };
    let mut data = Map::new();
    data.insert("@odata.type".into(), json!(named.odata_type));
    data.insert("@odata.id".into(), json!(named.odata_id));
    if let Some(etag) = named.etag {
        data.insert("@odata.etag".into(), json!(etag));
    }
    data.insert("id".into(), json!(id));
    if let Some((key, value)) = named.extra {
        data.insert(key.into(), json!(value));
    }
    Rendered {
        resource: named.resource,
        resource_data: Value::Object(data),
    }
}

/// A message, event or contact, written in `style`.
fn outlook_item(target: &Target, id: &str, tenant: Uuid, style: ResourceStyle) -> Named {
    let user = target.original.get(1).cloned().unwrap_or_default();
    let (plural, type_name) = match target.kind {
        Kind::Message => ("Messages", "Message"),
        Kind::Event => ("Events", "Event"),
        _ => ("Contacts", "Contact"),
    };
    let lower = plural.to_lowercase();
    let named = match style {
        ResourceStyle::TenantQualified => Named {
            resource: format!("users/{user}@{tenant}/{lower}/{id}"),
            odata_id: format!("Users/{user}@{tenant}/{plural}/{id}"),
            odata_type: format!("#Microsoft.Graph.{type_name}"),
            etag: None,
            extra: None,
        },
        ResourceStyle::Keyed => Named::at(
            format!("Users('{user}')/{lower}('{id}')"),
            &format!("#microsoft.graph.{}", type_name.to_lowercase()),
        ),
        ResourceStyle::Normalized | ResourceStyle::Varied => Named::at(
            format!("Users/{user}/{plural}/{id}"),
            &format!("#Microsoft.Graph.{type_name}"),
        ),
    };
    Named {
        etag: Some(etag()),
        ..named
    }
}

/// A chat or channel message's path. A change "to getAllMessages" happens in some channel or
/// chat: make one up.
fn chat_message_path(target: &Target, id: &str) -> String {
    let original = &target.original;
    let any = target
        .segments
        .last()
        .is_some_and(|s| s == "getallmessages");
    let key = |name: &str| {
        if any {
            Uuid::new_v4().to_string()
        } else {
            key_after(original, name)
        }
    };
    if original
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("teams"))
    {
        format!(
            "teams('{}')/channels('{}')/messages('{id}')",
            key("teams"),
            key("channels")
        )
    } else {
        format!("chats('{}')/messages('{id}')", key("chats"))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn covers(subscription: &str, change: &str) -> bool {
        let target = Target::parse(change).unwrap();
        target.covered_by(&rules::parse_resource(subscription).unwrap())
    }

    #[test]
    fn changes_reach_the_subscriptions_whose_path_covers_them() {
        // (subscription resource, changed resource, whether the subscription hears of it)
        let cases = [
            ("users/u1/messages", "users/U1/messages", true),
            (
                "users/u1/messages",
                "users/u1/mailFolders('inbox')/messages",
                true,
            ),
            ("users/u1/messages", "users/u1/messages/AAMk1", true),
            (
                "users/u1/mailFolders('inbox')/messages?$select=subject",
                "users/u1/mailFolders('Inbox')/messages",
                true,
            ),
            ("users", "users/u1", true),
            ("users", "users", true),
            ("groups/g1", "groups/g1/members", true),
            (
                "groups('g1')/conversations",
                "groups/g1/conversations",
                true,
            ),
            ("drives/d1/root", "drives/d1/items/f1", true),
            ("drives/d1/items/f1", "drives/d1/items/f1", true),
            (
                "teams/getAllMessages",
                "teams/t1/channels/c1/messages",
                true,
            ),
            ("chats/getAllMessages", "chats/c1/messages", true),
            (
                "users/u1/mailFolders('inbox')/messages",
                "users/u1/messages",
                false,
            ),
            ("users/u2/messages", "users/u1/messages", false),
            ("users/u2", "users/u1", false),
            ("drives/d1/items/f1", "drives/d1/root", false),
            ("drives/d2/root", "drives/d1/items/f1", false),
            ("users", "users/u1/messages", false),
            (
                "chats/getAllMessages",
                "teams/t1/channels/c1/messages",
                false,
            ),
        ];
        for (subscription, change, hears) in cases {
            assert_eq!(
                covers(subscription, change),
                hears,
                "{subscription} / {change}"
            );
        }
    }

    #[test]
    fn item_paths_name_their_item() {
        let target = Target::parse("users/u1/messages/AAMk1").unwrap();
        assert_eq!(target.kind, Kind::Message);
        assert_eq!(target.item_id.as_deref(), Some("AAMk1"));
        assert_eq!(
            Target::parse("users/u1").unwrap().item_id.as_deref(),
            Some("u1")
        );
        assert!(Target::parse("users").unwrap().item_id.is_none());
        assert!(Target::parse("users/u1/calendar").is_none());
    }

    #[test]
    fn outlook_resources_are_written_in_each_style() {
        let target = Target::parse("users/u1/messages").unwrap();
        let tenant = Uuid::nil();
        let normalized = render(&target, "AAMk1", tenant, ResourceStyle::Normalized);
        assert_eq!(normalized.resource, "Users/u1/Messages/AAMk1");
        assert_eq!(
            normalized.resource_data["@odata.type"],
            "#Microsoft.Graph.Message"
        );
        assert!(
            normalized.resource_data["@odata.etag"]
                .as_str()
                .unwrap()
                .starts_with("W/\"CQAAABYAAAD")
        );
        let qualified = render(&target, "AAMk1", tenant, ResourceStyle::TenantQualified);
        assert_eq!(
            qualified.resource,
            format!("users/u1@{tenant}/messages/AAMk1")
        );
        let keyed = render(&target, "AAMk1", tenant, ResourceStyle::Keyed);
        assert_eq!(keyed.resource, "Users('u1')/messages('AAMk1')");
        let teams = Target::parse("teams/t1/channels/c1/messages").unwrap();
        let chat = render(&teams, "1612289765949", tenant, ResourceStyle::Normalized);
        assert_eq!(
            chat.resource,
            "teams('t1')/channels('c1')/messages('1612289765949')"
        );
        assert!(chat.resource_data.get("@odata.etag").is_none());
    }
}
