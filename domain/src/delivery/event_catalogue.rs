//! The one catalogue of event types a tenant can receive, with what each one's `data` carries.
//! Endpoint filters are checked against it ([`crate::delivery::events`]), the OpenAPI document's
//! `webhooks` section is generated from it, and tests hold the README and the portal to it.

/// A field of an event's `data`.
pub type Field = (&'static str, &'static str);

/// One event type.
#[derive(Clone, Debug)]
pub struct EventType {
    pub name: String,
    pub summary: String,
    pub fields: Vec<Field>,
}

/// The event types Graphhook emits of its own accord: every type but Graph's resource changes
/// (`graph.<kind>.<change>` over [`KINDS`]). Emitters name a type through this enum, so none
/// can emit one that the catalogue, and so the OpenAPI document, does not describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    SubscriptionReauthorizationRequired,
    SubscriptionRemoved,
    SubscriptionMissed,
    SubscriptionRecreated,
    SubscriptionRenewalFailed,
    SubscriptionPaused,
    SubscriptionResumed,
    TenantConsentRevoked,
    TenantConsentRestored,
    ConnectionReauthorizationRequired,
    ConnectionRestored,
    EndpointCreated,
    EndpointUpdated,
    EndpointDeleted,
    EndpointDisabled,
    EndpointCircuitOpened,
    EndpointCircuitClosed,
    MessageAttemptFailing,
    MessageAttemptExhausted,
    MessageAttemptRecovered,
}

impl Event {
    pub const ALL: [Self; 20] = [
        Self::SubscriptionReauthorizationRequired,
        Self::SubscriptionRemoved,
        Self::SubscriptionMissed,
        Self::SubscriptionRecreated,
        Self::SubscriptionRenewalFailed,
        Self::SubscriptionPaused,
        Self::SubscriptionResumed,
        Self::TenantConsentRevoked,
        Self::TenantConsentRestored,
        Self::ConnectionReauthorizationRequired,
        Self::ConnectionRestored,
        Self::EndpointCreated,
        Self::EndpointUpdated,
        Self::EndpointDeleted,
        Self::EndpointDisabled,
        Self::EndpointCircuitOpened,
        Self::EndpointCircuitClosed,
        Self::MessageAttemptFailing,
        Self::MessageAttemptExhausted,
        Self::MessageAttemptRecovered,
    ];

    /// The type's name, as endpoints receive it in `type` and filter on it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SubscriptionReauthorizationRequired => {
                "graph.subscription.reauthorization_required"
            }
            Self::SubscriptionRemoved => "graph.subscription.removed",
            Self::SubscriptionMissed => "graph.subscription.missed",
            Self::SubscriptionRecreated => "graph.subscription.recreated",
            Self::SubscriptionRenewalFailed => "graph.subscription.renewal_failed",
            Self::SubscriptionPaused => "graph.subscription.paused",
            Self::SubscriptionResumed => "graph.subscription.resumed",
            Self::TenantConsentRevoked => "tenant.consent_revoked",
            Self::TenantConsentRestored => "tenant.consent_restored",
            Self::ConnectionReauthorizationRequired => "connection.reauthorization_required",
            Self::ConnectionRestored => "connection.restored",
            Self::EndpointCreated => "endpoint.created",
            Self::EndpointUpdated => "endpoint.updated",
            Self::EndpointDeleted => "endpoint.deleted",
            Self::EndpointDisabled => "endpoint.disabled",
            Self::EndpointCircuitOpened => "endpoint.circuit_opened",
            Self::EndpointCircuitClosed => "endpoint.circuit_closed",
            Self::MessageAttemptFailing => "message.attempt.failing",
            Self::MessageAttemptExhausted => "message.attempt.exhausted",
            Self::MessageAttemptRecovered => "message.attempt.recovered",
        }
    }
}

/// The resource kinds whose changes become `graph.<kind>.<change>` events, with what changes.
pub const KINDS: &[(&str, &str)] = &[
    ("message", "an Outlook message"),
    ("event", "an Outlook calendar event"),
    ("contact", "an Outlook contact"),
    (
        "user",
        "a user (creation is reported as updated, as Graph does)",
    ),
    (
        "group",
        "a group (creation and soft deletion are reported as updated)",
    ),
    (
        "conversation",
        "a Microsoft 365 group's conversation (through a connection)",
    ),
    (
        "drive_item",
        "an item of a OneDrive or SharePoint drive (updated only)",
    ),
];

const CHANGE: &[Field] = &[
    ("subscriptionId", "the Graphhook subscription (`sub_…`)"),
    ("id", "Graph's notification id, when Graph sent one"),
    ("resource", "Graph's resource path, as Graph wrote it"),
    (
        "resourceIds",
        "the ids the path names (`userId`, `messageId`, `groupId`, `conversationId`, `driveId`, `itemId`, …)",
    ),
    ("changeType", "`created`, `updated` or `deleted`"),
    (
        "resourceData",
        "Graph's `resourceData`, in Graph's key order",
    ),
    ("tenantId", "the Entra tenant Graph notified under"),
    (
        "subscriptionExpirationDateTime",
        "the subscription's expiry as Graph wrote it",
    ),
    ("subscriptionExpiresAt", "the same instant, RFC 3339 UTC"),
    (
        "connectionId",
        "the connection (`conn_…`), for subscriptions through one",
    ),
    (
        "content",
        "rich notifications only: the decrypted resource, as Graph wrote it",
    ),
];

const SUBSCRIPTION: &[Field] = &[
    ("subscriptionId", "the Graphhook subscription (`sub_…`)"),
    ("resource", "its resource"),
    ("kind", "its resource kind (not on lifecycle events)"),
    (
        "connectionId",
        "the connection (`conn_…`), for subscriptions through one",
    ),
];

const LIFECYCLE: &[Field] = &[
    ("subscriptionId", "the Graphhook subscription (`sub_…`)"),
    ("resource", "its resource"),
    ("lifecycleEvent", "Graph's lifecycle event name"),
    ("tenantId", "the Entra tenant"),
    (
        "subscriptionExpirationDateTime",
        "the expiry as Graph wrote it",
    ),
    ("subscriptionExpiresAt", "the same instant, RFC 3339 UTC"),
];

const ENDPOINT: &[Field] = &[("endpointId", "the endpoint (`ep_…`)"), ("url", "its URL")];

const ATTEMPT: &[Field] = &[
    ("endpointId", "the endpoint (`ep_…`)"),
    ("messageId", "the message (`msg_…`, its `webhook-id`)"),
    ("eventType", "the message's event type"),
    ("deliveryId", "the delivery (`dlv_…`)"),
    ("attempts", "attempts so far"),
    (
        "lastAttempt",
        "`timestamp`, `statusCode`, `error` of the last attempt",
    ),
];

const CONNECTION: &[Field] = &[
    ("connectionId", "the connection (`conn_…`)"),
    ("account", "`work` or `personal`"),
    ("username", "the connected user"),
];

fn with(base: &[Field], extra: &[Field]) -> Vec<Field> {
    base.iter().chain(extra).copied().collect()
}

fn event(name: &str, summary: &str, fields: Vec<Field>) -> EventType {
    EventType {
        name: name.to_owned(),
        summary: summary.to_owned(),
        fields,
    }
}

/// Every event type, in the catalogue's order: Graph's changes, the subscriptions' lives, the
/// tenant's consent and its connections, then Graphhook's own operational events.
pub fn all() -> Vec<EventType> {
    let mut types: Vec<EventType> = KINDS
        .iter()
        .flat_map(|(kind, what)| {
            ["created", "updated", "deleted"].map(|change| {
                event(
                    &format!("graph.{kind}.{change}"),
                    &format!("Graph notified a change ({change}) of {what}."),
                    CHANGE.to_vec(),
                )
            })
        })
        .collect();
    types.extend(subscription_events());
    types.extend(consent_events());
    types.extend(operational_events());
    types
}

/// A Graph subscription's life: Graph's lifecycle events and what Graphhook did about them.
fn subscription_events() -> Vec<EventType> {
    vec![
        event(
            Event::SubscriptionReauthorizationRequired.name(),
            "Graph asked for reauthorization; Graphhook reauthorizes the subscription.",
            LIFECYCLE.to_vec(),
        ),
        event(
            Event::SubscriptionRemoved.name(),
            "Graph removed the subscription; Graphhook creates it again (`graph.subscription.recreated` follows).",
            LIFECYCLE.to_vec(),
        ),
        event(
            Event::SubscriptionMissed.name(),
            "Graph could not deliver some notifications: resynchronize the resource.",
            LIFECYCLE.to_vec(),
        ),
        event(
            Event::SubscriptionRecreated.name(),
            "The subscription was created again at Graph (new Graph id, same Graphhook id).",
            with(
                SUBSCRIPTION,
                &[
                    ("reason", "`removed` or `not_found`"),
                    ("expirationDateTime", "the new expiry"),
                    ("resyncRecommended", "`true`: changes may have been missed"),
                ],
            ),
        ),
        event(
            Event::SubscriptionRenewalFailed.name(),
            "A renewal failed; the subscription may expire (or was refused: `status` failed).",
            with(
                SUBSCRIPTION,
                &[
                    ("status", "`active` or `failed`"),
                    ("error", "what Graph answered"),
                    ("expirationDateTime", "when it expires"),
                ],
            ),
        ),
        event(
            Event::SubscriptionPaused.name(),
            "The subscription is paused: consent is gone, or its connection's user must connect again.",
            with(
                SUBSCRIPTION,
                &[
                    ("status", "`paused`"),
                    (
                        "reason",
                        "`consent_revoked` or `connection_reauthorization_required`",
                    ),
                ],
            ),
        ),
        event(
            Event::SubscriptionResumed.name(),
            "The subscription is active again after a pause.",
            with(
                SUBSCRIPTION,
                &[("status", "`active`"), ("expirationDateTime", "its expiry")],
            ),
        ),
    ]
}

/// The organization's consent and its connected users.
fn consent_events() -> Vec<EventType> {
    vec![
        event(
            Event::TenantConsentRevoked.name(),
            "The organization's consent is gone; every subscription is paused.",
            vec![
                ("reason", "what Entra answered"),
                ("pausedSubscriptions", "how many were paused"),
            ],
        ),
        event(
            Event::TenantConsentRestored.name(),
            "Consent is back; paused subscriptions resume.",
            vec![("resumingSubscriptions", "how many resume")],
        ),
        event(
            Event::ConnectionReauthorizationRequired.name(),
            "A connected user's token can no longer be refreshed; their subscriptions are paused until they connect again.",
            with(
                CONNECTION,
                &[
                    (
                        "reason",
                        "what Entra answered (e.g. invalid_grant, interaction_required)",
                    ),
                    ("pausedSubscriptions", "how many were paused"),
                    ("reconnect", "the call that makes a new sign-in link"),
                ],
            ),
        ),
        event(
            Event::ConnectionRestored.name(),
            "The user connected again; their paused subscriptions resume.",
            with(CONNECTION, &[("resumingSubscriptions", "how many resume")]),
        ),
    ]
}

/// What Graphhook records about endpoints and deliveries.
fn operational_events() -> Vec<EventType> {
    vec![
        event(
            Event::EndpointCreated.name(),
            "An endpoint was registered.",
            ENDPOINT.to_vec(),
        ),
        event(
            Event::EndpointUpdated.name(),
            "An endpoint changed (or its secret was rotated: `secretRotated`, `graceSecs`).",
            ENDPOINT.to_vec(),
        ),
        event(
            Event::EndpointDeleted.name(),
            "An endpoint was deleted.",
            ENDPOINT.to_vec(),
        ),
        event(
            Event::EndpointDisabled.name(),
            "An endpoint was disabled (`reason`: by_tenant, failing, gone).",
            with(ENDPOINT, &[("reason", "why")]),
        ),
        event(
            Event::EndpointCircuitOpened.name(),
            "Deliveries to an endpoint pause after repeated failures.",
            vec![
                ("endpointId", "the endpoint (`ep_…`)"),
                ("state", "`open`"),
                ("until", "when it is probed again"),
                ("attempts", "attempts in the window"),
                ("failed", "failed attempts in the window"),
            ],
        ),
        event(
            Event::EndpointCircuitClosed.name(),
            "Deliveries to an endpoint flow again.",
            vec![
                ("endpointId", "the endpoint (`ep_…`)"),
                ("state", "`closed`"),
            ],
        ),
        event(
            Event::MessageAttemptFailing.name(),
            "A delivery keeps failing (it is retried).",
            ATTEMPT.to_vec(),
        ),
        event(
            Event::MessageAttemptExhausted.name(),
            "A delivery was given up after its last retry.",
            ATTEMPT.to_vec(),
        ),
        event(
            Event::MessageAttemptRecovered.name(),
            "A delivery succeeded after failing.",
            ATTEMPT.to_vec(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_named_once_and_describes_its_data() {
        let types = all();
        let mut names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), types.len());
        assert!(
            types
                .iter()
                .all(|t| !t.fields.is_empty() && !t.summary.is_empty())
        );
    }

    #[test]
    fn every_event_graphhook_emits_is_in_the_catalogue_and_nothing_else_is() {
        let names: Vec<String> = all().into_iter().map(|t| t.name).collect();
        for event in Event::ALL {
            assert_eq!(
                names.iter().filter(|n| *n == event.name()).count(),
                1,
                "{event:?}"
            );
        }
        let resource_changes = names
            .iter()
            .filter(|n| Event::ALL.iter().all(|e| e.name() != n.as_str()))
            .count();
        assert_eq!(resource_changes, KINDS.len() * 3, "{names:?}");
    }
}
