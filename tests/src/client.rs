//! Typed callers of the two apis: [`TenantClient`] (an API key) and [`OperatorClient`] (an
//! operator token), so a suite says who calls and what, not how a request is built.

use std::marker::PhantomData;

use reqwest::Method;
use serde_json::Value;

use crate::TestApp;

/// A response header's value, if it has one that is text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A `GET` of `path` without credentials, which must answer 200 under a strict content security
/// policy (scripts from this site only, nothing unsafe): the response.
pub async fn strict_page(app: &TestApp, path: &str) -> reqwest::Response {
    let response = app.get(path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let csp = header(&response, "content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no content-security-policy"));
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{path}: {csp}"
    );
    response
}

/// A string field of a JSON body, which must be there.
pub fn text(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_owned()
}

/// The text `field` of each entry of a list page's `data`, which every entry must have.
pub fn each<'a>(page: &'a Value, field: &str) -> Vec<&'a str> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list page: {page}"))
        .iter()
        .map(|entry| {
            entry[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {entry}"))
        })
        .collect()
}

/// A status and the JSON body (`Null` when there is none).
pub type Answer = (u16, Value);

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One api called with one bearer credential; `Api` says which api, and so which typed calls
/// it has.
pub struct Client<'a, Api> {
    app: &'a TestApp,
    token: String,
    api: PhantomData<Api>,
}

/// The tenant api (`/api/v1`), called with an API key.
pub struct TenantApi;
/// The operator api (`/admin/v1`), called with an operator token.
pub struct OperatorApi;

/// The tenant api, called with one API key.
pub type TenantClient<'a> = Client<'a, TenantApi>;
/// The operator api, called with one operator's token.
pub type OperatorClient<'a> = Client<'a, OperatorApi>;

impl TestApp {
    /// The tenant api as the holder of `key`.
    pub fn as_tenant(&self, key: &str) -> TenantClient<'_> {
        Client {
            app: self,
            token: key.to_owned(),
            api: PhantomData,
        }
    }

    /// The operator api as `test-operator`.
    pub fn as_operator(&self) -> OperatorClient<'_> {
        self.as_operator_named("test-operator")
    }

    /// The operator api as the operator `name`.
    pub fn as_operator_named(&self, name: &str) -> OperatorClient<'_> {
        self.as_operator_bearing(&self.operator_token_for(name))
    }

    /// The operator api called with `token` as it is (one minted earlier, or a wrong one).
    pub fn as_operator_bearing(&self, token: &str) -> OperatorClient<'_> {
        Client {
            app: self,
            token: token.to_owned(),
            api: PhantomData,
        }
    }

    /// `method` on `path` without credentials.
    pub async fn anonymous(&self, method: Method, path: &str) -> reqwest::Response {
        sent(self.client.request(method, self.url(path))).await
    }
}

/// A request sent; a request that cannot be sent fails the test.
pub async fn sent(request: reqwest::RequestBuilder) -> reqwest::Response {
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("sending a request: {e}"))
}

impl<Api> Client<'_, Api> {
    /// The raw response, for tests that look at headers.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        answer(self.send(method, path, body).await).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// A `GET` that must answer 200: its body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A `POST` without a body.
    pub async fn post(&self, path: &str) -> Answer {
        self.call(Method::POST, path, None).await
    }
}

impl TenantClient<'_> {
    pub async fn patch_json(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// `POST /api/v1/endpoints`.
    pub async fn create_endpoint(&self, body: Value) -> Answer {
        self.post_json("/api/v1/endpoints", body).await
    }

    /// `POST /api/v1/subscriptions`: the status, the body and any `retry-after`.
    pub async fn create_subscription(&self, body: Value) -> (u16, Value, Option<String>) {
        let response = self
            .send(Method::POST, "/api/v1/subscriptions", Some(body))
            .await;
        let retry_after = header(&response, "retry-after");
        let (status, body) = answer(response).await;
        (status, body, retry_after)
    }

    /// `POST /api/v1/subscriptions` for `resource` and `change_types`: the status and body.
    pub async fn try_subscribe(&self, resource: &str, change_types: &[&str]) -> Answer {
        let (status, body, _) = self
            .create_subscription(
                serde_json::json!({"resource": resource, "change_types": change_types}),
            )
            .await;
        (status, body)
    }

    /// A `GET`'s JSON body, whatever the status.
    pub async fn get_body(&self, path: &str) -> Value {
        self.send(Method::GET, path, None)
            .await
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// The status of a `GET`.
    pub async fn get_status(&self, path: &str) -> u16 {
        self.status_of(Method::GET, path).await
    }

    /// The status of a call without a body.
    pub async fn status_of(&self, method: Method, path: &str) -> u16 {
        self.send(method, path, None).await.status().as_u16()
    }

    /// `PATCH /api/v1/endpoints/{id}` with `body`.
    pub async fn patch_endpoint(&self, id: impl std::fmt::Display, body: Value) -> Answer {
        self.patch_json(&format!("/api/v1/endpoints/{id}"), body)
            .await
    }

    /// `POST /api/v1/endpoints/{id}/test`.
    pub async fn test_endpoint(&self, id: impl std::fmt::Display) -> Answer {
        self.call(Method::POST, &format!("/api/v1/endpoints/{id}/test"), None)
            .await
    }

    /// `POST /api/v1/endpoints/{id}/secret/rotate` with a grace period: the new secret.
    pub async fn rotate_secret(
        &self,
        id: impl std::fmt::Display,
        grace_period_secs: u64,
    ) -> String {
        let path = format!("/api/v1/endpoints/{id}/secret/rotate");
        let (status, rotated) = self
            .post_json(
                &path,
                serde_json::json!({"grace_period_secs": grace_period_secs}),
            )
            .await;
        assert_eq!(status, 200, "{rotated}");
        text(&rotated, "secret")
    }

    /// `POST /api/v1/messages/{message}/resend` to `endpoint`.
    pub async fn resend(
        &self,
        message: impl std::fmt::Display,
        endpoint: impl std::fmt::Display,
    ) -> Answer {
        let path = format!("/api/v1/messages/{message}/resend");
        let body = serde_json::json!({"endpoint_id": endpoint.to_string()});
        self.post_json(&path, body).await
    }

    /// `POST /api/v1/endpoints/{endpoint}/recover` of what failed since `since` (RFC 3339).
    pub async fn recover_since(&self, endpoint: impl std::fmt::Display, since: &str) -> Answer {
        let path = format!("/api/v1/endpoints/{endpoint}/recover");
        self.post_json(&path, serde_json::json!({"since": since}))
            .await
    }

    /// `DELETE /api/v1/tenant`, confirmed with the tenant's name `confirm`.
    pub async fn offboard(&self, confirm: &str) -> Answer {
        self.call(
            Method::DELETE,
            "/api/v1/tenant",
            Some(serde_json::json!({"confirm": confirm})),
        )
        .await
    }

    /// A subscription to `resource` for `change_types`, created (201); its id.
    pub async fn subscribe(&self, resource: &str, change_types: &[&str]) -> String {
        let (status, created, _) = self
            .create_subscription(
                serde_json::json!({"resource": resource, "change_types": change_types}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        text(&created, "id")
    }
}

impl OperatorClient<'_> {
    /// `POST /admin/v1/tenants/{tenant}/suspend` with `reason`.
    pub async fn suspend(&self, tenant: impl std::fmt::Display, reason: &str) -> Answer {
        self.post_json(
            &format!("/admin/v1/tenants/{tenant}/suspend"),
            serde_json::json!({"reason": reason}),
        )
        .await
    }
}

/// `POST /api/v1/endpoints` with `key`.
pub async fn create_endpoint(app: &TestApp, key: &str, body: Value) -> Answer {
    app.as_tenant(key).create_endpoint(body).await
}

/// `POST /api/v1/subscriptions` with `key`: the status, the body and any `retry-after`.
pub async fn create_subscription(
    app: &TestApp,
    key: &str,
    body: Value,
) -> (u16, Value, Option<String>) {
    app.as_tenant(key).create_subscription(body).await
}

/// A tenant api call without a body.
pub async fn tenant_call(app: &TestApp, method: Method, path: &str, key: &str) -> Answer {
    app.as_tenant(key).call(method, path, None).await
}

/// A tenant api `GET`.
pub async fn tenant_get(app: &TestApp, key: &str, path: &str) -> Answer {
    app.as_tenant(key).get(path).await
}

/// A subscription to `resource` for `change_types`, created (201); its id.
pub async fn subscribe(app: &TestApp, key: &str, resource: &str, change_types: &[&str]) -> String {
    app.as_tenant(key).subscribe(resource, change_types).await
}

/// `body` posted as JSON to `path` without credentials (as Graph posts notifications).
pub async fn post_body(app: &TestApp, path: &str, body: impl Into<reqwest::Body>) -> Answer {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    answer(response).await
}
