//! Onboarding as a browser goes through it: the start form, the emulator's sign-in, the return
//! to Graphhook, the emulator's admin consent and the result page; or leg by leg, with a client
//! that keeps cookies but follows no redirect.

use std::{collections::HashMap, sync::Arc};

use reqwest::{
    Method,
    cookie::{CookieStore, Jar},
};
use serde_json::json;

use crate::app::{CONTOSO_ADMIN, TestApp};

/// The page and the API key (if shown) at the end of an onboarding.
pub struct Onboarded {
    pub status: u16,
    pub page: String,
    pub key: Option<String>,
}

impl TestApp {
    /// A browser: keeps cookies, follows redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// A browser that keeps cookies (in the jar returned) and follows no redirect, to walk the
    /// flow leg by leg.
    pub fn stepping_browser(&self) -> (reqwest::Client, Arc<Jar>) {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        (client, jar)
    }

    /// The `Cookie` header a browser with this jar sends to the onboarding.
    pub fn onboarding_cookie(&self, jar: &Jar) -> Option<String> {
        let url = url::Url::parse(&self.url("/onboarding/callback")).ok()?;
        jar.cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// Runs the onboarding from the start form to the last page, following the real redirects
    /// through the emulator's sign-in and admin consent, with `browser`'s cookie jar.
    pub async fn onboard_with(&self, browser: &reqwest::Client, company: &str) -> Onboarded {
        onboarded(self.submit_start(browser, company).await).await
    }

    /// `browser` submits the onboarding's start form for `company`.
    pub async fn submit_start(
        &self,
        browser: &reqwest::Client,
        company: &str,
    ) -> reqwest::Response {
        browser
            .post(self.url("/onboarding/start"))
            .form(&[("company_name", company)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("onboarding start: {e}"))
    }

    pub async fn onboard(&self, company: &str) -> Onboarded {
        self.onboard_with(&self.browser(), company).await
    }

    /// Who the emulator signs in from now on (a UPN of one of its users).
    pub async fn sign_in_as(&self, user_principal_name: &str) {
        self.emulator_control(
            Method::PATCH,
            "/behaviour",
            Some(json!({"auto_sign_in_user": user_principal_name})),
        )
        .await;
    }

    /// Onboards another of the emulator's tenants (added if new): its seeded Global
    /// Administrator (`admin@{domain}`) signs in and consents. Contoso's signs in again after.
    pub async fn onboard_tenant(&self, tenant_id: &str, domain: &str, company: &str) -> Onboarded {
        crate::graph::add_entra_tenant(self, tenant_id, domain, Some(company)).await;
        self.sign_in_as(&format!("admin@{domain}")).await;
        let done = self.onboard(company).await;
        self.sign_in_as(CONTOSO_ADMIN).await;
        done
    }

    /// An administrator of an onboarded tenant signs in again, sees that it is connected, and
    /// follows "Grant consent again" through the emulator's admin consent.
    pub async fn grant_consent_again(&self) -> Onboarded {
        let browser = self.browser();
        let first = self.onboard_with(&browser, "ignored").await;
        assert!(
            first.page.contains("Already connected"),
            "an onboarded tenant's page: {}",
            first.page
        );
        let href = link(&first.page, "grant-again")
            .unwrap_or_else(|| panic!("a grant-again link: {}", first.page));
        let response = browser
            .get(href)
            .send()
            .await
            .unwrap_or_else(|e| panic!("grant again: {e}"));
        onboarded(response).await
    }

    /// The first leg: the start form answered; returns the browser, its jar and the sign-in URL.
    pub async fn start_onboarding(&self) -> (reqwest::Client, Arc<Jar>, url::Url) {
        let (browser, jar) = self.stepping_browser();
        let response = self.submit_start(&browser, "Contoso").await;
        assert_eq!(response.status().as_u16(), 303, "start redirects");
        (browser, jar, location(&response))
    }

    /// Two legs: started, signed in at the emulator, back at Graphhook; returns the browser, its
    /// jar and the admin-consent URL Graphhook sent it to.
    pub async fn sign_in_for_consent(&self) -> (reqwest::Client, Arc<Jar>, url::Url) {
        let (browser, jar, sign_in) = self.start_onboarding().await;
        let response = browser
            .get(sign_in)
            .send()
            .await
            .unwrap_or_else(|e| panic!("sign-in: {e}"));
        assert_eq!(response.status().as_u16(), 302, "the emulator signs in");
        let back = location(&response);
        let response = browser
            .get(back)
            .send()
            .await
            .unwrap_or_else(|e| panic!("signed-in: {e}"));
        if response.status().as_u16() != 303 {
            panic!(
                "on to consent, not {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        (browser, jar, location(&response))
    }

    /// The token endpoint requests the emulator counted, per tenant as named in the URL.
    pub async fn token_requests(&self) -> HashMap<String, u64> {
        let state = self.emulator_control(Method::GET, "/state", None).await;
        serde_json::from_value(state["tokenRequests"].clone()).unwrap_or_default()
    }
}

/// Contoso, onboarded; then its consent shrinks in Entra to `User.Read.All` alone and the tenant
/// checks it again (`POST /api/v1/tenant/verify`): the app, the API key and that check's answer.
pub async fn onboarded_then_consent_shrunk() -> (TestApp, String, crate::client::Answer) {
    let (app, key) = crate::fixtures::onboarded_contoso().await;
    crate::graph::consent(
        &app,
        crate::fixtures::TENANT,
        Some(json!({"roles": ["User.Read.All"]})),
    )
    .await;
    let verified = app.as_tenant(&key).post("/api/v1/tenant/verify").await;
    (app, key, verified)
}

async fn onboarded(response: reqwest::Response) -> Onboarded {
    let status = response.status().as_u16();
    let page = response.text().await.unwrap_or_default();
    let key = extract_key(&page);
    Onboarded { status, page, key }
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> url::Url {
    let text = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a redirect: {}", response.status()));
    url::Url::parse(text)
        .or_else(|_| url::Url::parse(response.url().as_str()).and_then(|base| base.join(text)))
        .unwrap_or_else(|e| panic!("location {text}: {e}"))
}

/// The `href` of the element with this id, unescaped.
pub fn link(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let start = page[at..].find("href=\"")? + at + "href=\"".len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].replace("&amp;", "&"))
}

/// A query parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The API key shown on the onboarding result page.
pub fn extract_key(page: &str) -> Option<String> {
    let start = page.find("id=\"api-key\">")? + "id=\"api-key\">".len();
    let end = page[start..].find("</code>")? + start;
    Some(page[start..end].to_owned())
}
