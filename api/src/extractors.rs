//! Extractors that authenticate a caller before the handler runs.

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};

use futures::future::LocalBoxFuture;
use graphhook_domain::{
    DomainError,
    operator::audit::{Actor, NewEntry},
    platform::{
        ids::RowId,
        owned::{self, TenantOwned},
    },
};
use sea_orm::EntityTrait;
use serde::de::DeserializeOwned;

use crate::{error::ApiError, request_id::RequestId, state::Services};

/// An operator, authenticated by `Authorization: Bearer <operator token>` (a JWT signed with
/// `admin.signing_key`, see `graphhook_domain::operator::tokens`).
#[derive(Clone, Debug)]
pub struct Operator {
    /// The name the token carries; admin actions are audited under it.
    pub name: String,
    /// The token's claims (its `jti` and expiry).
    pub claims: std::sync::Arc<graphhook_domain::operator::tokens::OperatorClaims>,
    pub request_id: Option<String>,
}

impl Operator {
    /// Who acts, for the audit log: the operator, by name.
    pub fn actor(&self) -> Actor {
        Actor::operator(&self.name)
    }

    /// An audit log entry of `action` by this operator, in this request.
    pub fn audit(&self, action: &str) -> NewEntry {
        NewEntry::new(self.actor(), action).request_id(self.request_id.clone())
    }
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Operator, ApiError> {
    let state = app_state(req)?;
    let presented = required_bearer(req, "an operator token", "<token>")?;
    let key = state.settings.admin_signing_key();
    let claims = graphhook_domain::operator::tokens::verify(&key, presented, state.clock.now())
        .map_err(|e| ApiError::unauthorized_because(e.rule(), e.to_string()))?;
    // The first statement of most requests: after a database restart it may meet a dead
    // pooled connection, and a read is safe to run again (on a fresh one).
    let revoked = graphhook_domain::platform::db::retry_read(|| {
        graphhook_domain::operator::tokens::is_revoked(&state.db, &claims.jti)
    })
    .await?;
    if revoked {
        let revoked = graphhook_domain::operator::tokens::TokenError::Revoked;
        return Err(ApiError::unauthorized_because(
            revoked.rule(),
            revoked.to_string(),
        ));
    }
    Ok(Operator {
        name: claims.sub.clone(),
        claims: std::sync::Arc::new(claims),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    })
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<Services>, ApiError> {
    req.app_data::<web::Data<Services>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is missing")))
}

/// The token of the `Authorization: Bearer …` header, which must carry `what` (shown as
/// `placeholder` in the 401 that says so).
fn required_bearer<'r>(
    req: &'r HttpRequest,
    what: &str,
    placeholder: &str,
) -> Result<&'r str, ApiError> {
    bearer_token(req).ok_or_else(|| {
        ApiError::unauthorized_because(
            "missing",
            format!("{what} is required: Authorization: Bearer {placeholder}"),
        )
    })
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// A tenant, authenticated by one of its API keys (`Authorization: Bearer ghk_…`). Missing,
/// malformed, unknown and revoked keys get 401; a tenant that is not `active` gets 403.
#[derive(Clone, Debug)]
pub struct TenantAuth {
    pub tenant: graphhook_domain::platform::entities::tenant::Model,
    pub key_id: graphhook_domain::platform::ids::ApiKeyId,
    pub request_id: Option<String>,
}

impl TenantAuth {
    pub fn tenant_id(&self) -> graphhook_domain::platform::ids::TenantId {
        self.tenant.id.into()
    }

    /// Who acts, for the audit log: the tenant, by the API key it used.
    pub fn actor(&self) -> Actor {
        Actor::api_key(self.key_id)
    }

    /// An audit log entry of `action` by this tenant, in this request.
    pub fn audit(&self, action: &str) -> NewEntry {
        NewEntry::new(self.actor(), action)
            .tenant(self.tenant_id())
            .request_id(self.request_id.clone())
    }
}

impl FromRequest for TenantAuth {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate_tenant(&req).await })
    }
}

async fn authenticate_tenant(req: &HttpRequest) -> Result<TenantAuth, ApiError> {
    use graphhook_domain::{platform::entities::tenant::TenantStatus, tenancy::api_keys};
    let state = app_state(req)?;
    let presented = required_bearer(req, "an API key", "<key>")?;
    // An API key, or a portal session made from one. The first statement of every tenant
    // request: after a database restart it may meet a dead pooled connection. It reads (and
    // at most sets the key's last use to now), so it is safe to run again on a fresh one.
    let signing_key = state.settings.admin_signing_key();
    let found = graphhook_domain::platform::db::retry_read(|| async {
        if presented.starts_with("ghk_") {
            api_keys::authenticate(&state.db, &state.clock, presented).await
        } else {
            api_keys::sessions::authenticate(&state.db, &state.clock, &signing_key, presented).await
        }
    })
    .await?;
    let (key, tenant) = match found {
        Ok(found) => found,
        Err(error) => {
            return Err(ApiError::unauthorized_because(
                error.rule(),
                error.to_string(),
            ));
        }
    };
    // A tenant whose consent was revoked may still read (its paused subscriptions, its
    // history) while an administrator consents again; it changes nothing.
    let reading = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let allowed = tenant.status == TenantStatus::Active
        || (tenant.status == TenantStatus::ConsentRevoked && reading);
    if !allowed {
        let status = serde_json::to_value(tenant.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let reason = tenant
            .status_reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return Err(DomainError::Forbidden {
            message: format!("the tenant is {status}{reason}"),
            facts: vec![
                ("rule", Some("tenant_not_active".to_owned())),
                ("tenant_status", Some(status)),
                ("reason", tenant.status_reason.clone()),
            ],
        }
        .into());
    }
    Ok(TenantAuth {
        tenant,
        key_id: key.id.into(),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    })
}

/// One of the authenticated tenant's rows, by the path's `{id}` (its type, `I`, names the
/// table): the tenant is authenticated ([`TenantAuth`]), then the row loaded (a 404 when the
/// tenant has none by that id), before the handler runs.
pub struct Owned<I: RowId>(pub <I::Table as EntityTrait>::Model);

impl<I> FromRequest for Owned<I>
where
    I: RowId<Table: TenantOwned> + DeserializeOwned + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = TenantAuth::extract(&req).await?;
            let id = web::Path::<I>::extract(&req).await?.into_inner();
            let state = web::Data::<Services>::extract(&req).await?;
            let row = owned::find(&state.db, auth.tenant_id(), id)
                .await
                .map_err(ApiError::from)?;
            Ok(Self(row))
        })
    }
}
