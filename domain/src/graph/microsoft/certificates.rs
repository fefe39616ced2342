//! The certificates Graph encrypts rich notifications with (graph-protocol.md §5.5): an RSA
//! 2048 key and a self-signed certificate (Graph never checks the issuer), generated when first
//! needed, stored with the private key encrypted. Rotating makes a new current one; older ones
//! stay, retired, so what was encrypted for them can still be decrypted.

use base64::{Engine, engine::general_purpose::STANDARD};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};

use crate::{
    delivery::webhooks::crypt::SecretBox,
    platform::clock::Clock,
    platform::entities::encryption_certificate,
    platform::error::{DomainError, DomainResult},
};

/// What a subscription sends Graph.
#[derive(Clone, Debug)]
pub struct CurrentCertificate {
    /// `encryptionCertificateId`.
    pub label: String,
    /// `encryptionCertificate`: standard base64 of the DER certificate.
    pub certificate_base64: String,
}

const LOCK_KEY: i64 = 0x6768_6365_7274; // "ghcert"

/// Generates an RSA 2048 key and a self-signed certificate: `(certificate DER, PKCS#8 DER)`.
pub fn generate() -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048)?;
    let pkcs8_der = key.to_pkcs8_der()?.as_bytes().to_vec();
    let pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let key_pair = rcgen::KeyPair::from_pem(&pem)?;
    let mut params = rcgen::CertificateParams::new(vec!["graphhook-notifications".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Graphhook rich notifications");
    let certificate = params.self_signed(&key_pair)?;
    Ok((certificate.der().to_vec(), pkcs8_der))
}

fn context(label: &str) -> Vec<u8> {
    format!("encryption-certificate:{label}").into_bytes()
}

fn current_of(model: &encryption_certificate::Model) -> CurrentCertificate {
    CurrentCertificate {
        label: model.label.clone(),
        certificate_base64: STANDARD.encode(&model.certificate),
    }
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    clock: &Clock,
    secret_box: &SecretBox,
) -> DomainResult<encryption_certificate::Model> {
    let (certificate, key) = tokio::task::spawn_blocking(generate)
        .await
        .map_err(|e| DomainError::internal("generating an encryption certificate", e))?
        .map_err(|e| DomainError::internal("generating an encryption certificate", e))?;
    let now = clock.now();
    let label = format!(
        "ghc-{}-{}",
        now.format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    Ok(encryption_certificate::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        label: Set(label.clone()),
        certificate: Set(certificate),
        private_key: Set(secret_box.seal(&key, &context(&label))),
        created_at: Set(now),
        retired_at: Set(None),
    }
    .insert(db)
    .await?)
}

async fn newest<C: ConnectionTrait>(db: &C) -> DomainResult<Option<encryption_certificate::Model>> {
    Ok(encryption_certificate::Entity::find()
        .filter(encryption_certificate::Column::RetiredAt.is_null())
        .order_by_desc(encryption_certificate::Column::CreatedAt)
        .order_by_desc(encryption_certificate::Column::Id)
        .one(db)
        .await?)
}

/// The current certificate, generated on first use (once, however many processes ask).
pub async fn current<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    secret_box: &SecretBox,
) -> DomainResult<CurrentCertificate> {
    if let Some(found) = newest(db).await? {
        return Ok(current_of(&found));
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
        .await?;
    let model = match newest(&txn).await? {
        Some(found) => found,
        None => insert(&txn, clock, secret_box).await?,
    };
    txn.commit().await?;
    Ok(current_of(&model))
}

/// Makes a new current certificate and retires the others.
pub async fn rotate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &Clock,
    secret_box: &SecretBox,
) -> DomainResult<CurrentCertificate> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
        .await?;
    let now = clock.now();
    for old in encryption_certificate::Entity::find()
        .filter(encryption_certificate::Column::RetiredAt.is_null())
        .all(&txn)
        .await?
    {
        let mut active = old.into_active_model();
        active.retired_at = Set(Some(now));
        active.update(&txn).await?;
    }
    let model = insert(&txn, clock, secret_box).await?;
    txn.commit().await?;
    Ok(current_of(&model))
}

/// Every certificate, newest first.
pub async fn list<C: ConnectionTrait>(db: &C) -> DomainResult<Vec<encryption_certificate::Model>> {
    Ok(encryption_certificate::Entity::find()
        .order_by_desc(encryption_certificate::Column::CreatedAt)
        .order_by_desc(encryption_certificate::Column::Id)
        .all(db)
        .await?)
}

/// The certificate labelled `label` with its PKCS#8 private key, to decrypt what Graph
/// encrypted for it; `None` when we have no such certificate.
pub async fn with_private_key<C: ConnectionTrait>(
    db: &C,
    secret_box: &SecretBox,
    label: &str,
) -> DomainResult<Option<(encryption_certificate::Model, Vec<u8>)>> {
    let Some(model) = encryption_certificate::Entity::find()
        .filter(encryption_certificate::Column::Label.eq(label))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let key = secret_box
        .open(&model.private_key, &context(label))
        .map_err(|e| DomainError::internal("decrypting an encryption certificate key", e))?;
    Ok(Some((model, key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_are_rsa_2048_and_self_signed() {
        let (certificate, key) = generate().unwrap();
        use x509_cert::der::Decode;
        let parsed = x509_cert::Certificate::from_der(&certificate).unwrap();
        let tbs = parsed.tbs_certificate();
        assert_eq!(tbs.issuer(), tbs.subject());
        assert_eq!(
            tbs.subject_public_key_info().algorithm.oid.to_string(),
            "1.2.840.113549.1.1.1"
        );
        use rsa::{pkcs8::DecodePrivateKey, traits::PublicKeyParts};
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&key).unwrap();
        assert_eq!(key.size() * 8, 2048);
    }
}
