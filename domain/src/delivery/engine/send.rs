//! Step 3: signing and sending a batch, concurrently, with the endpoint's signing material kept
//! in memory.
//!
//! What signs and addresses an endpoint's requests (URL, custom headers, live HMAC secrets, the
//! Ed25519 key) is decrypted once and kept per endpoint in a [`SigningCache`], under the
//! endpoint's *version*: the endpoint row's transaction id (`xmin`, new with every update: URL
//! change, disable, headers) and its secrets' ids and expiries (a rotation adds one and gives the
//! old ones an expiry). Every batch reads the version after its claim, in the same statement as
//! the endpoint, and reloads on any difference, so a change committed before a delivery was
//! claimed is never signed or sent with the old value, in any worker process; entries also end
//! after [`MAX_AGE`](super::signing_cache::MAX_AGE). Secrets whose grace ends are dropped at
//! signing time.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::{
    claim::Claimed,
    signing_cache::{Material, SigningCache},
};
use crate::{
    delivery::endpoints,
    delivery::webhooks::{
        crypt::SecretBox,
        sender::{Outcome, Request, Sender},
        signing::signature_header,
    },
    platform::entities::{endpoint, tenant::TenantStatus},
    platform::error::{DomainError, DomainResult},
};

/// An endpoint as a batch sees it, read after the claim.
#[derive(Debug)]
pub struct EndpointNow {
    pub endpoint: endpoint::Model,
    pub tenant_status: Option<TenantStatus>,
    version: String,
}

/// Reads the endpoint, its tenant's status and its signing version in one statement.
pub async fn endpoint_now<C: ConnectionTrait>(
    db: &C,
    id: uuid::Uuid,
) -> DomainResult<Option<EndpointNow>> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r#"SELECT e.*, t.status AS tenant_status,
                      e.xmin::text || '|' || COALESCE((
                        SELECT string_agg(s.id::text || '/' || COALESCE(s.expires_at::text, '-'), ','
                                          ORDER BY s.id)
                          FROM endpoint_secrets s
                         WHERE s.tenant_id = e.tenant_id AND s.endpoint_id = e.id), '') AS version
                 FROM endpoints e LEFT JOIN tenants t ON t.id = e.tenant_id
                WHERE e.id = $1"#,
            [id.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let endpoint = endpoint::Model::from_query_result(&row, "")?;
    let tenant_status: Option<String> = row.try_get("", "tenant_status")?;
    let tenant_status =
        tenant_status.and_then(|s| <TenantStatus as sea_orm::ActiveEnum>::try_from_value(&s).ok());
    Ok(Some(EndpointNow {
        endpoint,
        tenant_status,
        version: row.try_get("", "version")?,
    }))
}

impl SigningCache {
    /// The endpoint's material at its current version: cached, or read and decrypted.
    async fn material<C: ConnectionTrait>(
        &self,
        db: &C,
        secret_box: &SecretBox,
        now: &EndpointNow,
    ) -> DomainResult<Arc<Material>> {
        let endpoint = &now.endpoint;
        if let Some(material) = self.get(endpoint.id, &now.version) {
            return Ok(material);
        }
        let url = url::Url::parse(&endpoint.url)
            .map_err(|e| DomainError::internal("a stored endpoint URL", e))?;
        let hmac = endpoints::sealed_hmac_secrets(db, secret_box, endpoint).await?;
        let material = Arc::new(Material {
            version: now.version.clone(),
            loaded: Instant::now(),
            url,
            headers: endpoints::headers::read(secret_box, endpoint)?
                .into_iter()
                .collect(),
            hmac,
            ed25519: endpoints::ed25519_key(secret_box, endpoint)?,
        });
        self.put(endpoint.id, material.clone());
        Ok(material)
    }
}

/// Signs every claimed delivery (each must have its payload) and sends them all at once;
/// returns the outcomes in the same order.
pub async fn send_all<C: ConnectionTrait>(
    db: &C,
    cache: &SigningCache,
    secret_box: &SecretBox,
    sender: &Sender,
    endpoint: &EndpointNow,
    batch: &[Claimed],
    now: DateTime<Utc>,
) -> DomainResult<Vec<Outcome>> {
    let material = cache.material(db, secret_box, endpoint).await?;
    let keys: Vec<Vec<u8>> = material
        .hmac
        .iter()
        .filter(|(_, expires)| expires.is_none_or(|at| at > now))
        .map(|(key, _)| key.clone())
        .collect();
    let timestamp = now.timestamp();
    let timeout = Duration::from_millis(endpoint.endpoint.timeout_ms.max(1000) as u64);
    let requests = batch.iter().map(|claimed| {
        let body = claimed.payload.clone().unwrap_or_default();
        let signature = signature_header(
            &keys,
            material.ed25519.as_ref(),
            &claimed.webhook_id,
            timestamp,
            &body,
        );
        let mut headers = material.headers.clone();
        headers.extend([
            ("content-type".to_owned(), "application/json".to_owned()),
            ("webhook-id".to_owned(), claimed.webhook_id.clone()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), signature),
        ]);
        let url = &material.url;
        async move {
            tracing::debug!(delivery = %claimed.id, webhook_id = %claimed.webhook_id, "sending");
            sender
                .send(Request {
                    url,
                    headers,
                    body,
                    timeout,
                })
                .await
        }
    });
    Ok(futures::future::join_all(requests).await)
}
