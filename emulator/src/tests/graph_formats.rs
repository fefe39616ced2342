//! Graph's formats in every subscription response (§1.2): `expirationDateTime` is echoed with
//! seven fractional digits, as Microsoft's samples show (`2016-11-20T18:23:45.9356913Z`), in
//! create, get, list and PATCH answers alike.

use reqwest::Method;
use serde_json::{Value, json};

use super::harness::*;

/// `YYYY-MM-DDTHH:MM:SS.fffffffZ`: exactly seven fractional digits and `Z`.
fn is_seven_digit_utc(text: &str) -> bool {
    let Some((whole, fraction)) = text.split_once('.') else {
        return false;
    };
    let Some(digits) = fraction.strip_suffix('Z') else {
        return false;
    };
    digits.len() == 7
        && digits.bytes().all(|b| b.is_ascii_digit())
        && chrono::NaiveDateTime::parse_from_str(whole, "%Y-%m-%dT%H:%M:%S").is_ok()
}

/// An instant `minutes` from the emulator's now with sub-second ticks, as a client writes it.
fn with_ticks(emu: &Emu, minutes: i64) -> String {
    let t = emu.clock.now() + chrono::Duration::minutes(minutes);
    format!("{}.9356913Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

#[actix_web::test]
async fn every_subscription_response_writes_seven_fractional_digits() {
    let emu = Emu::spawn().await;
    let (token, rx) = emu.subscriber().await;

    // A whole-second request comes back with seven zeros.
    let mut body = message_subscription(&emu, &rx.url);
    body["expirationDateTime"] = json!(
        (emu.clock.now() + chrono::Duration::minutes(60))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    let created = emu.subscribe(&token, body).await;
    let expected = emu.expires_in(60);
    assert_eq!(created["expirationDateTime"], expected.as_str(), "create");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/subscriptions/{id}");

    let got = emu.graph_json(Method::GET, &path, &token, None).await;
    assert_eq!(got["expirationDateTime"], expected.as_str(), "get");

    // A request with ticks is echoed to the tick.
    let renewal = with_ticks(&emu, 120);
    let patched = emu
        .graph(
            Method::PATCH,
            &path,
            &token,
            Some(json!({"expirationDateTime": renewal})),
        )
        .await;
    assert_eq!(patched.status().as_u16(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["expirationDateTime"], renewal.as_str(), "PATCH");

    let listed = emu
        .graph_json(Method::GET, "/subscriptions", &token, None)
        .await;
    let value = listed["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["expirationDateTime"], renewal.as_str(), "list");

    for (name, text) in [
        ("create", &created["expirationDateTime"]),
        ("get", &got["expirationDateTime"]),
        ("PATCH", &patched["expirationDateTime"]),
        ("list", &value[0]["expirationDateTime"]),
    ] {
        let text = text.as_str().unwrap();
        assert!(is_seven_digit_utc(text), "{name}: {text}");
    }
}

#[actix_web::test]
async fn a_clamped_expiration_is_written_with_seven_digits_too() {
    let emu = Emu::spawn().await;
    emu.behaviour(json!({"lifetime_policy": "clamp"})).await;
    let (token, rx) = emu.subscriber().await;
    let mut body = message_subscription(&emu, &rx.url);
    body["expirationDateTime"] = json!(with_ticks(&emu, 10_000));
    let created = emu.create_json(&token, body).await;
    let text = created["expirationDateTime"].as_str().unwrap();
    assert!(is_seven_digit_utc(text), "{text}");
}
