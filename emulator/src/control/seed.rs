//! `POST /_emulator/subscriptions`: many subscriptions at once for benchmarks, as if the app had
//! created them, without the validation handshake, rate limit, duplicate rule or quotas, which
//! would make seeding thousands slow or impossible. The resource and lifetime rules still apply,
//! so what is seeded is something Graph could hold.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{bad_request, not_found};
use crate::{
    config::LifetimePolicy,
    rules,
    shared::Data,
    state::{NewSubscription, Subscription},
};

/// Seeding bodies can be far larger than the control API's other requests.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The JSON extractor's settings for the seeding route: a large limit, and its errors in the
/// control API's shape.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY)
        .error_handler(|err, _| {
            let message = format!("the body is not JSON: {err}");
            actix_web::error::InternalError::from_response(err, bad_request(message)).into()
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    /// The Entra tenant the subscriptions belong to.
    tenant: Uuid,
    subscriptions: Vec<SeedSubscription>,
}

/// A subscription as a create request names it (§1.2), without the rich-notification fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedSubscription {
    resource: String,
    change_type: String,
    notification_url: String,
    lifecycle_notification_url: Option<String>,
    client_state: Option<String>,
    expiration_date_time: DateTime<Utc>,
}

/// Who the seeded subscriptions belong to: the emulator's app in one tenant.
struct Owner {
    tenant_id: Uuid,
    application_id: Uuid,
    creator_id: Uuid,
}

impl SeedSubscription {
    fn build(
        self,
        owner: &Owner,
        policy: LifetimePolicy,
        now: DateTime<Utc>,
    ) -> Result<Subscription, String> {
        let parsed = rules::app_only_target(&self.resource, &self.change_type)?;
        let expiration =
            rules::allowed_expiration(parsed.kind, false, self.expiration_date_time, now, policy)
                .map_err(|e| e.message())?;
        for (name, url) in [
            ("notificationUrl", Some(&self.notification_url)),
            (
                "lifecycleNotificationUrl",
                self.lifecycle_notification_url.as_ref(),
            ),
        ] {
            if let Some(url) = url
                && url::Url::parse(url).is_err()
            {
                return Err(format!("{name} {url} is not an absolute URL"));
            }
        }
        if self
            .client_state
            .as_ref()
            .is_some_and(|c| c.chars().count() > 128)
        {
            return Err("clientState must not be longer than 128 characters.".to_owned());
        }
        let new = NewSubscription {
            tenant_id: owner.tenant_id,
            application_id: owner.application_id,
            creator_id: owner.creator_id,
            resource: self.resource,
            kind: parsed.kind,
            mailbox: parsed.mailbox,
            delegated_user: None,
            match_resource: None,
            change_type: self.change_type,
            notification_url: self.notification_url,
            lifecycle_notification_url: self.lifecycle_notification_url,
            client_state: self.client_state,
            expiration_date_time: expiration,
        };
        Ok(Subscription::new(new, now))
    }
}

/// 201 `{"ids": [...]}` in the order given; nothing is created unless every one is valid.
pub async fn seed(shared: Data, body: web::Json<Value>) -> HttpResponse {
    let seed = match serde_json::from_value::<Seed>(body.into_inner()) {
        Ok(seed) => seed,
        Err(e) => {
            return bad_request(format!(
                "expected {{\"tenant\": \"<guid>\", \"subscriptions\": [...]}}: {e}"
            ));
        }
    };
    let now = shared.clock.now();
    let mut world = shared.world();
    let Some(tenant) = world.tenants.get(&seed.tenant) else {
        return not_found(&format!("tenant {}", seed.tenant));
    };
    let Some(principal) = &tenant.service_principal else {
        return bad_request(format!(
            "tenant {} has no service principal for the app: grant consent (or create the service principal) first",
            seed.tenant
        ));
    };
    let owner = Owner {
        tenant_id: tenant.id,
        application_id: world.app.client_id,
        creator_id: principal.object_id,
    };
    let policy = world.behaviour.lifetime_policy;
    let built: Result<Vec<Subscription>, String> = seed
        .subscriptions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.build(&owner, policy, now)
                .map_err(|e| format!("subscriptions[{i}]: {e}"))
        })
        .collect();
    let subscriptions = match built {
        Ok(subscriptions) => subscriptions,
        Err(message) => return bad_request(message),
    };
    let ids: Vec<Uuid> = subscriptions.iter().map(|s| s.id).collect();
    world
        .subscriptions
        .extend(subscriptions.into_iter().map(|s| (s.id, s)));
    HttpResponse::Created().json(json!({"ids": ids}))
}
