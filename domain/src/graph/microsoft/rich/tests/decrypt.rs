use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use rsa010::{Oaep, PrivateKey, pkcs8::DecodePrivateKey};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::*;

// -- encryptedContent, built as Graph builds it (§5.3 inverted) ------------------------------

fn wrap_sha1(k: &[u8]) -> Vec<u8> {
    let public = PrivateKey::from_pkcs8_der(&KEYS.pkcs8_der)
        .unwrap()
        .to_public_key();
    public
        .encrypt(&mut getrandom::SysRng, Oaep::<Sha1>::new(), k)
        .unwrap()
}

fn wrap_sha256(k: &[u8]) -> Vec<u8> {
    let public = PrivateKey::from_pkcs8_der(&KEYS.pkcs8_der)
        .unwrap()
        .to_public_key();
    public
        .encrypt(&mut getrandom::SysRng, Oaep::<Sha256>::new(), k)
        .unwrap()
}

/// A fresh random K; data = AES-256-CBC(K, iv = K[0..16], PKCS#7); dataSignature =
/// HMAC-SHA256(K, data); dataKey = `wrap(K)`; the certificate's upper-hex SHA-1.
fn encrypt_as_graph(resource: &Value, wrap: fn(&[u8]) -> Vec<u8>) -> EncryptedContent {
    encrypt_bytes_as_graph(&serde_json::to_vec(resource).unwrap(), wrap)
}

fn encrypt_bytes_as_graph(plaintext: &[u8], wrap: fn(&[u8]) -> Vec<u8>) -> EncryptedContent {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).unwrap();
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&k[..16]);
    let data = cbc::Encryptor::<aes::Aes256>::new(&k.into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(plaintext);
    let signature = <Hmac<Sha256> as KeyInit>::new_from_slice(&k)
        .unwrap()
        .chain_update(&data)
        .finalize()
        .into_bytes();
    let thumbprint: String = Sha1::digest(&KEYS.certificate_der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    EncryptedContent {
        data: STANDARD.encode(&data),
        data_signature: STANDARD.encode(signature),
        data_key: STANDARD.encode(wrap(&k)),
        encryption_certificate_id: "ghc-20261201-0a1b2c3d".into(),
        encryption_certificate_thumbprint: thumbprint,
    }
}

fn message() -> Value {
    json!({
        "@odata.type": "#Microsoft.Graph.Message",
        "id": "AAMkAGUwNjQ4ZjIxAAA=",
        "subject": "Board minutes — Q4 ✓",
        "receivedDateTime": "2026-12-01T09:00:00Z",
        "receivedDateTime@odata.type": "#DateTimeOffset",
    })
}

fn flip_one_byte(base64: &str) -> String {
    let mut bytes = STANDARD.decode(base64).unwrap();
    bytes[5] ^= 0x01;
    STANDARD.encode(bytes)
}

fn decrypted(content: &EncryptedContent) -> Result<Value, RichError> {
    decrypt(content, &KEYS.pkcs8_der, &KEYS.certificate_der)
}

/// Graph's encryption of the message, changed by `tamper` on the way, then decrypted.
fn tampered(tamper: impl FnOnce(&mut EncryptedContent)) -> Result<Value, RichError> {
    let mut content = encrypt_as_graph(&message(), wrap_sha1);
    tamper(&mut content);
    decrypted(&content)
}

#[test]
fn a_payload_encrypted_as_graph_does_decrypts_to_the_resource() {
    let content = encrypt_as_graph(&message(), wrap_sha1);
    assert_eq!(decrypted(&content).unwrap(), message());

    // The camelCase field names of §5.2.
    let parsed: EncryptedContent =
        serde_json::from_value(serde_json::to_value(&content).unwrap()).unwrap();
    assert_eq!(parsed, content);
    assert!(serde_json::to_value(&content).unwrap()["encryptionCertificateThumbprint"].is_string());
}

#[test]
fn decrypted_content_keeps_graphs_key_order_byte_for_byte() {
    // As Graph writes a message's $select output: annotations first, keys not sorted.
    let graph = r##"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Users('u')/Messages(subject,importance)/$entity","@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users('u')/Messages('m')","@odata.etag":"W/\"CQAAABYAAAD\"","subject":"Board minutes","importance":"normal","id":"m"}"##;
    let content = encrypt_bytes_as_graph(graph.as_bytes(), wrap_sha1);
    let value = decrypted(&content).unwrap();
    assert_eq!(serde_json::to_string(&value).unwrap(), graph);
}

#[test]
fn one_parsed_key_decrypts_many_items_each_with_its_own_k() {
    let key = DecryptionKey::new(&KEYS.pkcs8_der, &KEYS.certificate_der).unwrap();
    assert_eq!(key.thumbprint(), thumbprint(&KEYS.certificate_der));
    assert_eq!(key.thumbprint().len(), 40);
    for i in 0..3 {
        let resource = json!({"id": i, "body": "x".repeat(i * 40)});
        let content = encrypt_as_graph(&resource, wrap_sha1);
        assert_eq!(key.decrypt(&content).unwrap(), resource);
    }
    assert!(!format!("{key:?}").contains("PrivateKey {"));
}

#[test]
fn a_thumbprint_in_lower_case_is_the_same_certificate() {
    let mut content = encrypt_as_graph(&message(), wrap_sha1);
    content.encryption_certificate_thumbprint =
        content.encryption_certificate_thumbprint.to_lowercase();
    assert_eq!(decrypted(&content).unwrap(), message());
}

#[test]
fn tampered_data_fails_the_signature_check() {
    let tampered = tampered(|c| c.data = flip_one_byte(&c.data));
    assert!(matches!(tampered, Err(RichError::DataSignature)));
}

#[test]
fn a_tampered_data_signature_fails() {
    let tampered = tampered(|c| c.data_signature = flip_one_byte(&c.data_signature));
    assert!(matches!(tampered, Err(RichError::DataSignature)));
}

#[test]
fn a_signature_of_another_item_fails() {
    let another = encrypt_as_graph(&message(), wrap_sha1).data_signature;
    let tampered = tampered(|c| c.data_signature = another);
    assert!(matches!(tampered, Err(RichError::DataSignature)));
}

#[test]
fn a_tampered_data_key_does_not_unwrap() {
    let tampered = tampered(|c| c.data_key = flip_one_byte(&c.data_key));
    assert!(matches!(tampered, Err(RichError::KeyUnwrap)));
}

#[test]
fn a_key_wrapped_with_oaep_sha256_does_not_unwrap() {
    let content = encrypt_as_graph(&message(), wrap_sha256);
    assert!(matches!(decrypted(&content), Err(RichError::KeyUnwrap)));
}

#[test]
fn a_wrapped_key_that_is_not_32_bytes_is_refused() {
    let tampered = tampered(|c| c.data_key = STANDARD.encode(wrap_sha1(&[7u8; 16])));
    assert!(matches!(tampered, Err(RichError::KeyLength(16))));
}

#[test]
fn another_certificates_thumbprint_is_refused_before_any_decryption() {
    let mut content = encrypt_as_graph(&message(), wrap_sha1);
    content.encryption_certificate_thumbprint = "4B95353E086AD37196606ACF834A14532F03E6DB".into();
    let err = decrypted(&content).unwrap_err();
    assert!(matches!(err, RichError::Thumbprint { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("4B95353E086AD37196606ACF834A14532F03E6DB")
    );
}

#[test]
fn url_safe_or_broken_base64_is_refused_naming_the_field() {
    let mut content = encrypt_as_graph(&message(), wrap_sha1);
    content.data_signature = "-_8=".into();
    assert!(matches!(
        decrypted(&content),
        Err(RichError::Base64("dataSignature"))
    ));
}

#[test]
fn a_key_that_is_not_pkcs8_is_refused() {
    let content = encrypt_as_graph(&message(), wrap_sha1);
    assert!(matches!(
        decrypt(&content, b"not a key", &KEYS.certificate_der),
        Err(RichError::PrivateKey)
    ));
}
