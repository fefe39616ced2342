//! Per-tenant quotas: a tenant holds at most `webhooks.max_endpoints_per_tenant` endpoints,
//! `api.max_api_keys_per_tenant` live API keys and `api.max_connections_per_tenant`
//! connections. Beyond that a create is a 409 `quota` naming the limit; racing creates cannot
//! pass it together; what was deleted (or revoked) makes room again; and one tenant's count
//! never refuses another's.

use graphhook_tests::connections::start;
use graphhook_tests::errors::Refusal;
use graphhook_tests::fixtures::FABRIKAM;
use graphhook_tests::{Mode, Receiver, TestApp};
use serde_json::{Value, json};

/// Checks that `answer` is the tenant quota's refusal at `limit`.
fn at_quota(answer: (u16, Value), limit: u32) {
    let body = Refusal::conflict("quota").of(answer);
    assert_eq!(body["details"]["quota"], "tenant", "{body}");
    assert_eq!(body["details"]["limit"], limit.to_string(), "{body}");
}

fn id_of(created: &Value) -> String {
    created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {created}"))
        .to_owned()
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_quota_of_endpoints_even_when_creates_race() {
    let app = TestApp::spawn_with(|s| s.webhooks.max_endpoints_per_tenant = 3).await;
    let receiver = Receiver::start(Mode::Echo);
    let contoso = app.create_contoso().await;
    let fabrikam = app.create_tenant(FABRIKAM, "Fabrikam").await;
    let body = json!({"url": receiver.url});

    // Eight creates at once: three pass, five meet the quota.
    let client = app.as_tenant(&contoso);
    let answers =
        futures::future::join_all((0..8).map(|_| client.create_endpoint(body.clone()))).await;
    let mut created = Vec::new();
    for (status, answer) in answers {
        if status == 201 {
            created.push(id_of(&answer));
        } else {
            at_quota((status, answer), 3);
        }
    }
    assert_eq!(created.len(), 3, "{created:?}");
    let listed = client.get_body("/api/v1/endpoints").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");

    // Another tenant's endpoints are its own count.
    let (status, answer) = app.as_tenant(&fabrikam).create_endpoint(body.clone()).await;
    assert_eq!(status, 201, "{answer}");

    // A deleted endpoint makes room.
    let (status, _) = client
        .delete(&format!("/api/v1/endpoints/{}", created[0]))
        .await;
    assert_eq!(status, 204);
    let (status, answer) = client.create_endpoint(body.clone()).await;
    assert_eq!(status, 201, "{answer}");
    at_quota(client.create_endpoint(body).await, 3);
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_quota_of_live_api_keys() {
    let app = TestApp::spawn_with(|s| s.api.max_api_keys_per_tenant = 2).await;
    let first = app.onboard("Contoso").await.key.unwrap();
    let client = app.as_tenant(&first);
    let create = || client.post_json("/api/v1/api-keys", json!({"name": "CI"}));

    let (status, second) = create().await;
    assert_eq!(status, 201, "{second}");
    at_quota(create().await, 2);

    // A revoked key does not count.
    let (status, _) = client
        .delete(&format!("/api/v1/api-keys/{}", id_of(&second)))
        .await;
    assert_eq!(status, 204);
    let (status, third) = create().await;
    assert_eq!(status, 201, "{third}");
    at_quota(create().await, 2);
}

#[tokio::test]
async fn a_tenant_holds_at_most_its_quota_of_connections_pending_ones_included() {
    let app = TestApp::spawn_with(|s| s.api.max_connections_per_tenant = 2).await;
    let key = app.onboard("Contoso").await.key.unwrap();
    let body = json!({"account": "work", "kinds": ["conversation"]});

    let (status, first) = start(&app, &key, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = start(&app, &key, body.clone()).await;
    assert_eq!(status, 201, "{second}");
    // Nobody signed in to either: they count all the same.
    at_quota(start(&app, &key, body.clone()).await, 2);

    let (status, _) = app
        .as_tenant(&key)
        .delete(&format!("/api/v1/connections/{}", id_of(&first)))
        .await;
    assert_eq!(status, 204);
    let (status, third) = start(&app, &key, body.clone()).await;
    assert_eq!(status, 201, "{third}");
    at_quota(start(&app, &key, body).await, 2);
}
