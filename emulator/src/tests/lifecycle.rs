//! Lifecycle notifications (§4): each event reaches the lifecycle URL and never the
//! notification URL; an unanswered reauthorization challenge pauses deliveries until
//! `/reauthorize` or a PATCH, and drops them after 4 h; revoking consent challenges.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};

use super::{fixtures, harness::*, inbox::*};
use crate::config::DEFAULT_TENANT_ID;

struct Setup {
    emu: Emu,
    token: String,
    notifications: Inbox,
    lifecycle: Inbox,
    subscription: Value,
}

impl Setup {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(customize: impl FnOnce(&mut crate::EmulatorConfig)) -> Self {
        let emu = Emu::spawn_with(customize).await;
        let token = emu.token().await;
        let (notifications, lifecycle) = (inbox(), inbox());
        let subscription = emu
            .subscribe(
                &token,
                json!({"changeType": "created", "resource": format!("users/{USER}/messages"),
                       "notificationUrl": notifications.url,
                       "lifecycleNotificationUrl": lifecycle.url,
                       "expirationDateTime": emu.expires_in(4_000),
                       "clientState": "secret-client-state"}),
            )
            .await;
        Self {
            emu,
            token,
            notifications,
            lifecycle,
            subscription,
        }
    }

    fn id(&self) -> &str {
        self.subscription["id"].as_str().unwrap()
    }

    async fn event(&self, event: &str) -> Vec<Value> {
        let response = self
            .emu
            .control(
                Method::POST,
                &format!("/subscriptions/{}/lifecycle", self.id()),
                Some(json!({"event": event})),
            )
            .await;
        assert_eq!(response.status().as_u16(), 202);
        let body: Value = response.json().await.unwrap();
        body["queued"].as_array().unwrap().clone()
    }

    async fn change(&self) -> Vec<Value> {
        self.emu
            .change(change_of(
                DEFAULT_TENANT_ID,
                &format!("users/{USER}/messages"),
                "created",
            ))
            .await
    }

    /// The emulator's view of the subscription (`state` in the control API).
    async fn state(&self) -> Value {
        let all: Value = self
            .emu
            .control(Method::GET, "/subscriptions", None)
            .await
            .json()
            .await
            .unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["state"]["id"] == self.subscription["id"])
            .map(|s| s["state"].clone())
            .unwrap_or(Value::Null)
    }
}

#[actix_web::test]
async fn each_lifecycle_event_arrives_at_the_lifecycle_url_and_not_at_the_notification_url() {
    let setup = Setup::new().await;
    let sample: Value = serde_json::from_str(fixtures::LIFECYCLE_NOTIFICATION).unwrap();
    let events = ["reauthorizationRequired", "missed", "subscriptionRemoved"];
    for (n, event) in events.into_iter().enumerate() {
        assert_eq!(setup.event(event).await.len(), 1);
        let posts = setup.lifecycle.wait_for_posts(n + 1).await;
        let item = &posts[n].body["value"][0];
        // §4: the same fields as Microsoft's sample; no resource, resourceData or changeType.
        assert_eq!(
            fixtures::shape(item),
            fixtures::shape(&sample["value"][0]),
            "{item}"
        );
        assert_eq!(item["lifecycleEvent"], event);
        assert_eq!(item["subscriptionId"], setup.subscription["id"]);
        assert_eq!(item["clientState"], "secret-client-state");
        assert_eq!(item["tenantId"], DEFAULT_TENANT_ID);
    }
    let deliveries = setup
        .emu
        .wait_for_deliveries("three lifecycle attempts", |d| count(d, "attempts") == 3)
        .await;
    assert!(
        deliveries["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["url"] == setup.lifecycle.url.as_str() && a["delivered"] == true),
        "{deliveries:#}"
    );
    assert_eq!(count(&deliveries, "pending"), 0);
    assert!(setup.notifications.received().is_empty());

    // subscriptionRemoved: Graph deleted the subscription; changes no longer reach anyone.
    let got = setup
        .emu
        .graph(
            Method::GET,
            &format!("/subscriptions/{}", setup.id()),
            &setup.token,
            None,
        )
        .await;
    assert_eq!(got.status().as_u16(), 404);
    assert!(setup.change().await.is_empty());
}

#[actix_web::test]
async fn without_a_lifecycle_url_no_lifecycle_notification_is_sent() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let notifications = inbox();
    let users = emu.subscription("updated", &notifications.url, "users", 60);
    let id = emu.subscribe(&token, users).await["id"].clone();
    assert_eq!(
        emu.control_status(
            Method::POST,
            &format!("/subscriptions/{}/lifecycle", id.as_str().unwrap()),
            Some(json!({"event": "missed"}))
        )
        .await,
        202
    );
    let deliveries = emu.deliveries().await;
    assert_eq!(deliveries["dropped"][0]["reason"], "noLifecycleUrl");
    assert_eq!(deliveries["dropped"][0]["item"]["lifecycleEvent"], "missed");
    assert_eq!(count(&deliveries, "pending"), 0);
    assert_eq!(count(&deliveries, "attempts"), 0);
}

#[actix_web::test]
async fn revoking_consent_challenges_and_reauthorizing_releases_the_held_notifications() {
    let setup = Setup::new().await;
    let emu = &setup.emu;
    // Another tenant's subscription: its delivery shows the loop has passed the held one.
    emu.consent(NEW_TENANT, None).await;
    let witness = inbox();
    let users = emu.subscription("updated", &witness.url, "users", 600);
    emu.subscribe(&emu.token_for(NEW_TENANT).await, users).await;

    assert_eq!(
        emu.tenant_call(Method::DELETE, DEFAULT_TENANT_ID, "consent?mode=grants")
            .await,
        200
    );
    let posts = setup.lifecycle.wait_for_posts(1).await;
    assert_eq!(
        posts[0].body["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    let state = setup.state().await;
    assert!(state["reauthorizationRequiredAt"].is_string(), "{state}");

    // Past the grace period, change notifications are held.
    emu.clock.advance(Duration::minutes(11));
    assert_eq!(setup.change().await.len(), 1);
    emu.change(change_of(NEW_TENANT, "users", "updated")).await;
    witness.wait_for_posts(1).await;
    let deliveries = emu.deliveries().await;
    assert_eq!(count(&deliveries, "pending"), 1, "{deliveries:#}");
    assert!(setup.notifications.received().is_empty());

    // Without the permission, /reauthorize is refused; with it again, it releases them.
    assert_eq!(emu.reauthorize(setup.id(), &emu.token().await).await, 403);
    emu.consent(DEFAULT_TENANT_ID, None).await;
    assert_eq!(emu.reauthorize(setup.id(), &emu.token().await).await, 204);
    let posts = setup.notifications.wait_for_posts(1).await;
    assert_eq!(posts[0].body["value"][0]["changeType"], "created");
    let state = setup.state().await;
    assert_eq!(state["reauthorizationRequiredAt"], Value::Null);
    assert_eq!(state["pausedFrom"], Value::Null);
}

#[actix_web::test]
async fn a_renewal_answers_the_challenge_and_a_pause_over_four_hours_drops() {
    let setup = Setup::new().await;
    let emu = &setup.emu;
    setup.event("reauthorizationRequired").await;
    emu.clock.advance(Duration::minutes(10));
    setup.change().await;
    // Held for the whole horizon: dropped, never sent.
    emu.clock.advance(Duration::hours(4));
    let deliveries = emu
        .wait_for_deliveries("the held notification dropped", |d| {
            count(d, "dropped") == 1
        })
        .await;
    assert_eq!(deliveries["dropped"][0]["reason"], "pausedTooLong");
    assert_eq!(deliveries["dropped"][0]["item"]["changeType"], "created");

    // A PATCH renewing the subscription clears the pause as /reauthorize does.
    let renewed = emu
        .graph(
            Method::PATCH,
            &format!("/subscriptions/{}", setup.id()),
            &emu.token().await,
            Some(json!({"expirationDateTime": emu.expires_in(4_000)})),
        )
        .await;
    assert_eq!(renewed.status().as_u16(), 200);
    assert_eq!(setup.state().await["pausedFrom"], Value::Null);
    setup.change().await;
    let posts = setup.notifications.wait_for_posts(1).await;
    assert_eq!(
        posts[0].body["value"][0]["subscriptionId"],
        setup.subscription["id"]
    );
}

#[actix_web::test]
async fn the_timer_challenges_before_the_token_behind_a_subscription_expires() {
    let setup = Setup::with(|c| {
        c.behaviour.reauthorization_lead_secs = 900;
        c.behaviour.token_lifetime_secs = 3_600;
    })
    .await;
    let emu = &setup.emu;
    emu.clock.advance(Duration::minutes(46));
    let posts = setup.lifecycle.wait_for_posts(1).await;
    assert_eq!(
        posts[0].body["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );
    let state = setup.state().await;
    let created =
        chrono::DateTime::parse_from_rfc3339(state["createdAt"].as_str().unwrap()).unwrap();
    let paused =
        chrono::DateTime::parse_from_rfc3339(state["pausedFrom"].as_str().unwrap()).unwrap();
    assert_eq!(
        paused - created,
        Duration::hours(1),
        "paused when the token expires"
    );
}
