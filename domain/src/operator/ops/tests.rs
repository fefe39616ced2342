//! The operational views' pure parts: credential expiry, the hourly series, the snapshot.

use secrecy::SecretString;

use super::*;

fn now() -> DateTime<Utc> {
    "2026-01-05T09:00:00Z".parse().unwrap()
}

/// A self-signed certificate (PEM) valid until midnight UTC of the given day.
fn certificate_until(year: i32, month: u8, day: u8) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["graphhook-app".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(year, month, day);
    params.self_signed(&key).unwrap().pem()
}

fn with_certificate(pem: String) -> MicrosoftSettings {
    MicrosoftSettings {
        client_certificate: Some(pem),
        client_private_key: Some(SecretString::from("-----BEGIN PRIVATE KEY-----")),
        ..MicrosoftSettings::default()
    }
}

#[test]
fn a_certificates_expiry_is_read_from_its_pem() {
    let expires: DateTime<Utc> = "2027-03-04T00:00:00Z".parse().unwrap();
    assert_eq!(
        certificate_not_after(&certificate_until(2027, 3, 4)).unwrap(),
        expires
    );
    // From 2050 the date is a GeneralizedTime.
    let far: DateTime<Utc> = "2051-06-07T00:00:00Z".parse().unwrap();
    assert_eq!(
        certificate_not_after(&certificate_until(2051, 6, 7)).unwrap(),
        far
    );
    assert!(certificate_not_after("not a certificate").is_err());
}

#[test]
fn a_certificate_far_from_expiry_needs_nothing() {
    let status = credential_status(&with_certificate(certificate_until(2026, 6, 1)), now());
    assert_eq!(status.kind, CredentialKind::Certificate);
    assert_eq!(
        status.expires_at,
        Some("2026-06-01T00:00:00Z".parse().unwrap())
    );
    assert_eq!(status.days_left, Some(146));
    assert_eq!(status.warning, None);
}

#[test]
fn a_certificate_close_to_expiry_is_warned_about() {
    // 14 days and 15 hours left.
    let status = credential_status(&with_certificate(certificate_until(2026, 1, 20)), now());
    assert_eq!(status.days_left, Some(14));
    assert_eq!(
        status.warning.as_deref(),
        Some(
            "the app's certificate expires in 14 days; add a new one to the app registration and to microsoft.client_certificate"
        )
    );
    let hours_left = credential_status(&with_certificate(certificate_until(2026, 1, 6)), now());
    assert_eq!(hours_left.days_left, Some(0));
    assert!(
        hours_left
            .warning
            .unwrap()
            .starts_with("the app's certificate expires in less than a day;")
    );
}

#[test]
fn an_expired_certificate_says_so() {
    let status = credential_status(&with_certificate(certificate_until(2026, 1, 3)), now());
    assert_eq!(status.days_left, Some(-3));
    assert_eq!(
        status.warning.as_deref(),
        Some(
            "the app's certificate expired on 2026-01-03 00:00 UTC; add a new one to the app registration and to microsoft.client_certificate"
        )
    );
}

#[test]
fn an_unreadable_certificate_is_warned_about() {
    let status = credential_status(&with_certificate("garbage".into()), now());
    assert_eq!(status.kind, CredentialKind::Certificate);
    assert_eq!(status.expires_at, None);
    assert!(status.warning.unwrap().contains("cannot be read"));
}

#[test]
fn a_secret_has_no_expiry_to_read_and_nothing_is_a_warning() {
    let secret = MicrosoftSettings {
        client_secret: Some(SecretString::from("s3cret")),
        ..MicrosoftSettings::default()
    };
    assert_eq!(
        credential_status(&secret, now()),
        CredentialStatus {
            kind: CredentialKind::Secret,
            expires_at: None,
            days_left: None,
            warning: None,
        }
    );
    let none = credential_status(&MicrosoftSettings::default(), now());
    assert_eq!(none.kind, CredentialKind::None);
    assert_eq!(
        none.warning.as_deref(),
        Some("no app credential configured")
    );
    // A certificate without its key is not used; the secret is.
    let both = MicrosoftSettings {
        client_certificate: Some(certificate_until(2026, 1, 6)),
        client_secret: Some(SecretString::from("s3cret")),
        ..MicrosoftSettings::default()
    };
    assert_eq!(credential_status(&both, now()).kind, CredentialKind::Secret);
}

#[test]
fn a_secret_with_a_configured_expiry_is_warned_about_near_it() {
    let secret = |at: &str| MicrosoftSettings {
        client_secret: Some(SecretString::from("s3cret")),
        client_secret_expires_at: Some(at.parse().unwrap()),
        ..MicrosoftSettings::default()
    };
    let far = credential_status(&secret("2026-06-01T00:00:00Z"), now());
    assert_eq!((far.kind, far.warning), (CredentialKind::Secret, None));
    let near = credential_status(&secret("2026-01-15T00:00:00Z"), now());
    assert_eq!(near.days_left, Some(9));
    assert!(
        near.warning
            .as_deref()
            .unwrap()
            .starts_with("the app's client secret expires in 9 days"),
        "{near:?}"
    );
}

#[test]
fn the_series_ends_with_the_current_hour() {
    let now: DateTime<Utc> = "2026-01-05T09:30:15Z".parse().unwrap();
    assert_eq!(
        series_start(now),
        "2026-01-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(series_start(super::tests::now()), series_start(now));
}

#[test]
fn a_snapshot_from_the_worker_parses() {
    let json = r#"{"tick":42,"recorded_at":"2026-01-05T09:00:00Z","queues":{"probe":{"pending":1,"scheduled":2,"running":0,"dead":0}},"trimmed":0}"#;
    let snapshot: QueueSnapshot = serde_json::from_str(json).unwrap();
    assert_eq!(snapshot.recorded_at, Some(now()));
    assert_eq!(snapshot.queues["probe"].scheduled, 2);
}
