//! Where Microsoft Graph calls Graphhook: `POST /graph/notifications` and
//! `POST /graph/lifecycle`. With `validationToken` in the query they answer Graph's handshake
//! (§2): 200, `text/plain`, the form-decoded token. Otherwise they accept a well-formed
//! notification batch with 202 (processing it is the ingest pipeline's job).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::error::{ApiError, Code};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/graph/notifications").route(web::post().to(receive)))
        .service(web::resource("/graph/lifecycle").route(web::post().to(receive)));
}

#[derive(Deserialize)]
struct Batch {
    value: Vec<serde_json::Value>,
}

/// The form-decoded `validationToken`, if the query has one (`+` is a space).
fn validation_token(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned())
}

async fn receive(req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    if let Some(token) = validation_token(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(token));
    }
    match serde_json::from_slice::<Batch>(&body) {
        Ok(batch) if !batch.value.is_empty() => Ok(HttpResponse::Accepted().finish()),
        Ok(_) => Err(ApiError::new(
            Code::ValidationFailed,
            "the notification batch has no items",
        )),
        Err(e) => Err(ApiError::new(
            Code::InvalidJson,
            format!("not a notification batch: {e}"),
        )),
    }
}
