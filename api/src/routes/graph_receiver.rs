//! Where Microsoft Graph calls Graphhook: `POST /graph/notifications` and
//! `POST /graph/lifecycle`. With `validationToken` in the query they answer Graph's handshake
//! (§2): 200, `text/plain`, the form-decoded token, with `x-content-type-options: nosniff` (the
//! body is whatever the caller put in the query, so no browser may take it for HTML).
//! Otherwise the request does nothing but read the body (413 above `ingest.max_body_bytes`),
//! check cheaply that it is a notification collection whose every item names its
//! `subscriptionId` (400 if not; 413 above `ingest.max_items_per_post` items), and write it
//! durably to the inbox; 202 once the row is committed, 503 if it could not be (Graph then
//! retries).
//! Everything else happens in the worker.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use futures::StreamExt;
use graphhook_domain::{DomainError, platform::entities::inbound_batch::BatchKind};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::{
    error::ApiError,
    state::{ApiLocal, Services},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/graph/notifications").route(web::post().to(
        |req, payload, state, local| receive(req, payload, state, local, BatchKind::Notifications),
    )))
    .service(web::resource("/graph/lifecycle").route(web::post().to(
        |req, payload, state, local| receive(req, payload, state, local, BatchKind::Lifecycle),
    )));
}

/// The cheap parse: a JSON object whose `value` is an array of objects that each name the
/// subscription they are for (every Graph item, change or lifecycle, carries `subscriptionId`),
/// nothing decoded further.
#[derive(Deserialize)]
struct Collection {
    value: Vec<RoutedItem>,
}

/// An item of the collection: an object with a `subscriptionId` string, its other members
/// skipped.
struct RoutedItem;

/// The longest `subscriptionId` taken (Graph's are GUIDs).
const MAX_SUBSCRIPTION_ID: usize = 128;

impl<'de> Deserialize<'de> for RoutedItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RoutedItem;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a notification object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                let mut routed = false;
                while let Some(key) = map.next_key::<Member>()? {
                    match key {
                        Member::SubscriptionId => {
                            let id = map.next_value::<std::borrow::Cow<'de, str>>()?;
                            if id.is_empty() || id.len() > MAX_SUBSCRIPTION_ID {
                                return Err(A::Error::custom(format!(
                                    "an item's subscriptionId must be 1 to {MAX_SUBSCRIPTION_ID} characters"
                                )));
                            }
                            routed = true;
                        }
                        Member::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if routed {
                    Ok(RoutedItem)
                } else {
                    Err(A::Error::custom("an item has no subscriptionId"))
                }
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A member name of an item: `subscriptionId`, or any other.
enum Member {
    SubscriptionId,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Member;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(if name == "subscriptionId" {
                    Member::SubscriptionId
                } else {
                    Member::Other
                })
            }
        }
        deserializer.deserialize_identifier(Visitor)
    }
}

/// The form-decoded `validationToken`, if the query has one (`+` is a space).
fn validation_token(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned())
}

/// The allow-list and the per-address rate limit, before the body is even read.
fn check_source(req: &HttpRequest, local: &ApiLocal) -> Result<(), ApiError> {
    use graphhook_domain::graph::ingest::guard::Verdict;
    let Some(addr) = local.client_addr.of(req) else {
        return Ok(());
    };
    match local.sources.check(addr) {
        Verdict::Allowed => Ok(()),
        Verdict::NotAllowed => {
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "not_allowed")
                .increment(1);
            Err(DomainError::forbidden("this address may not send notifications").into())
        }
        Verdict::RateLimited => {
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "rate_limited")
                .increment(1);
            Err(ApiError::rate_limited(
                "too many requests from this address; try again in a second",
            ))
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    metrics::counter!("graphhook_ingest_rejected_total", "reason" => "too_large").increment(1);
    ApiError::payload_too_large(format!("the body is larger than {limit} bytes"))
}

async fn receive(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<Services>,
    local: web::Data<ApiLocal>,
    kind: BatchKind,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = validation_token(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(token));
    }
    metrics::counter!("graphhook_ingest_received_total", "kind" => kind.as_str()).increment(1);
    check_source(&req, &local)?;
    let limit = state.settings.ingest.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::unreadable_body(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let max_items = state.settings.ingest.max_items_per_post;
    match serde_json::from_slice::<Collection>(&body) {
        Ok(collection) if collection.value.len() > max_items => {
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "too_many_items")
                .increment(1);
            return Err(ApiError::payload_too_large(format!(
                "the collection holds {} items, more than {max_items}",
                collection.value.len()
            )));
        }
        Ok(collection) if !collection.value.is_empty() => {}
        Ok(_) => {
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "empty").increment(1);
            return Err(DomainError::invalid("the notification collection has no items").into());
        }
        Err(e) => {
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "malformed")
                .increment(1);
            return Err(ApiError::invalid_json(format!(
                "not a notification collection: {e}"
            )));
        }
    }
    match local.inbox.submit(kind, Vec::from(body)).await {
        Ok(_) => {
            metrics::counter!("graphhook_ingest_acknowledged_total", "kind" => kind.as_str())
                .increment(1);
            Ok(HttpResponse::Accepted().finish())
        }
        Err(error) => {
            tracing::warn!(%error, "an inbound batch could not be stored; Graph will retry");
            metrics::counter!("graphhook_ingest_rejected_total", "reason" => "unavailable")
                .increment(1);
            Err(DomainError::Unavailable {
                message: "the notification could not be stored; try again".to_owned(),
                source: None,
            }
            .into())
        }
    }
}
