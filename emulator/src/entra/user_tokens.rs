//! The tokens a signed-in user's authorization code is redeemed for: an OpenID Connect ID token
//! for the app (v2.0 claims, issuer `{authority}/{tid}/v2.0`, pairwise `sub`, `wids` when the
//! app's `groupMembershipClaims` asks for directory roles) and a delegated v1 access token for
//! Graph (`scp`, `upn`), which the app must treat as opaque.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    GRAPH_APP_ID, GRAPH_AUDIENCE,
    claims::{Issued, header},
};
use crate::{
    crypto::SigningKey,
    directory_roles,
    state::{User, is_consumers},
};

/// How long ID tokens live (Entra: one hour).
const ID_TOKEN_LIFETIME: Duration = Duration::hours(1);

/// The claims of an ID token (v2.0).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// `aud`: the client id of the app that signed the user in; `iss`: `{authority}/{tid}/v2.0`.
    #[serde(flatten)]
    pub issued: Issued,
    pub aio: String,
    /// The UPN, when the `email` scope was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub name: String,
    /// The authorize request's `nonce`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub oid: String,
    pub preferred_username: String,
    pub rh: String,
    /// Pairwise: the same user has another `sub` in another app.
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    /// The user's directory role template ids (plus the member role), when the app's
    /// `groupMembershipClaims` names `DirectoryRole` or `All`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wids: Option<Vec<String>>,
}

/// The claims of a delegated Graph access token (v1 shape).
#[derive(Serialize)]
struct DelegatedClaims<'a> {
    #[serde(flatten)]
    issued: Issued,
    acr: &'a str,
    aio: String,
    amr: [&'a str; 1],
    app_displayname: &'a str,
    appid: String,
    appidacr: &'a str,
    idtyp: &'a str,
    name: &'a str,
    oid: String,
    rh: String,
    scp: &'a str,
    sub: String,
    tenant_region_scope: &'a str,
    tid: String,
    unique_name: &'a str,
    upn: &'a str,
    uti: String,
    ver: &'a str,
    wids: Vec<String>,
}

/// Who signed in, to which app, and what the sign-in asked for.
pub struct SignedIn<'a> {
    pub tenant: Uuid,
    pub user: &'a User,
    pub app_id: Uuid,
    pub app_name: &'a str,
    /// `appidacr`: "1" for a secret, "2" for a certificate.
    pub credential: &'a str,
    /// The granted scopes, space-separated.
    pub scp: &'a str,
    pub nonce: Option<&'a str>,
    pub email: bool,
    pub wids: bool,
    pub now: DateTime<Utc>,
}

/// base64url(SHA-256(`oid` ‖ `client_id`)): a subject that differs per app.
fn pairwise_sub(oid: Uuid, client_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{oid}{client_id}").as_bytes()))
}

fn opaque() -> String {
    URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes())
}

/// Signs an ID token; `authority` is the emulator's base URL.
pub fn issue_id_token(
    key: &SigningKey,
    authority: &str,
    signed_in: &SignedIn<'_>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let user = signed_in.user;
    let claims = IdTokenClaims {
        issued: Issued::new(
            signed_in.app_id.to_string(),
            format!("{authority}/{}/v2.0", signed_in.tenant),
            signed_in.now,
            ID_TOKEN_LIFETIME,
        ),
        aio: opaque(),
        email: signed_in.email.then(|| user.user_principal_name.clone()),
        name: user.display_name.clone(),
        nonce: signed_in.nonce.map(str::to_owned),
        oid: user.id.to_string(),
        preferred_username: user.user_principal_name.clone(),
        rh: format!("1.{}.", opaque()),
        sub: pairwise_sub(user.id, &signed_in.app_id.to_string()),
        tid: signed_in.tenant.to_string(),
        uti: opaque(),
        ver: "2.0".into(),
        // Personal accounts hold no directory roles.
        wids: (signed_in.wids && !is_consumers(signed_in.tenant))
            .then(|| directory_roles::wids(&user.roles)),
    };
    jsonwebtoken::encode(&header(key), &claims, &key.encoding)
}

/// Signs a delegated access token for Graph, valid for `lifetime`.
pub fn issue_delegated_access_token(
    key: &SigningKey,
    signed_in: &SignedIn<'_>,
    lifetime: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = signed_in.now;
    let user = signed_in.user;
    let claims = DelegatedClaims {
        issued: Issued::new(
            GRAPH_AUDIENCE,
            format!("https://sts.windows.net/{}/", signed_in.tenant),
            now,
            lifetime,
        ),
        acr: "1",
        aio: opaque(),
        amr: ["pwd"],
        app_displayname: signed_in.app_name,
        appid: signed_in.app_id.to_string(),
        appidacr: signed_in.credential,
        idtyp: "user",
        name: &user.display_name,
        oid: user.id.to_string(),
        rh: format!("0.{}.", opaque()),
        scp: signed_in.scp,
        sub: pairwise_sub(user.id, GRAPH_APP_ID),
        tenant_region_scope: "WW",
        tid: signed_in.tenant.to_string(),
        unique_name: &user.user_principal_name,
        upn: &user.user_principal_name,
        uti: opaque(),
        ver: "1.0",
        wids: if is_consumers(signed_in.tenant) {
            Vec::new()
        } else {
            directory_roles::wids(&user.roles)
        },
    };
    let mut header = header(key);
    header.x5t = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, &key.encoding)
}
