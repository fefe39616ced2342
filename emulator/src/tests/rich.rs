//! Rich notifications (§5): the encrypted resource decrypts with a decryption written here,
//! step by step from §5.3 with RustCrypto and the subscriber's private key, and the
//! validationTokens verify against the emulator's published keys with the claims of §5.4.

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use rsa::{Oaep, PrivateKey, pkcs8::DecodePrivateKey};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::{fixtures, harness::*, inbox::*};
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

const CHANGE_TRACKING: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";

/// The subscriber's certificate as Graph takes it: base64 of the DER (§1.1).
pub(super) fn certificate() -> String {
    STANDARD.encode(crate::crypto::pem_or_base64_to_der(APP_CERT).unwrap())
}

fn rich_subscription(emu: &Emu, url: &str) -> Value {
    json!({"changeType": "created,updated",
           "resource": format!("users/{USER}/messages?$select=subject,bodyPreview,receivedDateTime,from"),
           "notificationUrl": url, "expirationDateTime": emu.expires_in(600),
           "clientState": "secret-client-state", "includeResourceData": true,
           "encryptionCertificate": certificate(), "encryptionCertificateId": "graphhook-2026"})
}

fn message_created() -> Value {
    json!({"tenant": DEFAULT_TENANT_ID, "resource": format!("users/{USER}/messages"),
           "changeType": "created", "properties": {"subject": "Board minutes"}})
}

/// §5.3, decryption as a receiver writes it: RSA-OAEP-SHA1 unwraps the key, HMAC-SHA256 over
/// the ciphertext bytes checks `dataSignature`, AES-256-CBC with IV = key[0..16] and PKCS#7.
pub(super) fn decrypt(content: &Value) -> Value {
    serde_json::from_str(&decrypt_text(content)).unwrap()
}

/// The decrypted plaintext, byte for byte (what a tenant receives).
pub(super) fn decrypt_text(content: &Value) -> String {
    let private = PrivateKey::from_pkcs8_pem(APP_KEY).unwrap();
    let data_key = STANDARD
        .decode(content["dataKey"].as_str().unwrap())
        .unwrap();
    assert!(
        private.decrypt(Oaep::<Sha256>::new(), &data_key).is_err(),
        "OAEP-SHA-256 fails: the key is wrapped with SHA-1"
    );
    let key = private.decrypt(Oaep::<Sha1>::new(), &data_key).unwrap();
    assert_eq!(key.len(), 32, "AES-256");
    let data = STANDARD.decode(content["data"].as_str().unwrap()).unwrap();
    let expected = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .unwrap()
        .chain_update(&data)
        .finalize()
        .into_bytes();
    assert_eq!(
        STANDARD.encode(expected),
        content["dataSignature"].as_str().unwrap(),
        "HMAC-SHA256 over the decoded ciphertext"
    );
    let mut aes_key = [0u8; 32];
    aes_key.copy_from_slice(&key);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&key[..16]);
    let plaintext = cbc::Decryptor::<aes::Aes256>::new(&aes_key.into(), &iv.into())
        .decrypt_padded_vec::<Pkcs7>(&data)
        .unwrap();
    String::from_utf8(plaintext).unwrap()
}

/// Verifies a validation token against the JWKS at `keys_path`; returns its claims.
async fn verify(emu: &Emu, token: &str, keys_path: &str, issuer: &str) -> Value {
    let keys = emu.get_json(keys_path).await;
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = published_jwk(&keys, &kid);
    let decoding = jwk_decoding_key(key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // Time is checked below against the emulator's clock, not the wall clock.
    validation.validate_exp = false;
    validation.set_audience(&[DEFAULT_CLIENT_ID]);
    validation.set_issuer(&[issuer]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("signature, aud and iss verify")
        .claims;
    let now = emu.clock.now().timestamp();
    assert!(claims["nbf"].as_i64().unwrap() <= now && now < claims["exp"].as_i64().unwrap());
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    claims
}

#[actix_web::test]
async fn a_rich_payload_decrypts_independently_and_its_validation_token_verifies() {
    let (emu, inbox, _) = subscribed(rich_subscription).await;
    emu.change(message_created()).await;
    let body = inbox.wait_for_posts(1).await[0].body.clone();
    let item = &body["value"][0];

    // §5.2: the five fields, standard base64, the certificate's id and upper-hex SHA-1.
    let sample: Value = serde_json::from_str(fixtures::ENCRYPTED_CONTENT).unwrap();
    let content = &item["encryptedContent"];
    assert_eq!(
        fixtures::shape(content),
        fixtures::shape(&sample["encryptedContent"])
    );
    assert_eq!(content["encryptionCertificateId"], "graphhook-2026");
    let der = crate::crypto::pem_or_base64_to_der(APP_CERT).unwrap();
    let thumbprint: String = Sha1::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(content["encryptionCertificateThumbprint"], thumbprint);

    let resource = decrypt(content);
    assert!(
        resource.get("id").is_none() && resource.get("@odata.type").is_none(),
        "§5.3 and Microsoft's sample: only the selected properties, no id or @odata keys"
    );
    assert_eq!(
        resource["subject"], "Board minutes",
        "the change's own property"
    );
    assert_eq!(resource["receivedDateTime@odata.type"], "#DateTimeOffset");
    assert!(resource["from"]["emailAddress"]["address"].is_string());
    assert!(
        resource.get("isRead").is_none() && resource.get("toRecipients").is_none(),
        "only the $select-ed properties: {resource}"
    );

    // §5.4: one token for the one (app, tenant); v2 claims by default.
    let tokens = body["validationTokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let issuer = format!("{}/{DEFAULT_TENANT_ID}/v2.0", emu.emu.base_url);
    let claims = verify(
        &emu,
        tokens[0].as_str().unwrap(),
        &format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"),
        &issuer,
    )
    .await;
    assert_eq!(claims["azp"], CHANGE_TRACKING);
    assert_eq!(claims["ver"], "2.0");
    assert!(claims.get("appid").is_none());

    // Switched to v1: `https://sts.windows.net/{tenant}/`, `appid`, the v1 keys.
    emu.behaviour(json!({"validation_token_version": "v1"}))
        .await;
    emu.change(message_created()).await;
    let body = inbox.wait_for_posts(2).await[1].body.clone();
    let token = body["validationTokens"][0].as_str().unwrap();
    let claims = verify(
        &emu,
        token,
        "/common/discovery/keys",
        &format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/"),
    )
    .await;
    assert_eq!(claims["appid"], CHANGE_TRACKING);
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["ver"], "1.0");
    assert!(claims.get("azp").is_none());
}

#[actix_web::test]
async fn each_item_gets_its_own_key_and_each_app_tenant_pair_its_own_token() {
    let emu = Emu::spawn_with(accept_unknown_users).await;
    emu.consent(NEW_TENANT, None).await;
    let inbox = inbox();
    for tenant in [DEFAULT_TENANT_ID, NEW_TENANT] {
        let token = emu.token_for(tenant).await;
        emu.subscribe(&token, rich_subscription(&emu, &inbox.url))
            .await;
    }
    let mut other_tenant = message_created();
    other_tenant["tenant"] = json!(NEW_TENANT);
    emu.change(json!([message_created(), other_tenant])).await;
    let body = inbox.wait_for_posts(1).await[0].body.clone();
    let items = body["value"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_ne!(
        items[0]["encryptedContent"]["dataKey"],
        items[1]["encryptedContent"]["dataKey"]
    );
    assert_eq!(
        decrypt(&items[1]["encryptedContent"])["subject"],
        "Board minutes"
    );
    let tenants: std::collections::BTreeSet<String> = body["validationTokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            claims_of(t.as_str().unwrap())["tid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        tenants,
        [DEFAULT_TENANT_ID.to_owned(), NEW_TENANT.to_owned()].into()
    );
}
