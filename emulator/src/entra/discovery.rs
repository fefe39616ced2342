//! OpenID discovery (v1 and v2, per tenant and `common`), signing keys, and the instance
//! discovery MSAL calls first (§8.4). The documents carry every field §8.4 lists, and
//! `claims_supported` as Entra's v1 and v2 documents list it; instance discovery names the
//! emulator's host with the public cloud's aliases (`login.microsoftonline.com`,
//! `login.windows.net`, `login.microsoft.com`, `sts.windows.net`), then the national clouds.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::shared::Data;

const TEMPLATE: &str = "{tenantid}";

/// `claims_supported` of Entra's v2.0 document, in its order, space-separated.
const CLAIMS_V2: &str = "sub iss cloud_instance_name cloud_instance_host_name cloud_graph_host_name \
    msgraph_host aud exp iat auth_time acr nonce preferred_username name tid ver at_hash \
    c_hash email";

/// `claims_supported` of Entra's v1 document, in its order, space-separated.
const CLAIMS_V1: &str = "sub iss cloud_instance_name cloud_instance_host_name cloud_graph_host_name \
    msgraph_host aud exp iat auth_time acr amr nonce email given_name family_name nickname";

/// The other clouds instance discovery lists after the public one: `(preferred_network,
/// preferred_cache, aliases)`, as Entra's answer has them.
const NATIONAL_CLOUDS: [(&str, &str, &[&str]); 4] = [
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    ),
    (
        "login.microsoftonline.de",
        "login.microsoftonline.de",
        &["login.microsoftonline.de"],
    ),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    ),
    (
        "login-us.microsoftonline.com",
        "login-us.microsoftonline.com",
        &["login-us.microsoftonline.com"],
    ),
];

/// `consumers` is not one of them: it names the personal accounts' tenant (`9188040d-…`),
/// whose documents carry its own issuer, as Entra's do.
fn is_multi(tenant: &str) -> bool {
    matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations"
    )
}

/// The tenant id as it appears in issuers: the GUID for a known tenant (also when named by
/// domain), the `{tenantid}` template for `common`/`organizations`.
fn issuer_tenant(shared: &Data, tenant: &str) -> Option<String> {
    if is_multi(tenant) {
        return Some(TEMPLATE.to_owned());
    }
    shared.world().find_tenant(tenant).map(|t| t.id.to_string())
}

fn not_found(shared: &Data, tenant: &str) -> HttpResponse {
    crate::http::entra_error(
        shared.clock.now(),
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

/// The paths of an OpenID configuration: where the emulator is, the tenant as issuers name it,
/// and as endpoint paths do (a multi-tenant segment stays as asked, in lower case; a tenant named
/// by domain becomes its GUID).
struct Names<'a> {
    base: &'a str,
    tid: String,
    path: String,
}

/// The version's own part of a document: its token endpoint, its key set, and the fields that
/// follow those.
type Own = (String, String, serde_json::Value);

/// An OpenID configuration: the fields v1 and v2 open with, the version's own, then those they
/// both end with, in Entra's order.
fn openid_document(
    shared: &Data,
    tenant: &str,
    own: impl FnOnce(&Names<'_>) -> Own,
) -> HttpResponse {
    let Some(tid) = issuer_tenant(shared, tenant) else {
        return not_found(shared, tenant);
    };
    let path = if is_multi(tenant) {
        tenant.to_lowercase()
    } else {
        tid.clone()
    };
    let base = shared.base_url.as_str();
    let (token_endpoint, jwks_uri, own) = own(&Names {
        base,
        tid,
        path: path.clone(),
    });
    let mut body = json!({
        "token_endpoint": token_endpoint,
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": jwks_uri,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let tail = json!({
        "kerberos_endpoint": format!("{base}/{path}/kerberos"),
        "tenant_region_scope": if is_multi(tenant) { serde_json::Value::Null } else { json!("WW") },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    if let (Some(map), serde_json::Value::Object(own), serde_json::Value::Object(tail)) =
        (body.as_object_mut(), own, tail)
    {
        map.extend(own);
        map.extend(tail);
    }
    cached(body)
}

fn cached(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "max-age=86400, private"))
        .content_type("application/json; charset=utf-8")
        .json(body)
}

pub async fn openid_v2(shared: Data, tenant: web::Path<String>) -> HttpResponse {
    openid_document(&shared, &tenant, |Names { base, tid, path }| {
        (
            format!("{base}/{path}/oauth2/v2.0/token"),
            format!("{base}/{path}/discovery/v2.0/keys"),
            json!({
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": format!("{base}/{tid}/v2.0"),
                "request_uri_parameter_supported": false,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": format!("{base}/{path}/oauth2/v2.0/authorize"),
                "device_authorization_endpoint": format!("{base}/{path}/oauth2/v2.0/devicecode"),
                "http_logout_supported": true,
                "frontchannel_logout_supported": true,
                "end_session_endpoint": format!("{base}/{path}/oauth2/v2.0/logout"),
                "claims_supported": CLAIMS_V2.split_whitespace().collect::<Vec<_>>(),
            }),
        )
    })
}

pub async fn openid_v1(shared: Data, tenant: web::Path<String>) -> HttpResponse {
    openid_document(&shared, &tenant, |Names { base, tid, path }| {
        (
            format!("{base}/{path}/oauth2/token"),
            format!("{base}/common/discovery/keys"),
            json!({
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                "scopes_supported": ["openid"],
                "issuer": format!("https://sts.windows.net/{tid}/"),
                "microsoft_multi_refresh_token": true,
                "authorization_endpoint": format!("{base}/{path}/oauth2/authorize"),
                "device_authorization_endpoint": format!("{base}/{path}/oauth2/devicecode"),
                "http_logout_supported": true,
                "frontchannel_logout_supported": true,
                "end_session_endpoint": format!("{base}/{path}/oauth2/logout"),
                "claims_supported": CLAIMS_V1.split_whitespace().collect::<Vec<_>>(),
                "check_session_iframe": format!("{base}/{path}/oauth2/checksession"),
                "userinfo_endpoint": format!("{base}/{path}/openid/userinfo"),
            }),
        )
    })
}

pub async fn keys_v2(shared: Data, tenant: web::Path<String>) -> HttpResponse {
    let Some(tid) = issuer_tenant(&shared, &tenant) else {
        return not_found(&shared, &tenant);
    };
    let issuer = format!("{}/{tid}/v2.0", shared.base_url);
    cached(json!({"keys": [shared.key.jwk(Some(&issuer))]}))
}

pub async fn keys_v1(shared: Data, tenant: web::Path<String>) -> HttpResponse {
    if issuer_tenant(&shared, &tenant).is_none() {
        return not_found(&shared, &tenant);
    }
    cached(json!({"keys": [shared.key.jwk(None)]}))
}

#[derive(Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…`
pub async fn instance(shared: Data, query: web::Query<InstanceQuery>) -> HttpResponse {
    let base = &shared.base_url;
    let host = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let authority = query
        .authorization_endpoint
        .clone()
        .unwrap_or_else(|| format!("{base}/common/oauth2/authorize"));
    let tenant = url::Url::parse(&authority)
        .ok()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_owned))
        })
        .unwrap_or_else(|| "common".to_owned());
    // The emulator's host stands where Entra's public cloud does, with its aliases, so a
    // client's cache treats them as one; the national clouds follow as Entra lists them.
    let mut metadata = vec![json!({
        "preferred_network": host,
        "preferred_cache": host,
        "aliases": [host, "login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"],
    })];
    metadata.extend(NATIONAL_CLOUDS.iter().map(|(network, cache, aliases)| {
        json!({"preferred_network": network, "preferred_cache": cache, "aliases": aliases})
    }));
    cached(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": metadata,
    }))
}
