use graphhook_tests::TestApp;
use graphhook_tests::client::{header, strict_page};

#[tokio::test]
async fn the_landing_page_says_what_graphhook_is_and_links_onwards() {
    let app = TestApp::spawn().await;
    let response = strict_page(&app, "/").await;
    let content_type = header(&response, "content-type");
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    let html = response.text().await.unwrap_or_default();
    assert!(html.contains("Microsoft Graph"), "{html}");
    for page in [
        "/onboarding",
        "/portal",
        "/console",
        "/docs",
        "/api/docs",
        "/admin/docs",
        "/status",
    ] {
        assert!(
            html.contains(&format!("href=\"{page}\"")),
            "the landing page links to {page}"
        );
        let response = app.get(page).await;
        assert_eq!(response.status().as_u16(), 200, "{page}");
    }
    assert!(html.contains("href=\"/static/style.css\""));

    let css = app.get("/static/style.css").await;
    assert_eq!(css.status().as_u16(), 200);
    let docs = app.get("/docs").await;
    assert_eq!(docs.status().as_u16(), 200);
    let docs = docs.text().await.unwrap_or_default();
    assert!(
        docs.contains("/admin/v1/probes"),
        "the docs describe the operator api"
    );
}

#[tokio::test]
async fn the_status_page_is_for_people_and_readyz_stays_json() {
    let app = TestApp::spawn().await;
    let page = strict_page(&app, "/status").await;
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/static/status.js\"></script>"));
    let script = app.get("/static/status.js").await;
    assert_eq!(script.status().as_u16(), 200);
    assert!(script.text().await.unwrap().contains("fetch(\"/readyz\""));

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}
