//! One refusal at least for each settings section: the key and the message it names.

use super::{Change, dev, production};
use crate::platform::config::*;

/// The key and the message of the first refusal of `dev()` after `change`.
fn refusal(change: Change) -> Option<(String, String)> {
    let mut s = dev();
    change(&mut s);
    s.validate().err().map(|e| (e.key, e.message))
}

fn said(key: &str, message: &str) -> Option<(String, String)> {
    Some((key.to_owned(), message.to_owned()))
}

#[test]
fn a_pool_of_no_database_connections_is_refused() {
    assert_eq!(
        refusal(|s| s.database.max_connections = 0),
        said("database.max_connections", "must be at least 1")
    );
}

#[test]
fn a_redis_url_of_another_scheme_is_refused() {
    assert_eq!(
        refusal(|s| s.redis.url = SecretString::from("http://127.0.0.1:6379")),
        said("redis.url", "must start with redis:// or rediss://")
    );
}

#[test]
fn production_refuses_a_plain_http_public_base_url_off_this_host() {
    let mut s = production();
    s.api.public_base_url = "http://hooks.example.com".to_owned();
    assert_eq!(
        s.validate().err().map(|e| (e.key, e.message)),
        said(
            "api.public_base_url",
            "must use https in production (Microsoft Graph only notifies https URLs)"
        )
    );
}

#[test]
fn a_trusted_proxy_that_is_not_a_network_is_refused() {
    assert_eq!(
        refusal(|s| s.api.trusted_proxies = vec!["proxy.internal".to_owned()]),
        said(
            "api.trusted_proxies",
            "proxy.internal is not a CIDR network"
        )
    );
}

#[test]
fn a_worker_instance_with_a_colon_is_refused() {
    assert_eq!(
        refusal(|s| s.worker.instance = Some("a:b".to_owned())),
        said(
            "worker.instance",
            "must be non-empty, without ':' or spaces"
        )
    );
}

#[test]
fn a_graph_url_that_is_not_http_is_refused() {
    assert_eq!(
        refusal(|s| s.microsoft.graph_url = "ftp://graph.example.com".to_owned()),
        said("microsoft.graph_url", "must be an http(s) URL")
    );
}

#[test]
fn production_refuses_a_plain_http_browser_authority_off_this_host() {
    let mut s = production();
    s.microsoft.browser_authority_url = Some("http://login.example.com".to_owned());
    assert_eq!(
        s.validate().err().map(|e| (e.key, e.message)),
        said(
            "microsoft.browser_authority_url",
            "must use https in production"
        )
    );
}

#[test]
fn a_webhook_timeout_over_thirty_seconds_is_refused() {
    assert_eq!(
        refusal(|s| s.webhooks.default_timeout_secs = 31),
        said("webhooks.default_timeout_secs", "must be between 1 and 30")
    );
}

#[test]
fn ingest_without_writers_is_refused() {
    assert_eq!(
        refusal(|s| s.ingest.writers = 0),
        said("ingest.writers", "out of range (see the README)")
    );
}

#[test]
fn subscription_bounds_name_the_key() {
    assert_eq!(
        refusal(|s| s.subscriptions.reconcile_batch = 0),
        said(
            "subscriptions.reconcile_batch",
            "must be between 1 and 10000"
        )
    );
    assert_eq!(
        refusal(|s| s.subscriptions.renew_at_fraction = 0.95),
        said(
            "subscriptions.renew_at_fraction",
            "must be between 0.2 and 0.9"
        )
    );
}

#[test]
fn an_onboarding_verify_interval_of_zero_is_refused() {
    assert_eq!(
        refusal(|s| s.onboarding.verify_interval_secs = 0),
        said("onboarding.verify_interval_secs", "must be at least 1")
    );
}
