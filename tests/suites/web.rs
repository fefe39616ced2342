use graphhook_tests::TestApp;

#[tokio::test]
async fn the_landing_page_says_what_graphhook_is_and_links_onwards() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    let html = response.text().await.unwrap_or_default();
    assert!(html.contains("Microsoft Graph"), "{html}");
    assert!(
        html.contains("href=\"/docs\""),
        "the page links to the API documentation"
    );
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
