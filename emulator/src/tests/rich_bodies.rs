//! The decrypted content of rich Outlook notifications (§5.3 step 4), compared byte for byte
//! (so key by key, in order) with samples written from the spec: Microsoft's published
//! decrypted message (outlook-change-notifications-overview) for a message, and the same rules
//! for an event and a contact. Only the selected properties, in the schema's order, each
//! annotated where JSON cannot type it, complex values with their own `@odata.type`, and no
//! `id` or `@odata.*` of the item itself.

use serde_json::{Value, json};

use super::{
    harness::*,
    inbox::*,
    rich::{certificate, decrypt_text},
};
use crate::config::DEFAULT_TENANT_ID;

/// Subscribes `resource` with resource data, makes `properties` change on it, and returns the
/// decrypted plaintext of the one notification.
async fn decrypted(resource: &str, select: &str, properties: Value) -> String {
    let (emu, inbox, _) = subscribed(|emu, url| {
        json!({"changeType": "created", "resource": format!("{resource}?$select={select}"),
               "notificationUrl": url, "expirationDateTime": emu.expires_in(600),
               "clientState": "secret-client-state", "includeResourceData": true,
               "encryptionCertificate": certificate(), "encryptionCertificateId": "graphhook-2026"})
    })
    .await;
    emu.change(json!({"tenant": DEFAULT_TENANT_ID, "resource": resource,
                      "changeType": "created", "properties": properties}))
        .await;
    let body = inbox.wait_for_posts(1).await[0].body.clone();
    decrypt_text(&body["value"][0]["encryptedContent"])
}

fn minified(sample: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in sample.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Microsoft's decrypted message sample, for
/// `$select=Subject,bodyPreview,importance,receivedDateTime,from`.
const MESSAGE: &str = r##"{
    "receivedDateTime@odata.type":"#DateTimeOffset",
    "receivedDateTime":"2021-12-30T10:53:35Z",
    "subject":"TEST MESSAGE FOR RICH NOTIFICATIONS",
    "bodyPreview":"Hello,\r\n\r\nWhat\u2019s up?\r\n\r\nThanks\r\nMegan",
    "importance@odata.type":"#microsoft.graph.importance",
    "importance":"normal",
    "from": {
        "@odata.type":"#microsoft.graph.recipient",
        "emailAddress": {
            "@odata.type":"#microsoft.graph.emailAddress",
            "name":"Megan Brown",
            "address":"Megan.Brown@microsoft.com"
        }
    }
}"##;

#[actix_web::test]
async fn a_message_decrypts_to_microsofts_sample_byte_for_byte() {
    let text = decrypted(
        &format!("users/{USER}/messages"),
        "Subject,bodyPreview,importance,receivedDateTime,from",
        json!({"subject": "TEST MESSAGE FOR RICH NOTIFICATIONS",
               "receivedDateTime": "2021-12-30T10:53:35Z",
               "bodyPreview": "Hello,\r\n\r\nWhat\u{2019}s up?\r\n\r\nThanks\r\nMegan",
               "importance": "normal",
               "from": {"emailAddress": {"name": "Megan Brown", "address": "Megan.Brown@microsoft.com"}}}),
    )
    .await;
    assert_eq!(text, minified(MESSAGE));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        parsed["bodyPreview"],
        "Hello,\r\n\r\nWhat\u{2019}s up?\r\n\r\nThanks\r\nMegan"
    );
}

/// An event with `$select=organizer,start,end,subject,importance,isAllDay`: schema order
/// (subject, importance, isAllDay, start, end, organizer), the enum annotated, the complex
/// values typed.
const EVENT: &str = r##"{
    "subject":"Planning",
    "importance@odata.type":"#microsoft.graph.importance",
    "importance":"high",
    "isAllDay":false,
    "start":{"@odata.type":"#microsoft.graph.dateTimeTimeZone","dateTime":"2026-03-03T09:00:00.0000000","timeZone":"UTC"},
    "end":{"@odata.type":"#microsoft.graph.dateTimeTimeZone","dateTime":"2026-03-03T10:00:00.0000000","timeZone":"UTC"},
    "organizer":{"@odata.type":"#microsoft.graph.recipient",
        "emailAddress":{"@odata.type":"#microsoft.graph.emailAddress","name":"Adele Vance","address":"adelev@contoso.onmicrosoft.com"}}
}"##;

#[actix_web::test]
async fn an_event_carries_its_selected_properties_annotated_in_schema_order() {
    let text = decrypted(
        &format!("users/{USER}/events"),
        "organizer,start,end,subject,importance,isAllDay",
        json!({"subject": "Planning", "importance": "high", "isAllDay": false,
               "start": {"timeZone": "UTC", "dateTime": "2026-03-03T09:00:00.0000000"},
               "end": {"timeZone": "UTC", "dateTime": "2026-03-03T10:00:00.0000000"}}),
    )
    .await;
    assert_eq!(text, minified(EVENT));
}

/// A contact with `$select=emailAddresses,displayName,businessPhones,createdDateTime`:
/// collections are annotated with their element type, complex elements typed one by one.
const CONTACT: &str = r##"{
    "createdDateTime@odata.type":"#DateTimeOffset",
    "createdDateTime":"2026-03-02T10:00:00Z",
    "displayName":"Alex Wilber",
    "businessPhones@odata.type":"#Collection(String)",
    "businessPhones":["+1 425 555 0109"],
    "emailAddresses@odata.type":"#Collection(microsoft.graph.emailAddress)",
    "emailAddresses":[{"@odata.type":"#microsoft.graph.emailAddress","name":"Alex Wilber","address":"alexw@contoso.onmicrosoft.com"}]
}"##;

#[actix_web::test]
async fn a_contact_annotates_its_collections() {
    let text = decrypted(
        &format!("users/{USER}/contacts"),
        "emailAddresses,displayName,businessPhones,createdDateTime",
        json!({"businessPhones": ["+1 425 555 0109"]}),
    )
    .await;
    assert_eq!(text, minified(CONTACT));
}
