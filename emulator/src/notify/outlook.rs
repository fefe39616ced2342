//! The decrypted body of a rich Outlook notification (§5.3 step 4), written byte for byte as
//! Exchange writes it, because tenants receive those bytes. Microsoft's published sample
//! (outlook-change-notifications-overview, "decrypted notification payload", for a
//! subscription with `$select=Subject,bodyPreview,importance,receivedDateTime,from`) is:
//!
//! ```text
//! {"receivedDateTime@odata.type":"#DateTimeOffset","receivedDateTime":"2021-12-30T10:53:35Z",
//!  "subject":"…","bodyPreview":"…","importance@odata.type":"#microsoft.graph.importance",
//!  "importance":"normal","from":{"@odata.type":"#microsoft.graph.recipient",
//!  "emailAddress":{"@odata.type":"#microsoft.graph.emailAddress","name":"…","address":"…"}}}
//! ```
//!
//! What follows from it, and what this module does:
//! - only the selected properties, with no `@odata.type`, `@odata.id`, `@odata.etag` or `id`
//!   of the item itself (`id` only when `$select` names it); names in the schema's casing
//!   (`Subject` selects `subject`);
//! - properties in the order of the resource's schema (Graph's JSON representation of message,
//!   event and contact), not the order of `$select`;
//! - a `name@odata.type` annotation just before every value JSON cannot type by itself:
//!   `#DateTimeOffset`, enums as `#microsoft.graph.{enum}` (lower-case namespace); complex
//!   values carry their own `@odata.type` first, then their members in schema order.
//!   Inferred from the OData JSON rules rather than seen in a sample: collections are annotated
//!   `#Collection(String)` / `#Collection(microsoft.graph.{type})`, and strings, booleans and
//!   integers get no annotation;
//! - non-ASCII characters escaped (`What\u2019s up?`, as the sample shows them).

use serde_json::Value;

/// The OData type of a property.
#[derive(Clone, Copy)]
pub enum Ty {
    /// String, Boolean, Int32: JSON types them, no annotation.
    Plain,
    DateTimeOffset,
    Enum(&'static str),
    Complex(&'static Complex),
    /// A collection of strings.
    Strings,
    Many(&'static Complex),
}

/// A complex type: its name (in `microsoft.graph`) and members in schema order.
pub struct Complex {
    pub name: &'static str,
    pub members: &'static [(&'static str, Ty)],
}

const EMAIL_ADDRESS: Complex = Complex {
    name: "emailAddress",
    members: &[("name", Ty::Plain), ("address", Ty::Plain)],
};
const RECIPIENT: Complex = Complex {
    name: "recipient",
    members: &[("emailAddress", Ty::Complex(&EMAIL_ADDRESS))],
};
const ITEM_BODY: Complex = Complex {
    name: "itemBody",
    members: &[
        ("contentType", Ty::Enum("bodyType")),
        ("content", Ty::Plain),
    ],
};
const DATE_TIME_TIME_ZONE: Complex = Complex {
    name: "dateTimeTimeZone",
    members: &[("dateTime", Ty::Plain), ("timeZone", Ty::Plain)],
};
const LOCATION: Complex = Complex {
    name: "location",
    members: &[
        ("displayName", Ty::Plain),
        ("locationType", Ty::Enum("locationType")),
        ("uniqueId", Ty::Plain),
        ("uniqueIdType", Ty::Enum("locationUniqueIdType")),
    ],
};
const RESPONSE_STATUS: Complex = Complex {
    name: "responseStatus",
    members: &[
        ("response", Ty::Enum("responseType")),
        ("time", Ty::DateTimeOffset),
    ],
};
const ATTENDEE: Complex = Complex {
    name: "attendee",
    members: &[
        ("type", Ty::Enum("attendeeType")),
        ("status", Ty::Complex(&RESPONSE_STATUS)),
        ("emailAddress", Ty::Complex(&EMAIL_ADDRESS)),
    ],
};
const PHYSICAL_ADDRESS: Complex = Complex {
    name: "physicalAddress",
    members: &[
        ("street", Ty::Plain),
        ("city", Ty::Plain),
        ("state", Ty::Plain),
        ("countryOrRegion", Ty::Plain),
        ("postalCode", Ty::Plain),
    ],
};

/// Graph's message, in the order of its JSON representation.
pub const MESSAGE: &[(&str, Ty)] = &[
    ("id", Ty::Plain),
    ("createdDateTime", Ty::DateTimeOffset),
    ("lastModifiedDateTime", Ty::DateTimeOffset),
    ("changeKey", Ty::Plain),
    ("categories", Ty::Strings),
    ("receivedDateTime", Ty::DateTimeOffset),
    ("sentDateTime", Ty::DateTimeOffset),
    ("hasAttachments", Ty::Plain),
    ("internetMessageId", Ty::Plain),
    ("subject", Ty::Plain),
    ("bodyPreview", Ty::Plain),
    ("importance", Ty::Enum("importance")),
    ("parentFolderId", Ty::Plain),
    ("conversationId", Ty::Plain),
    ("isDeliveryReceiptRequested", Ty::Plain),
    ("isReadReceiptRequested", Ty::Plain),
    ("isRead", Ty::Plain),
    ("isDraft", Ty::Plain),
    ("webLink", Ty::Plain),
    (
        "inferenceClassification",
        Ty::Enum("inferenceClassificationType"),
    ),
    ("body", Ty::Complex(&ITEM_BODY)),
    ("sender", Ty::Complex(&RECIPIENT)),
    ("from", Ty::Complex(&RECIPIENT)),
    ("toRecipients", Ty::Many(&RECIPIENT)),
    ("ccRecipients", Ty::Many(&RECIPIENT)),
    ("bccRecipients", Ty::Many(&RECIPIENT)),
    ("replyTo", Ty::Many(&RECIPIENT)),
];

/// Graph's event, in the order of its JSON representation.
pub const EVENT: &[(&str, Ty)] = &[
    ("id", Ty::Plain),
    ("createdDateTime", Ty::DateTimeOffset),
    ("lastModifiedDateTime", Ty::DateTimeOffset),
    ("changeKey", Ty::Plain),
    ("categories", Ty::Strings),
    ("transactionId", Ty::Plain),
    ("originalStartTimeZone", Ty::Plain),
    ("originalEndTimeZone", Ty::Plain),
    ("iCalUId", Ty::Plain),
    ("reminderMinutesBeforeStart", Ty::Plain),
    ("isReminderOn", Ty::Plain),
    ("hasAttachments", Ty::Plain),
    ("subject", Ty::Plain),
    ("bodyPreview", Ty::Plain),
    ("importance", Ty::Enum("importance")),
    ("sensitivity", Ty::Enum("sensitivity")),
    ("isAllDay", Ty::Plain),
    ("isCancelled", Ty::Plain),
    ("isOrganizer", Ty::Plain),
    ("responseRequested", Ty::Plain),
    ("seriesMasterId", Ty::Plain),
    ("showAs", Ty::Enum("freeBusyStatus")),
    ("type", Ty::Enum("eventType")),
    ("webLink", Ty::Plain),
    ("onlineMeetingUrl", Ty::Plain),
    ("isOnlineMeeting", Ty::Plain),
    (
        "onlineMeetingProvider",
        Ty::Enum("onlineMeetingProviderType"),
    ),
    ("allowNewTimeProposals", Ty::Plain),
    ("isDraft", Ty::Plain),
    ("hideAttendees", Ty::Plain),
    ("responseStatus", Ty::Complex(&RESPONSE_STATUS)),
    ("body", Ty::Complex(&ITEM_BODY)),
    ("start", Ty::Complex(&DATE_TIME_TIME_ZONE)),
    ("end", Ty::Complex(&DATE_TIME_TIME_ZONE)),
    ("location", Ty::Complex(&LOCATION)),
    ("locations", Ty::Many(&LOCATION)),
    ("attendees", Ty::Many(&ATTENDEE)),
    ("organizer", Ty::Complex(&RECIPIENT)),
];

/// Graph's contact, in the order of its JSON representation.
pub const CONTACT: &[(&str, Ty)] = &[
    ("id", Ty::Plain),
    ("createdDateTime", Ty::DateTimeOffset),
    ("lastModifiedDateTime", Ty::DateTimeOffset),
    ("changeKey", Ty::Plain),
    ("categories", Ty::Strings),
    ("parentFolderId", Ty::Plain),
    ("birthday", Ty::DateTimeOffset),
    ("fileAs", Ty::Plain),
    ("displayName", Ty::Plain),
    ("givenName", Ty::Plain),
    ("initials", Ty::Plain),
    ("middleName", Ty::Plain),
    ("nickName", Ty::Plain),
    ("surname", Ty::Plain),
    ("title", Ty::Plain),
    ("yomiGivenName", Ty::Plain),
    ("yomiSurname", Ty::Plain),
    ("yomiCompanyName", Ty::Plain),
    ("generation", Ty::Plain),
    ("imAddresses", Ty::Strings),
    ("jobTitle", Ty::Plain),
    ("companyName", Ty::Plain),
    ("department", Ty::Plain),
    ("officeLocation", Ty::Plain),
    ("profession", Ty::Plain),
    ("businessHomePage", Ty::Plain),
    ("assistantName", Ty::Plain),
    ("manager", Ty::Plain),
    ("homePhones", Ty::Strings),
    ("mobilePhone", Ty::Plain),
    ("businessPhones", Ty::Strings),
    ("spouseName", Ty::Plain),
    ("personalNotes", Ty::Plain),
    ("children", Ty::Strings),
    ("emailAddresses", Ty::Many(&EMAIL_ADDRESS)),
    ("homeAddress", Ty::Complex(&PHYSICAL_ADDRESS)),
    ("businessAddress", Ty::Complex(&PHYSICAL_ADDRESS)),
    ("otherAddress", Ty::Complex(&PHYSICAL_ADDRESS)),
];

/// JSON text with every non-ASCII character escaped (`\u2019`), as the sample shows it.
fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    if text.is_ascii() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        }
    }
    out
}

fn push_key(out: &mut String, first: &mut bool, key: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(&ascii_json(&Value::String(key.to_owned())));
    out.push(':');
}

fn annotation(ty: Ty) -> Option<String> {
    match ty {
        Ty::Plain | Ty::Complex(_) => None,
        Ty::DateTimeOffset => Some("#DateTimeOffset".to_owned()),
        Ty::Enum(name) => Some(format!("#microsoft.graph.{name}")),
        Ty::Strings => Some("#Collection(String)".to_owned()),
        Ty::Many(c) => Some(format!("#Collection(microsoft.graph.{})", c.name)),
    }
}

/// Writes `name` (with its annotation first) and its value, typed.
fn write_member(out: &mut String, first: &mut bool, name: &str, ty: Ty, value: &Value) {
    if !value.is_null()
        && let Some(annotation) = annotation(ty)
    {
        push_key(out, first, &format!("{name}@odata.type"));
        out.push_str(&ascii_json(&Value::String(annotation)));
    }
    push_key(out, first, name);
    write_value(out, ty, value);
}

fn write_value(out: &mut String, ty: Ty, value: &Value) {
    match (ty, value) {
        (Ty::Complex(complex), Value::Object(map)) => write_complex(out, complex, map),
        (Ty::Many(complex), Value::Array(items)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, Ty::Complex(complex), item);
            }
            out.push(']');
        }
        _ => out.push_str(&ascii_json(value)),
    }
}

fn write_complex(out: &mut String, complex: &Complex, map: &serde_json::Map<String, Value>) {
    out.push('{');
    let mut first = true;
    push_key(out, &mut first, "@odata.type");
    out.push_str(&ascii_json(&Value::String(format!(
        "#microsoft.graph.{}",
        complex.name
    ))));
    for (name, ty) in complex.members {
        if let Some(value) = map.get(*name) {
            write_member(out, &mut first, name, *ty, value);
        }
    }
    for (name, value) in map {
        if !name.starts_with('@') && !complex.members.iter().any(|(m, _)| m == name) {
            write_member(out, &mut first, name, Ty::Plain, value);
        }
    }
    out.push('}');
}

/// The JSON text of an Outlook item: of `fields`, those `select` names (all without a
/// `$select`; compared case-insensitively), in `schema` order, annotated; fields the schema
/// does not know follow in name order, unannotated.
pub fn write(
    schema: &[(&str, Ty)],
    fields: &serde_json::Map<String, Value>,
    select: Option<&[String]>,
) -> String {
    let wanted = |name: &str| select.is_none_or(|s| s.iter().any(|w| w.eq_ignore_ascii_case(name)));
    let lookup = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let mut out = String::from("{");
    let mut first = true;
    for (name, ty) in schema {
        if wanted(name)
            && let Some(value) = lookup(name)
        {
            write_member(&mut out, &mut first, name, *ty, value);
        }
    }
    for (name, value) in fields {
        let known = schema.iter().any(|(s, _)| s.eq_ignore_ascii_case(name));
        if !known && !name.starts_with('@') && wanted(name) {
            write_member(&mut out, &mut first, name, Ty::Plain, value);
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod unit {
    use serde_json::json;

    use super::*;

    #[test]
    fn microsofts_sample_is_written_byte_for_byte() {
        let fields = json!({
            "subject": "TEST MESSAGE FOR RICH NOTIFICATIONS",
            "receivedDateTime": "2021-12-30T10:53:35Z",
            "importance": "normal", "isRead": false,
            "bodyPreview": "Hello,\r\n\r\nWhat\u{2019}s up?\r\n\r\nThanks\r\nMegan",
            "from": {"emailAddress": {"address": "Megan.Brown@microsoft.com", "name": "Megan Brown"}},
        });
        let select: Vec<String> = [
            "Subject",
            "bodyPreview",
            "importance",
            "receivedDateTime",
            "from",
        ]
        .map(String::from)
        .to_vec();
        let text = write(MESSAGE, fields.as_object().unwrap(), Some(&select));
        assert_eq!(
            text,
            concat!(
                r##"{"receivedDateTime@odata.type":"#DateTimeOffset","receivedDateTime":"2021-12-30T10:53:35Z","##,
                r##""subject":"TEST MESSAGE FOR RICH NOTIFICATIONS","bodyPreview":"Hello,\r\n\r\nWhat\u2019s up?\r\n\r\nThanks\r\nMegan","##,
                r##""importance@odata.type":"#microsoft.graph.importance","importance":"normal","##,
                r##""from":{"@odata.type":"#microsoft.graph.recipient","emailAddress":{"@odata.type":"#microsoft.graph.emailAddress","name":"Megan Brown","address":"Megan.Brown@microsoft.com"}}}"##
            )
        );
    }
}
