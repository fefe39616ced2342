use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::platform::config::MicrosoftSettings;

#[test]
fn v2_and_v1_tokens_verify_and_name_their_tenants() {
    let tokens = [sign(&v2_claims(TENANT)), sign(&v1_claims(OTHER_TENANT))];
    let validated = validate_tokens(&tokens, &jwks(), &expected(), now()).unwrap();
    assert_eq!(
        validated,
        vec![
            ValidatedToken {
                tenant_id: TENANT.parse().unwrap(),
                audience: CLIENT_ID.into(),
                version: "2.0".into(),
            },
            ValidatedToken {
                tenant_id: OTHER_TENANT.parse().unwrap(),
                audience: CLIENT_ID.into(),
                version: "1.0".into(),
            },
        ]
    );
}

#[test]
fn production_issuers_verify_when_the_authority_is_microsofts() {
    let mut claims = v2_claims(TENANT);
    claims["iss"] = json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0"));
    let settings = MicrosoftSettings {
        client_id: Some(CLIENT_ID.into()),
        ..MicrosoftSettings::default()
    };
    let expected = Expected::from_settings(&settings).unwrap();
    assert_eq!(
        expected.authorities,
        vec!["https://login.microsoftonline.com"]
    );
    let body =
        json!({"keys": [jwk(KID, Some("https://login.microsoftonline.com/{tenantid}/v2.0"))]});
    let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
    assert!(validate_tokens(&[sign(&claims)], &keys, &expected, now()).is_ok());
    assert!(validate_tokens(&[sign(&v1_claims(TENANT))], &keys, &expected, now()).is_ok());
    // Without a client id there is nothing to check `aud` against.
    assert!(Expected::from_settings(&MicrosoftSettings::default()).is_none());
}

#[test]
fn no_tokens_validate_to_no_tenants() {
    assert_eq!(
        validate_tokens(&[], &jwks(), &expected(), now()).unwrap(),
        vec![]
    );
}

#[test]
fn a_token_for_another_app_is_refused() {
    let mut claims = v2_claims(TENANT);
    claims["aud"] = json!("00000003-0000-0000-c000-000000000000");
    let err = check(claims).unwrap_err();
    assert!(
        matches!(err, RichError::Audience(ref a) if a.starts_with("00000003")),
        "{err}"
    );
}

#[test]
fn an_issuer_that_is_not_entras_for_the_tokens_tenant_is_refused() {
    for iss in [
        format!("https://evil.example/{TENANT}/v2.0"),
        format!("{AUTHORITY}/{OTHER_TENANT}/v2.0"),
        format!("https://sts.windows.net/{OTHER_TENANT}/"),
        format!("https://sts.windows.net/{TENANT}"),
    ] {
        let mut claims = v2_claims(TENANT);
        claims["iss"] = json!(iss);
        assert!(
            matches!(check(claims), Err(RichError::Issuer(ref got)) if *got == iss),
            "{iss}"
        );
    }
}

#[test]
fn a_token_not_published_by_graph_change_tracking_is_refused() {
    let mut claims = v2_claims(TENANT);
    claims["azp"] = json!(CLIENT_ID);
    assert!(matches!(
        check(claims),
        Err(RichError::Publisher { claim: "azp", .. })
    ));
    let mut claims = v1_claims(TENANT);
    claims["appid"] = json!("11111111-2222-3333-4444-555555555555");
    assert!(matches!(
        check(claims),
        Err(RichError::Publisher { claim: "appid", .. })
    ));
    // The claim that counts follows `ver`: a v2 token's `appid` is not its publisher.
    let mut claims = v2_claims(TENANT);
    claims.as_object_mut().unwrap().remove("azp");
    claims["appid"] = json!(CHANGE_TRACKING_APP_ID);
    assert!(matches!(
        check(claims),
        Err(RichError::Publisher { claim: "azp", .. })
    ));
}

#[test]
fn an_expired_token_is_refused_beyond_the_leeway() {
    let mut claims = v2_claims(TENANT);
    claims["exp"] = json!(now().timestamp() - LEEWAY_SECS + 10);
    assert!(check(claims.clone()).is_ok(), "within the leeway");
    claims["exp"] = json!(now().timestamp() - LEEWAY_SECS - 10);
    assert!(matches!(check(claims), Err(RichError::Expired(_))));
}

#[test]
fn a_token_from_the_future_is_refused_beyond_the_leeway() {
    let mut claims = v2_claims(TENANT);
    claims["nbf"] = json!(now().timestamp() + LEEWAY_SECS + 10);
    assert!(matches!(check(claims), Err(RichError::NotYetValid(_))));
}

#[test]
fn a_token_without_exp_is_refused() {
    let mut claims = v2_claims(TENANT);
    claims.as_object_mut().unwrap().remove("exp");
    assert!(matches!(check(claims), Err(RichError::MalformedToken(_))));
}

#[test]
fn an_unknown_kid_is_reported_as_such() {
    let token = sign_with(&v2_claims(TENANT), "rotated-key", &KEYS.signing);
    let err = validate_tokens(&[token], &jwks(), &expected(), now()).unwrap_err();
    assert!(err.is_unknown_kid(), "{err}");
    assert!(matches!(err, RichError::UnknownKid(ref kid) if kid == "rotated-key"));
}

#[test]
fn a_token_signed_with_another_key_under_a_known_kid_is_refused() {
    let token = sign_with(&v2_claims(TENANT), KID, &KEYS.impostor);
    assert!(matches!(
        validate_tokens(&[token], &jwks(), &expected(), now()),
        Err(RichError::Signature)
    ));
    // Claims edited after signing.
    let token = sign(&v2_claims(TENANT));
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut claims = v2_claims(TENANT);
    claims["tid"] = json!(OTHER_TENANT);
    let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts[1] = &forged;
    assert!(matches!(
        validate_tokens(&[parts.join(".")], &jwks(), &expected(), now()),
        Err(RichError::Signature)
    ));
}

#[test]
fn a_token_signed_with_an_hmac_is_refused() {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    let key = EncodingKey::from_secret(KEYS.n.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &v2_claims(TENANT), &key).unwrap();
    assert!(matches!(
        validate_tokens(&[token], &jwks(), &expected(), now()),
        Err(RichError::Algorithm(Algorithm::HS256))
    ));
}

#[test]
fn one_bad_token_among_good_ones_fails_the_lot() {
    let mut bad = v1_claims(OTHER_TENANT);
    bad["aud"] = json!("someone-else");
    let tokens = [sign(&v2_claims(TENANT)), sign(&bad)];
    assert!(matches!(
        validate_tokens(&tokens, &jwks(), &expected(), now()),
        Err(RichError::Audience(_))
    ));
    assert!(matches!(
        validate_tokens(&["garbage".into()], &jwks(), &expected(), now()),
        Err(RichError::MalformedToken(_))
    ));
}

#[test]
fn a_key_published_for_a_single_other_tenant_vouches_for_no_one_else() {
    // Like the personal-accounts keys, issued for the 9188040d-… tenant only.
    let msa = format!("{AUTHORITY}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0");
    let body = json!({"keys": [jwk(KID, Some(&msa))]});
    let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
    let token = sign(&v2_claims(TENANT));
    assert!(matches!(
        validate_tokens(&[token], &keys, &expected(), now()),
        Err(RichError::KeyIssuer(_))
    ));
    // A v1 key set carries no issuer: only `iss` is checked.
    let body = json!({"keys": [jwk(KID, None)]});
    let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
    let token = sign(&v1_claims(TENANT));
    assert!(validate_tokens(&[token], &keys, &expected(), now()).is_ok());
}

#[test]
fn a_jwks_keeps_only_rsa_signing_keys() {
    let body = json!({"keys": [
        jwk("a", None),
        {"kty": "EC", "kid": "b", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "use": "enc", "kid": "c", "n": KEYS.n, "e": KEYS.e},
        {"kty": "RSA", "use": "sig", "n": KEYS.n, "e": KEYS.e},
    ]});
    let keys = Jwks::from_json(body.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.contains("a"));
    assert!(Jwks::from_json(b"<html>").is_err());
}
