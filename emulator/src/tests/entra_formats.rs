//! Entra's formats to the character (§8.2, §8.4): every token error's `error_description` is
//! exactly `AADSTSnnnnn: <message>\r\nTrace ID: <guid>\r\nCorrelation ID: <guid>\r\nTimestamp:
//! <yyyy-mm-dd hh:mm:ssZ>`, agreeing with the body's own fields; discovery documents carry
//! every field §8.4 lists and Entra's `claims_supported`; instance discovery lists the hosts.

use serde_json::Value;

use super::harness::*;
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};

/// Checks the four lines of an error description against the body; returns the message.
fn strict_description(body: &Value) -> String {
    let description = body["error_description"].as_str().unwrap();
    let lines: Vec<&str> = description.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "four CRLF-separated lines: {description:?}");
    let code = body["error_codes"][0].as_u64().unwrap();
    let message = lines[0]
        .strip_prefix(&format!("AADSTS{code}: "))
        .unwrap_or_else(|| panic!("AADSTS{code}: first: {description:?}"));
    assert!(!message.is_empty() && !message.contains('\n'));
    assert_eq!(
        lines[1],
        format!("Trace ID: {}", body["trace_id"].as_str().unwrap())
    );
    assert_eq!(
        lines[2],
        format!(
            "Correlation ID: {}",
            body["correlation_id"].as_str().unwrap()
        )
    );
    for id in [&body["trace_id"], &body["correlation_id"]] {
        uuid::Uuid::parse_str(id.as_str().unwrap()).expect("a GUID");
    }
    assert_eq!(lines[3], "Timestamp: 2026-03-02 10:00:00Z");
    assert_eq!(body["timestamp"], "2026-03-02 10:00:00Z");
    message.to_owned()
}

/// A token request: the tenant in the URL, the form, the AADSTS code, the exact message if known.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u64, Option<&'a str>);

#[actix_web::test]
async fn every_token_error_description_has_exactly_entras_four_lines() {
    let emu = Emu::spawn().await;
    let graph = GRAPH_DEFAULT;
    let cases: [Case; 7] = [
        (
            "common",
            client_credentials(DEFAULT_CLIENT_SECRET, graph).to_vec(),
            90002,
            Some(
                "Tenant 'common' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            ),
        ),
        (
            "0f0f0f0f-0000-4000-8000-000000000000",
            client_credentials(DEFAULT_CLIENT_SECRET, graph).to_vec(),
            90002,
            None,
        ),
        (
            NEW_TENANT,
            client_credentials(DEFAULT_CLIENT_SECRET, graph).to_vec(),
            700016,
            None,
        ),
        (
            DEFAULT_TENANT_ID,
            client_credentials("wrong", graph).to_vec(),
            7000215,
            None,
        ),
        (
            DEFAULT_TENANT_ID,
            client_credentials(
                DEFAULT_CLIENT_SECRET,
                "https://graph.microsoft.com/Mail.Read",
            )
            .to_vec(),
            1002012,
            None,
        ),
        (
            DEFAULT_TENANT_ID,
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", "http://127.0.0.1:8080/onboarding/signed-in"),
            ],
            70000,
            Some("The provided value for the 'code' parameter is not valid."),
        ),
        (
            DEFAULT_TENANT_ID,
            vec![("client_id", DEFAULT_CLIENT_ID), ("grant_type", "password")],
            70003,
            None,
        ),
    ];
    for (tenant, form, code, message) in cases {
        let response = emu.token_response(tenant, &form).await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_codes"][0], code, "{body}");
        let written = strict_description(&body);
        if let Some(message) = message {
            assert_eq!(written, message);
        }
        assert!(
            !written.contains("emulat"),
            "no text beyond Entra's: {written}"
        );
    }
}

async fn get(emu: &Emu, path: &str) -> Value {
    let response = emu.get(path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.json().await.unwrap()
}

/// A JSON array of the space-separated words of `list`.
fn words(list: &str) -> Value {
    list.split_whitespace().collect::<Vec<_>>().into()
}

#[actix_web::test]
async fn discovery_documents_carry_every_field_and_entras_claims() {
    let emu = Emu::spawn().await;
    let v2 = get(
        &emu,
        &format!("/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    for field in [
        "issuer",
        "jwks_uri",
        "token_endpoint",
        "authorization_endpoint",
        "device_authorization_endpoint",
        "end_session_endpoint",
        "userinfo_endpoint",
        "token_endpoint_auth_methods_supported",
        "id_token_signing_alg_values_supported",
        "subject_types_supported",
        "tenant_region_scope",
        "cloud_instance_name",
        "msgraph_host",
        "claims_supported",
    ] {
        assert!(v2.get(field).is_some(), "v2 {field}");
    }
    assert_eq!(
        v2["claims_supported"],
        words(
            "sub iss cloud_instance_name cloud_instance_host_name cloud_graph_host_name \
             msgraph_host aud exp iat auth_time acr nonce preferred_username name tid ver at_hash \
             c_hash email"
        )
    );
    let v1 = get(
        &emu,
        &format!("/{DEFAULT_TENANT_ID}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(
        v1["claims_supported"],
        words(
            "sub iss cloud_instance_name cloud_instance_host_name cloud_graph_host_name \
             msgraph_host aud exp iat auth_time acr amr nonce email given_name family_name nickname"
        )
    );

    let instance = get(
        &emu,
        &format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}/{DEFAULT_TENANT_ID}/oauth2/v2.0/authorize",
            emu.emu.base_url
        ),
    )
    .await;
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!(
            "{}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration",
            emu.emu.base_url
        )
    );
    assert_eq!(instance["api-version"], "1.1");
    let metadata = instance["metadata"].as_array().unwrap();
    for entry in metadata {
        let aliases = entry["aliases"].as_array().unwrap();
        assert!(aliases.contains(&entry["preferred_network"]), "{entry}");
        assert!(entry["preferred_cache"].is_string());
    }
    let aliases: Vec<&str> = metadata
        .iter()
        .flat_map(|e| e["aliases"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap())
        .collect();
    for host in [
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
    ] {
        assert!(aliases.contains(&host), "{host} in {aliases:?}");
    }
    assert_eq!(
        metadata[0]["aliases"][0],
        url::Url::parse(&emu.emu.base_url)
            .unwrap()
            .host_str()
            .unwrap()
    );
}
