use std::sync::Mutex;

use super::*;

/// Answers a name with a different address each time (DNS rebinding).
struct Rebinding(Mutex<Vec<IpAddr>>);

impl Lookup for Rebinding {
    fn lookup(&self, _host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let next = {
            let mut answers = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0]
            }
        };
        Box::pin(async move { Ok(vec![next]) })
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_at_send_time_is_refused_at_connect() {
    let lookup = Arc::new(Rebinding(Mutex::new(vec![
        "93.184.216.34".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
    ])));
    let sender = Sender::new(Policy::default(), lookup, false, Duration::from_secs(2)).unwrap();
    let url = sender
        .check_url("http://rebind.example/hook")
        .await
        .expect("public at registration");
    let outcome = sender
        .send(Request {
            url: &url,
            headers: Vec::new(),
            body: b"{}".to_vec(),
            timeout: Duration::from_secs(2),
        })
        .await;
    let error = outcome.error.expect("refused");
    assert_eq!(error.class, ErrorClass::Refused, "{}", error.message);
    assert!(
        error
            .message
            .contains("rebind.example resolves to a non-public address"),
        "{}",
        error.message
    );
    assert!(
        !error.message.contains("127.0.0.1") && !error.message.contains("loopback"),
        "which address is not said: {}",
        error.message
    );
}

#[tokio::test]
async fn a_refused_name_is_not_told_which_address_and_long_urls_are_refused() {
    let lookup = Arc::new(Rebinding(Mutex::new(vec!["10.0.0.5".parse().unwrap()])));
    let sender = Sender::new(Policy::default(), lookup, false, Duration::from_secs(2)).unwrap();
    let refusal = sender
        .check_url("http://internal.example/hook")
        .await
        .unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "internal.example resolves to a non-public address"
    );
    assert_eq!(refusal.rule(), "a non-public address");
    let literal = sender.check_url("http://10.0.0.5/").await.unwrap_err();
    assert!(literal.rule().contains("10.0.0.0/8"), "{literal}");

    let url = |len: usize| {
        let base = "http://93.184.216.34/?q=";
        format!("{base}{}", "a".repeat(len - base.len()))
    };
    let lookup = Arc::new(Rebinding(Mutex::new(vec![
        "93.184.216.34".parse().unwrap(),
    ])));
    let sender = Sender::new(Policy::default(), lookup, false, Duration::from_secs(2)).unwrap();
    assert!(sender.check_url(&url(MAX_URL_CHARS)).await.is_ok());
    for len in [MAX_URL_CHARS + 1, 100 * MAX_URL_CHARS] {
        assert_eq!(
            sender.check_url(&url(len)).await,
            Err(UrlRefusal::TooLong),
            "{len}"
        );
    }
    // Percent-encoding lengthens a URL; the stored form is what counts.
    let accents = format!("http://93.184.216.34/{}", "é".repeat(400));
    assert!(accents.chars().count() < MAX_URL_CHARS);
    assert_eq!(sender.check_url(&accents).await, Err(UrlRefusal::TooLong));
}

#[tokio::test]
async fn ip_literals_are_checked_before_sending() {
    let sender = Sender::new(
        Policy::default(),
        Arc::new(SystemLookup),
        false,
        Duration::from_secs(2),
    )
    .unwrap();
    let url = Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
    let outcome = sender
        .send(Request {
            url: &url,
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(2),
        })
        .await;
    assert_eq!(outcome.error.map(|e| e.class), Some(ErrorClass::Refused));
}

#[tokio::test]
async fn what_a_parser_would_quietly_fix_in_a_url_is_refused() {
    let lookup = Arc::new(Rebinding(Mutex::new(vec![
        "93.184.216.34".parse().unwrap(),
    ])));
    let sender = Sender::new(Policy::default(), lookup, false, Duration::from_secs(2)).unwrap();
    for text in [
        "http://93.184.216.34/\u{0}",
        "http://93.184.216.34/\r\nX: y",
        "http://93.184.216.34/a\tb",
        " http://93.184.216.34/",
        "http://93.184.216.34/a b",
        "http://93.184.216.34/#fragment",
        "http://93.184.216.34:0/",
    ] {
        assert_eq!(
            sender.check_url(text).await,
            Err(UrlRefusal::Unclean),
            "{text:?}"
        );
    }
    assert!(
        sender
            .check_url("http://93.184.216.34:8443/a%20b?q=1")
            .await
            .is_ok()
    );
}
