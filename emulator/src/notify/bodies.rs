//! Plausible resource bodies for rich notifications (§5.3 step 4): what a GET of the changed
//! item would return. Outlook sends only the properties the subscription's `$select` names,
//! annotated and ordered as Exchange writes them (see [`super::outlook`]); Teams sends a whole
//! chatMessage with `@odata.context`. The change's own `properties` override the made-up ones.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{
    outlook,
    shape::{Rendered, Target},
};
use crate::rules::Kind;

/// The `$select` list of a subscription's resource, as written.
fn selected(subscription_resource: &str) -> Option<Vec<String>> {
    let query = subscription_resource.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.eq_ignore_ascii_case("$select")
            .then(|| value.split(',').map(|s| s.trim().to_owned()).collect())
    })
}

/// A made-up body per kind: `(properties, names of its date-time properties)`.
fn made_up(target: &Target, id: &str, now: &str) -> (Map<String, Value>, &'static [&'static str]) {
    let user = target.original.get(1).cloned().unwrap_or_default();
    let body = match target.kind {
        Kind::Message => json!({
            "createdDateTime": now, "lastModifiedDateTime": now, "receivedDateTime": now,
            "sentDateTime": now, "subject": "Quarterly review", "importance": "normal",
            "bodyPreview": "Hi all, the figures for the quarter are attached.",
            "isRead": false, "hasAttachments": false,
            "conversationId": format!("AAQkAG{}", uuid::Uuid::new_v4().simple()),
            "from": {"emailAddress": {"name": "Adele Vance", "address": "adelev@contoso.onmicrosoft.com"}},
            "toRecipients": [{"emailAddress": {"name": "Megan Bowen", "address": format!("{user}@contoso.onmicrosoft.com")}}],
        }),
        Kind::Event => json!({
            "createdDateTime": now, "lastModifiedDateTime": now, "subject": "Planning",
            "start": {"dateTime": now.trim_end_matches('Z'), "timeZone": "UTC"},
            "end": {"dateTime": now.trim_end_matches('Z'), "timeZone": "UTC"},
            "location": {"displayName": "Room 1"},
            "organizer": {"emailAddress": {"name": "Adele Vance", "address": "adelev@contoso.onmicrosoft.com"}},
        }),
        Kind::Contact => json!({
            "createdDateTime": now, "lastModifiedDateTime": now, "displayName": "Alex Wilber",
            "givenName": "Alex", "surname": "Wilber",
            "emailAddresses": [{"name": "Alex Wilber", "address": "alexw@contoso.onmicrosoft.com"}],
        }),
        Kind::ChatMessage => json!({
            "replyToId": null, "etag": id, "messageType": "message", "createdDateTime": now,
            "lastModifiedDateTime": now, "lastEditedDateTime": null, "deletedDateTime": null,
            "subject": null, "summary": null, "chatId": null, "importance": "normal",
            "locale": "en-us", "webUrl": null, "policyViolation": null, "eventDetail": null,
            "from": {"application": null, "device": null, "user": {
                "id": "8ee44408-0679-472c-bc2a-692812af3437", "displayName": "Adele Vance",
                "userIdentityType": "aadUser"}},
            "body": {"contentType": "html", "content": "<p>Hello from the emulator</p>"},
            "attachments": [], "mentions": [], "reactions": [],
        }),
        Kind::User => {
            json!({"displayName": "Megan Bowen", "userPrincipalName": "meganb@contoso.onmicrosoft.com", "mail": "meganb@contoso.onmicrosoft.com"})
        }
        Kind::Group => {
            json!({"displayName": "Marketing", "mailEnabled": true, "securityEnabled": false})
        }
        Kind::Presence => json!({"availability": "Available", "activity": "Available"}),
        _ => json!({"lastModifiedDateTime": now}),
    };
    let dates: &[&str] = match target.kind {
        Kind::Message => &[
            "createdDateTime",
            "lastModifiedDateTime",
            "receivedDateTime",
            "sentDateTime",
        ],
        Kind::Event | Kind::Contact => &["createdDateTime", "lastModifiedDateTime"],
        _ => &[],
    };
    match body {
        Value::Object(map) => (map, dates),
        _ => (Map::new(), dates),
    }
}

/// The JSON text of the body for one subscription: Outlook items as [`outlook::write`]
/// writes them (the subscription's `$select` applies), other resources as a GET returns them.
pub fn resource_body(
    target: &Target,
    rendered: &Rendered,
    subscription_resource: &str,
    properties: Option<&Map<String, Value>>,
    now: DateTime<Utc>,
) -> String {
    let id = rendered.resource_data["id"].as_str().unwrap_or_default();
    let written = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (mut fields, dates) = made_up(target, id, &written);
    let schema = match target.kind {
        Kind::Message => Some(outlook::MESSAGE),
        Kind::Event => Some(outlook::EVENT),
        Kind::Contact => Some(outlook::CONTACT),
        _ => None,
    };
    if let Some(schema) = schema {
        fields.insert("id".into(), json!(id));
        if let Some(properties) = properties {
            fields.extend(properties.clone());
        }
        let select = selected(subscription_resource);
        return outlook::write(schema, &fields, select.as_deref());
    }
    if let Some(properties) = properties {
        fields.extend(properties.clone());
    }
    let mut body = Map::new();
    if target.kind == Kind::ChatMessage {
        let context = rendered.resource.rsplit_once("/messages").map_or_else(
            || rendered.resource.clone(),
            |(parent, _)| format!("{parent}/messages/$entity"),
        );
        body.insert(
            "@odata.context".into(),
            json!(format!("https://graph.microsoft.com/$metadata#{context}")),
        );
    }
    if let Value::Object(data) = &rendered.resource_data {
        for (k, v) in data {
            if k.starts_with("@odata") || k == "id" {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    for (name, value) in fields {
        if name == "id" {
            continue;
        }
        if dates.contains(&name.as_str()) {
            body.insert(format!("{name}@odata.type"), json!("#DateTimeOffset"));
        }
        body.insert(name, value);
    }
    Value::Object(body).to_string()
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::{config::ResourceStyle, notify::shape::render};

    #[test]
    fn outlook_bodies_keep_only_the_selected_properties_in_schema_order() {
        let target = Target::parse("users/u1/messages").unwrap();
        let rendered = render(
            &target,
            "AAMk1",
            uuid::Uuid::nil(),
            ResourceStyle::Normalized,
        );
        let properties = json!({"subject": "Hello"});
        let body = resource_body(
            &target,
            &rendered,
            "users/u1/messages?$select=Subject,receivedDateTime",
            properties.as_object(),
            DateTime::<Utc>::UNIX_EPOCH,
        );
        assert_eq!(
            body,
            r##"{"receivedDateTime@odata.type":"#DateTimeOffset","receivedDateTime":"1970-01-01T00:00:00Z","subject":"Hello"}"##
        );
    }
}
