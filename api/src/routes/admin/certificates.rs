//! `/admin/v1/encryption-certificates`: the certificates Graph encrypts rich notifications
//! with. Listing shows labels and dates (never keys); rotating makes a new current one.

use crate::body::NoBody;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use graphhook_domain::{graph::microsoft::certificates, operator::audit};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, OperatorRefusals},
    extractors::Operator,
    state::Services,
};

/// A certificate's label and dates; the key never leaves the database.
#[derive(Serialize, ToSchema)]
pub struct CertificateView {
    /// The `encryptionCertificateId` Graph echoes in rich notifications.
    label: String,
    created_at: DateTime<Utc>,
    /// When a newer certificate replaced it; `null` for the current one. A retired certificate
    /// is kept to decrypt what was encrypted for it.
    retired_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct CertificateList {
    data: Vec<CertificateView>,
}

/// The certificate now current.
#[derive(Serialize, ToSchema)]
pub struct RotatedCertificate {
    label: String,
}

/// Lists the encryption certificates of rich subscriptions.
#[utoipa::path(
    get,
    path = "/admin/v1/encryption-certificates",
    operation_id = "admin_certificates_list",
    responses(
        (status = 200, description = "Every certificate, current and retired", body = CertificateList),
        OperatorRefusals,
    ),
)]
pub async fn list(
    _operator: Operator,
    state: web::Data<Services>,
) -> Result<HttpResponse, ApiError> {
    let all = certificates::list(&state.db).await?;
    let data = all
        .iter()
        .map(|c| CertificateView {
            label: c.label.clone(),
            created_at: c.created_at,
            retired_at: c.retired_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(CertificateList { data }))
}

/// Makes a new encryption certificate current; the previous one is retired but kept.
#[utoipa::path(
    post,
    path = "/admin/v1/encryption-certificates/rotate",
    operation_id = "admin_certificates_rotate",
    responses(
        (status = 200, description = "The new current certificate", body = RotatedCertificate),
        OperatorRefusals,
    ),
)]
pub async fn rotate(
    operator: Operator,
    state: web::Data<Services>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let current = certificates::rotate(&state.db, &state.clock, &state.secret_box).await?;
    let entry = operator
        .audit("encryption_certificate.rotated")
        .target("encryption_certificate", &current.label);
    audit::record(&state.db, &state.clock, entry).await?;
    Ok(HttpResponse::Ok().json(RotatedCertificate {
        label: current.label,
    }))
}
