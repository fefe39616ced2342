use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration as StdDuration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::platform::config::MicrosoftSettings;

// -- JwksCache against a local key server ------------------------------------------------

/// A tiny HTTP server: 200 with the body set for a path, 404 otherwise; counts requests.
struct KeyServer {
    base: String,
    bodies: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<AtomicUsize>,
}

impl KeyServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let bodies: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (bodies.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (served, counted) = (served.clone(), counted.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let body = served.lock().unwrap().get(&path).cloned();
                    let response = match body {
                        Some(body) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\
                                 connection: close\r\n\r\n"
                            .to_owned(),
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { base, bodies, hits }
    }

    fn serve(&self, path: &str, kids: &[&str]) {
        let keys: Vec<Value> = kids.iter().map(|kid| jwk(kid, None)).collect();
        self.bodies
            .lock()
            .unwrap()
            .insert(path.into(), json!({"keys": keys}).to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn settings(&self) -> MicrosoftSettings {
        MicrosoftSettings {
            authority_url: format!("{}/", self.base),
            client_id: Some(CLIENT_ID.into()),
            ..MicrosoftSettings::default()
        }
    }
}

const V2_KEYS: &str = "/common/discovery/v2.0/keys";
const V1_KEYS: &str = "/common/discovery/keys";

fn v1_token_with(kid: &str) -> Vec<String> {
    vec![sign_with(&v1_claims(TENANT), kid, &KEYS.signing)]
}

fn expected_for(server: &KeyServer) -> Expected {
    Expected::from_settings(&server.settings()).unwrap()
}

#[tokio::test]
async fn the_cache_merges_both_key_sets_of_the_authority() {
    let server = KeyServer::start().await;
    server.serve(V2_KEYS, &["both", "v2-only"]);
    server.serve(V1_KEYS, &["both", "v1-only"]);
    let cache = JwksCache::new(&server.settings()).unwrap();
    let keys = cache.keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(server.hits(), 2);
    cache.keys().await.unwrap();
    assert_eq!(server.hits(), 2, "served from memory");
}

#[tokio::test]
async fn one_key_set_missing_is_tolerated_and_none_is_an_error() {
    let server = KeyServer::start().await;
    server.serve(V1_KEYS, &[KID]);
    let cache = JwksCache::new(&server.settings()).unwrap();
    assert!(cache.keys().await.unwrap().contains(KID));

    let empty = KeyServer::start().await;
    let cache = JwksCache::new(&empty.settings()).unwrap();
    assert!(matches!(cache.keys().await, Err(RichError::Jwks(_))));
    let err = cache
        .validate(&v1_token_with(KID), &expected_for(&empty), now())
        .await
        .unwrap_err();
    assert!(matches!(err, RichError::Jwks(_)), "{err}");
    assert_eq!(
        empty.hits(),
        2,
        "the failed fetch is not retried within the minute"
    );
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_and_validates_again() {
    let server = KeyServer::start().await;
    server.serve(V1_KEYS, &["old"]);
    let cache =
        JwksCache::with_urls(vec![format!("{}{V1_KEYS}", server.base)], StdDuration::ZERO).unwrap();
    let expected = expected_for(&server);
    assert!(cache.keys().await.unwrap().contains("old"));
    assert_eq!(server.hits(), 1);

    server.serve(V1_KEYS, &["old", "rotated"]);
    let validated = cache
        .validate(&v1_token_with("rotated"), &expected, now())
        .await
        .unwrap();
    assert_eq!(validated[0].tenant_id.to_string(), TENANT);
    assert_eq!(server.hits(), 2, "one refresh");
    cache
        .validate(&v1_token_with("rotated"), &expected, now())
        .await
        .unwrap();
    assert_eq!(server.hits(), 2, "the rotated key is now cached");
    assert!(
        cache
            .validate(&[], &expected, now())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn forged_kids_refresh_the_keys_at_most_once_a_minute() {
    let server = KeyServer::start().await;
    server.serve(V1_KEYS, &[KID]);
    let cache = JwksCache::new(&server.settings()).unwrap();
    let expected = expected_for(&server);
    cache
        .validate(&v1_token_with(KID), &expected, now())
        .await
        .unwrap();
    let after_first_fetch = server.hits();

    for i in 0..20 {
        let err = cache
            .validate(&v1_token_with(&format!("forged-{i}")), &expected, now())
            .await
            .unwrap_err();
        assert!(err.is_unknown_kid(), "{err}");
    }
    assert_eq!(
        server.hits(),
        after_first_fetch,
        "no fetch within the minute"
    );
    // The known key still verifies meanwhile.
    cache
        .validate(&v1_token_with(KID), &expected, now())
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let server = KeyServer::start().await;
    server.serve(V2_KEYS, &[KID]);
    server.serve(V1_KEYS, &[KID]);
    let cache = Arc::new(JwksCache::new(&server.settings()).unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.keys().await.map(|k| k.len()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 1);
    }
    assert_eq!(server.hits(), 2, "one fetch of each key set");
}
