//! Operational views for operators: queue depths and backlogs, delivery success and latency,
//! the app credential's expiry.

use actix_web::{HttpResponse, web};

use crate::{error::ApiError, extractors::Operator, state::AppState};

pub async fn queues(
    _operator: Operator,
    _state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::NotImplemented().finish())
}

pub async fn delivery_stats(
    _operator: Operator,
    _state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::NotImplemented().finish())
}

pub async fn credential(
    _operator: Operator,
    _state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::NotImplemented().finish())
}
