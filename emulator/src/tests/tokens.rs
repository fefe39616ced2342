//! The token endpoint (§8.2, §8.3) and discovery (§8.4).

use serde_json::Value;

use super::{fixtures, harness::*};
use crate::config::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

fn payload(token: &str) -> Value {
    claims_of(token)
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[actix_web::test]
async fn a_secret_gets_a_v1_graph_token_with_the_consented_roles() {
    let emu = Emu::spawn().await;
    let response = emu.secret_token_response(DEFAULT_TENANT_ID).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        fixtures::shape(&body),
        fixtures::shape_of(fixtures::TOKEN_RESPONSE)
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);

    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid, header.x5t);
    let claims = payload(token);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/")
    );
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["oid"], claims["sub"]);
    assert!(has_role(&claims, "Mail.Read"));
    assert!(claims.get("scp").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3599
    );
}

#[actix_web::test]
async fn the_token_is_signed_by_the_key_in_the_jwks() {
    let emu = Emu::spawn().await;
    let token = emu.token().await;
    let keys = emu.get_json("/common/discovery/keys").await;
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], key["x5t"]);
    assert!(key.get("alg").is_none());
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(Some(key["kid"].as_str().unwrap().to_owned()), header.kid);
    let decoding = jwk_decoding_key(key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_audience(&["https://graph.microsoft.com"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());

    let v2 = emu
        .get_json(&format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"))
        .await;
    assert_eq!(
        v2["keys"][0]["issuer"],
        format!("{}/{DEFAULT_TENANT_ID}/v2.0", emu.emu.base_url)
    );
}

#[actix_web::test]
async fn a_certificate_assertion_gets_a_token_and_a_wrong_signature_gets_700027() {
    let emu = Emu::spawn().await;
    let audience = emu.url(&format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"));
    let form = |assertion: &str| {
        vec![
            ("client_id", DEFAULT_CLIENT_ID.to_owned()),
            ("scope", "https://graph.microsoft.com/.default".to_owned()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", assertion.to_owned()),
            ("grant_type", "client_credentials".to_owned()),
        ]
    };
    let send = |assertion: String| {
        let emu = &emu;
        let f = form(&assertion);
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            emu.token_response(DEFAULT_TENANT_ID, &pairs).await
        }
    };

    let good = send(assertion(&emu, APP_KEY, &audience, 600)).await;
    assert_eq!(good.status().as_u16(), 200);
    let body: Value = good.json().await.unwrap();
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["appidacr"],
        "2"
    );

    let (status, error) = error_of(send(assertion(&emu, OTHER_KEY, &audience, 600)).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"], "invalid_client");
    assert_eq!(error["error_codes"][0], 700027);
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027: ")
    );

    let (status, error) = error_of(
        send(assertion(
            &emu,
            APP_KEY,
            "https://elsewhere.example/token",
            600,
        ))
        .await,
    )
    .await;
    assert_eq!(
        (status, error["error_codes"][0].as_u64()),
        (401, Some(700027)),
        "wrong audience"
    );

    let (status, error) = error_of(send(assertion(&emu, APP_KEY, &audience, -60)).await).await;
    assert_eq!(
        (status, error["error_codes"][0].as_u64()),
        (401, Some(700024)),
        "expired assertion"
    );
}

#[actix_web::test]
async fn token_errors_have_entras_codes_bodies_and_statuses() {
    let emu = Emu::spawn().await;
    let emu = &emu;
    let form = |tenant: &'static str, secret: &'static str, scope: &'static str| async move {
        let response = emu
            .token_response(tenant, &client_credentials(secret, scope))
            .await;
        error_of(response).await
    };
    let graph = "https://graph.microsoft.com/.default";
    let secret = crate::config::DEFAULT_CLIENT_SECRET;

    // §8.2 table
    let (status, body) = form(NEW_TENANT, secret, graph).await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (400, Some("unauthorized_client"), Some(700016))
    );
    assert_eq!(
        fixtures::shape(&body),
        fixtures::shape_of(fixtures::TOKEN_ERROR)
    );
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("AADSTS700016: Application with identifier"),
        "{description}"
    );
    assert!(
        description.contains("\r\nTrace ID: ")
            && description.contains("\r\nCorrelation ID: ")
            && description.contains("\r\nTimestamp: ")
    );
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp, "2026-03-02 10:00:00Z", "YYYY-MM-DD HH:MM:SSZ");

    let (status, body) = form(DEFAULT_TENANT_ID, "the-secret-id-not-the-value", graph).await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (401, Some("invalid_client"), Some(7000215))
    );

    let (status, body) = form("0f0f0f0f-0000-4000-8000-000000000000", secret, graph).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(90002))
    );

    let (status, body) = form(
        DEFAULT_TENANT_ID,
        secret,
        "https://graph.microsoft.com/.default https://outlook.office.com/.default",
    )
    .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (400, Some("invalid_scope"), Some(70011))
    );

    let (status, body) = form(
        DEFAULT_TENANT_ID,
        secret,
        "https://graph.microsoft.com/Mail.Read",
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(1002012))
    );
}

#[actix_web::test]
async fn an_expired_secret_gets_7000222_and_basic_auth_works() {
    let emu = Emu::spawn_with(|c| {
        c.app.secrets.push(crate::config::SecretConfig {
            value: "old-secret".into(),
            expires_at: Some(start() - chrono::Duration::days(1)),
        })
    })
    .await;
    let response = emu
        .token_response(
            DEFAULT_TENANT_ID,
            &client_credentials("old-secret", GRAPH_DEFAULT),
        )
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(7000222))
    );

    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!(
            "{DEFAULT_CLIENT_ID}:{}",
            crate::config::DEFAULT_CLIENT_SECRET
        ),
    );
    let response = emu
        .client
        .post(emu.url(&format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials&x-client-SKU=MSAL.Rust")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "unknown fields are ignored"
    );
}

#[actix_web::test]
async fn a_service_principal_without_grants_gets_a_token_without_roles() {
    let emu = Emu::spawn().await;
    assert_eq!(
        emu.tenant_call(reqwest::Method::POST, NEW_TENANT, "service-principal")
            .await,
        200
    );
    let token = emu.token_for(NEW_TENANT).await;
    assert!(
        payload(&token).get("roles").is_none(),
        "§8.2: no roles claim without a grant"
    );
}

#[actix_web::test]
async fn during_the_propagation_delay_tokens_lack_roles_or_fail() {
    let emu = Emu::spawn().await;
    emu.behaviour(serde_json::json!({"consent_propagation_secs": 120}))
        .await;
    assert_eq!(
        emu.tenant_call(reqwest::Method::POST, NEW_TENANT, "consent")
            .await,
        200
    );
    assert!(
        payload(&emu.token_for(NEW_TENANT).await)
            .get("roles")
            .is_none()
    );

    emu.behaviour(serde_json::json!({"propagation_effect": "not_found"}))
        .await;
    let (status, body) = error_of(emu.secret_token_response(NEW_TENANT).await).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(700016))
    );

    emu.behaviour(serde_json::json!({"propagation_effect": "consent_required"}))
        .await;
    let (status, body) = error_of(emu.secret_token_response(NEW_TENANT).await).await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (400, Some("invalid_grant"), Some(65001))
    );

    emu.clock.advance(chrono::Duration::seconds(121));
    assert!(payload(&emu.token_for(NEW_TENANT).await)["roles"].is_array());
}

#[actix_web::test]
async fn revoking_consent_makes_the_token_endpoint_answer_700016() {
    let emu = Emu::spawn().await;
    emu.token().await;
    assert_eq!(
        emu.tenant_call(reqwest::Method::DELETE, DEFAULT_TENANT_ID, "consent")
            .await,
        200
    );
    let (status, body) = error_of(emu.secret_token_response(DEFAULT_TENANT_ID).await).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(700016))
    );

    // Revoking only the grants keeps the app: tokens come back without roles.
    emu.consent(DEFAULT_TENANT_ID, None).await;
    emu.control(
        reqwest::Method::DELETE,
        &format!("/tenants/{DEFAULT_TENANT_ID}/consent?mode=grants"),
        None,
    )
    .await;
    assert!(payload(&emu.token().await).get("roles").is_none());
}

#[actix_web::test]
async fn openid_configuration_v1_and_v2_for_tenants_and_common() {
    let emu = Emu::spawn().await;
    let get = |path: String| {
        let emu = &emu;
        async move {
            let response = emu.get(&path).await;
            assert_eq!(
                response.headers()["cache-control"],
                "max-age=86400, private"
            );
            response.json::<Value>().await.unwrap()
        }
    };
    let v2 = get(format!(
        "/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(
        v2["issuer"],
        format!("{}/{DEFAULT_TENANT_ID}/v2.0", emu.emu.base_url)
    );
    assert_eq!(
        v2["jwks_uri"],
        format!(
            "{}/{DEFAULT_TENANT_ID}/discovery/v2.0/keys",
            emu.emu.base_url
        )
    );
    assert_eq!(
        v2["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic"
        ])
    );
    assert_eq!(v2["msgraph_host"], "graph.microsoft.com");
    // By domain, the issuer still names the tenant GUID.
    let by_domain =
        get("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration".into()).await;
    assert_eq!(by_domain["issuer"], v2["issuer"]);
    let common = get("/common/v2.0/.well-known/openid-configuration".into()).await;
    assert_eq!(
        common["issuer"],
        format!("{}/{{tenantid}}/v2.0", emu.emu.base_url)
    );
    assert!(common["tenant_region_scope"].is_null());
    let v1 = get(format!(
        "/{DEFAULT_TENANT_ID}/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(
        v1["issuer"],
        format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/")
    );

    let instance = emu.get_json(&format!("/common/discovery/instance?api-version=1.1&authorization_endpoint={}/common/oauth2/v2.0/authorize", emu.emu.base_url)).await;
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            emu.emu.base_url
        )
    );
    assert!(
        instance["metadata"][0]["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "login.microsoftonline.com")
    );
}

#[actix_web::test]
async fn the_example_config_file_loads() {
    // Read when the test runs, not when it was compiled: a build reused from another checkout
    // would otherwise look in that checkout.
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let path = std::path::Path::new(&root).join("emulator.example.toml");
    let config = crate::EmulatorConfig::from_file(&path).unwrap();
    assert_eq!(config.tenants.len(), 2);
    assert_eq!(config.app.secrets.len(), 2);
    assert_eq!(
        config.behaviour.http_notification_urls,
        crate::config::HttpUrls::Loopback
    );
    let emu = crate::server::Emulator::new(
        crate::EmulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..config
        },
        graphhook_platform::Clock::manual(start()),
    )
    .spawn()
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/{NEW_TENANT}/oauth2/v2.0/token", emu.base_url))
        .form(&client_credentials(
            "graphhook-emulator-client-secret",
            GRAPH_DEFAULT,
        ))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let roles = claims_of(body["access_token"].as_str().unwrap())["roles"].clone();
    assert_eq!(
        roles,
        serde_json::json!(["User.Read.All", "Group.Read.All"])
    );
}
