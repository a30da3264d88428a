//! Rendering `ScimError` as an HTTP response: RFC 7644 error body, `application/scim+json`,
//! `Retry-After` when set. Also the fallbacks for unknown routes and methods.

use crate::scim::{ErrorKind, ScimError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::Value;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A JSON response with the SCIM media type.
pub fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        ))
        // `to_vec` writes straight into the buffer (`to_string` goes through `fmt::Write`); a
        // `Value` always serialises (its keys are strings), so the default is never used.
        .body(serde_json::to_vec(body).unwrap_or_default())
}

/// A SCIM JSON response whose body is already serialised.
pub fn scim_json_bytes(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        ))
        .body(body)
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = scim_json(self.status_code(), &self.to_body());
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.kind == ErrorKind::Unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tableau-scim\""),
            );
        }
        resp
    }
}

pub async fn not_found() -> HttpResponse {
    ScimError::not_found("no such endpoint").error_response()
}

pub async fn method_not_allowed() -> HttpResponse {
    ScimError::new(
        ErrorKind::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
    .error_response()
}
