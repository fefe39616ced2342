//! The id_token checks, each failing on its own, with the Entra key fixtures of the rich
//! notification tests.

use serde_json::{Value, json};

use super::*;
use crate::graph::microsoft::rich::tests::{
    AUTHORITY, CLIENT_ID, KEYS, KID, OTHER_TENANT, TENANT, jwks, now, sign_with,
};

const NONCE: &str = "this-browsers-nonce";
const OID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn authorities() -> Vec<String> {
    vec![AUTHORITY.to_owned()]
}

fn claims(tenant: &str) -> Value {
    let iat = now().timestamp() - 30;
    json!({"aud": CLIENT_ID, "iss": format!("{AUTHORITY}/{tenant}/v2.0"), "iat": iat,
           "nbf": iat, "exp": iat + 3600, "tid": tenant, "oid": OID, "sub": "pairwise",
           "name": "Ada Admin", "preferred_username": "ada@contoso.example", "ver": "2.0",
           "nonce": NONCE, "wids": [GLOBAL_ADMINISTRATOR, "b79fbf4d-3ef9-4689-8143-76b194e85509"]})
}

fn check(claims: &Value) -> Result<SignedIn, IdTokenError> {
    check_signed(&sign_with(claims, KID, &KEYS.signing))
}

fn check_signed(token: &str) -> Result<SignedIn, IdTokenError> {
    let authorities = authorities();
    let expected = Expected {
        client_id: CLIENT_ID,
        authorities: &authorities,
        nonce: NONCE,
    };
    validate(token, &jwks(), &expected, now())
}

#[test]
fn a_valid_token_names_the_person_their_tenant_and_roles() {
    let signed_in = check(&claims(TENANT)).unwrap();
    assert_eq!(signed_in.person.tid.to_string(), TENANT);
    assert_eq!(signed_in.person.oid.to_string(), OID);
    assert_eq!(signed_in.person.name.as_deref(), Some("Ada Admin"));
    assert_eq!(
        signed_in.person.username.as_deref(),
        Some("ada@contoso.example")
    );
    assert!(signed_in.may_grant_application_permissions());
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let token = sign_with(&claims(TENANT), KID, &KEYS.impostor);
    assert_eq!(check_signed(&token).unwrap_err(), IdTokenError::Signature);
    let token = sign_with(&claims(TENANT), "unknown-kid", &KEYS.signing);
    assert!(matches!(
        check_signed(&token).unwrap_err(),
        IdTokenError::UnknownKid(_)
    ));
}

/// The claims of a valid token with `key` set to `value` (removed when `Value::Null`).
fn with(key: &str, value: Value) -> Value {
    let mut claims = claims(TENANT);
    match value {
        Value::Null => {
            claims.as_object_mut().unwrap().remove(key);
        }
        value => claims[key] = value,
    }
    claims
}

/// Why the token with `key` set to `value` is refused.
fn refused(key: &str, value: Value) -> IdTokenError {
    check(&with(key, value)).unwrap_err()
}

#[test]
fn a_token_for_another_app_is_refused() {
    let other_app = json!("00000003-0000-0000-c000-000000000000");
    assert!(matches!(
        refused("aud", other_app),
        IdTokenError::Audience(_)
    ));
    assert!(matches!(
        refused("aud", json!([CLIENT_ID])),
        IdTokenError::Audience(_)
    ));
}

#[test]
fn an_issuer_that_is_not_entras_for_the_tokens_tenant_is_refused() {
    for iss in [
        // The issuer of another tenant than the token's `tid`.
        format!("{AUTHORITY}/{OTHER_TENANT}/v2.0"),
        // Another authority.
        format!("https://evil.example/{TENANT}/v2.0"),
        // The v1 form is not what the v2 sign-in issues.
        format!("https://sts.windows.net/{TENANT}/"),
    ] {
        assert!(
            matches!(refused("iss", json!(iss)), IdTokenError::Issuer(_)),
            "{iss}"
        );
    }
}

#[test]
fn a_wrong_or_missing_nonce_is_refused() {
    for nonce in [json!("another-browsers-nonce"), Value::Null, json!("")] {
        assert_eq!(refused("nonce", nonce), IdTokenError::Nonce);
    }
}

#[test]
fn an_expired_or_not_yet_valid_token_is_refused_beyond_the_leeway() {
    let exp = json!(now().timestamp() - LEEWAY_SECS - 1);
    assert!(matches!(refused("exp", exp), IdTokenError::Expired(_)));
    let exp = json!(now().timestamp() - LEEWAY_SECS + 5);
    assert!(check(&with("exp", exp)).is_ok(), "within the leeway");
    let nbf = json!(now().timestamp() + LEEWAY_SECS + 10);
    assert!(matches!(refused("nbf", nbf), IdTokenError::NotYetValid(_)));
}

#[test]
fn a_token_without_a_tenant_or_person_is_refused() {
    assert!(matches!(
        refused("oid", Value::Null),
        IdTokenError::Malformed(_)
    ));
    assert!(matches!(
        refused("tid", json!("contoso")),
        IdTokenError::Malformed(_)
    ));
}

#[test]
fn only_global_and_privileged_role_administrators_may_grant_application_permissions() {
    let with = |wids: Value| {
        let mut claims = claims(TENANT);
        claims["wids"] = wids;
        check(&claims).unwrap()
    };
    assert!(with(json!([PRIVILEGED_ROLE_ADMINISTRATOR])).may_grant_application_permissions());
    // Cloud Application Administrator and Application Administrator cannot.
    let app_admins = with(json!([
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
    ]));
    assert!(!app_admins.may_grant_application_permissions());
    let member = with(json!(["b79fbf4d-3ef9-4689-8143-76b194e85509"]));
    assert!(!member.may_grant_application_permissions());
    let mut claims = claims(TENANT);
    claims.as_object_mut().unwrap().remove("wids");
    let unknown = check(&claims).unwrap();
    assert_eq!(unknown.wids, None, "no claim is not an empty list");
    assert!(!unknown.may_grant_application_permissions());
}
