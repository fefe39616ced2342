//! Fields Graphhook adds beside Graph's own, so tenants need not parse Graph's varying forms:
//! the ids a `resource` path names (`Users/{u}/Messages/{m}`, `users('{u}')/messages('{m}')`
//! and `users/{u}@{tenant}/messages/{m}` all give `{"userId": u, "messageId": m}`), and a
//! subscription expiry normalized to RFC 3339 UTC (Graph writes `.952Z`, `.0000000Z`,
//! `+00:00`, `+05:30`). Graph's strings are always kept as they came.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// The id key of an item in a collection, in the payload's camelCase.
fn id_key(collection: &str) -> Option<&'static str> {
    Some(match collection.to_ascii_lowercase().as_str() {
        "users" => "userId",
        "groups" => "groupId",
        "messages" => "messageId",
        "events" => "eventId",
        "contacts" => "contactId",
        "mailfolders" => "mailFolderId",
        "contactfolders" => "contactFolderId",
        "calendars" => "calendarId",
        "conversations" => "conversationId",
        "threads" => "threadId",
        "posts" => "postId",
        "drives" => "driveId",
        "items" => "itemId",
        "sites" => "siteId",
        "lists" => "listId",
        "members" => "memberId",
        "owners" => "ownerId",
        _ => return None,
    })
}

fn unquote(id: &str) -> &str {
    id.trim_matches(|c| c == '\'' || c == '"')
}

/// `users/{u}@{tenant}`: Graph appends the tenant id to the user's; the user id is the part
/// before it (a UPN's `@domain` is kept).
fn user_id(id: &str) -> &str {
    match id.rsplit_once('@') {
        Some((user, tenant)) if uuid::Uuid::parse_str(tenant).is_ok() => user,
        _ => id,
    }
}

/// The ids `resource` names, by their collections; `None` when it names none.
pub fn resource_ids(resource: &str) -> Option<Value> {
    let mut ids = Map::new();
    let segments: Vec<&str> = resource.trim_matches('/').split('/').collect();
    let mut i = 0;
    while i < segments.len() {
        let segment = segments[i];
        // `collection('id')` in one segment, or `collection` followed by `id`.
        let (collection, id) = match segment.split_once('(') {
            Some((collection, rest)) => (collection, Some(unquote(rest.trim_end_matches(')')))),
            None => {
                let next = segments.get(i + 1).copied();
                let id = next.filter(|n| id_key(n).is_none() && !n.contains('('));
                if id.is_some() {
                    i += 1;
                }
                (segment, id)
            }
        };
        if let (Some(key), Some(id)) = (id_key(collection), id.filter(|id| !id.is_empty())) {
            let id = if key == "userId" { user_id(id) } else { id };
            ids.insert(key.to_owned(), Value::String(id.to_owned()));
        }
        i += 1;
    }
    (!ids.is_empty()).then_some(Value::Object(ids))
}

/// Graph's expiry as RFC 3339 UTC (`2026-12-08T10:00:00.952Z`); `None` when unreadable.
pub fn normalized_time(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?;
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_three_shapes_of_one_message_give_the_same_ids() {
        let u = "8ee44408-0679-472c-bc2a-692812af3437";
        let t = "c0a7e5d2-3b1f-4e6a-9d8c-7f2b1a0e9c34";
        let expected = json!({"userId": u, "messageId": "AAMkAD="});
        for resource in [
            format!("Users/{u}/Messages/AAMkAD="),
            format!("users('{u}')/messages('AAMkAD=')"),
            format!("users/{u}@{t}/messages/AAMkAD="),
            format!("Users('{u}')/Messages('AAMkAD=')"),
        ] {
            assert_eq!(
                resource_ids(&resource),
                Some(expected.clone()),
                "{resource}"
            );
        }
    }

    #[test]
    fn other_resources_name_their_ids_and_collections_name_none() {
        assert_eq!(
            resource_ids("groups('g1')/conversations('c1')"),
            Some(json!({"groupId": "g1", "conversationId": "c1"}))
        );
        assert_eq!(
            resource_ids("drives/d1/items/f1"),
            Some(json!({"driveId": "d1", "itemId": "f1"}))
        );
        assert_eq!(
            resource_ids("users/adele@contoso.com/events/e1"),
            Some(json!({"userId": "adele@contoso.com", "eventId": "e1"}))
        );
        assert_eq!(resource_ids("users"), None);
        assert_eq!(
            resource_ids("users/u1/mailFolders('inbox')/messages"),
            Some(json!({"userId": "u1", "mailFolderId": "inbox"}))
        );
    }

    #[test]
    fn every_expiry_form_graph_writes_reads_as_utc() {
        for (graph, utc) in [
            ("2026-12-08T10:00:00.952Z", "2026-12-08T10:00:00.952Z"),
            ("2026-12-08T10:00:00.0000000Z", "2026-12-08T10:00:00Z"),
            ("2026-12-08T10:00:00+00:00", "2026-12-08T10:00:00Z"),
            ("2026-12-08T15:30:00+05:30", "2026-12-08T10:00:00Z"),
            (
                "2026-12-08T10:00:00.9356913Z",
                "2026-12-08T10:00:00.935691300Z",
            ),
        ] {
            assert_eq!(
                normalized_time(Some(&json!(graph))).as_deref(),
                Some(utc),
                "{graph}"
            );
        }
        assert_eq!(normalized_time(Some(&json!("soon"))), None);
        assert_eq!(normalized_time(None), None);
    }
}
