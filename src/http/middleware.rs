//! Request middleware: authentication of every SCIM request, and a guard that turns a panic
//! anywhere below into a SCIM 500 instead of a dropped connection.

use super::AppState;
use crate::scim::{ErrorKind, ScimError};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

/// Every SCIM endpoint requires a valid bearer token or Basic credentials; 401 otherwise,
/// with a SCIM error body (Okta's conformance test checks it).
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let principal = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        state.credentials.verify(value)
    });
    match principal {
        Some(p) => {
            req.extensions_mut().insert(p);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        None => {
            let err = ScimError::new(
                ErrorKind::Unauthorized,
                "authentication required: send a valid bearer token",
            );
            Ok(req.into_response(err.error_response()))
        }
    }
}

/// Outermost layer: a panic in a handler becomes a 500 with a SCIM error body. Panics are
/// defects (inputs are validated), so they are logged loudly.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // The request is not cloned here: routing needs sole ownership of it. The error is
    // rendered by actix through `ScimError`'s `ResponseError` implementation.
    let path = req.path().to_string();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(|r| r.map_into_boxed_body()),
        Err(_) => {
            tracing::error!(%path, "handler panicked");
            Err(ScimError::internal("internal error; the request was not applied").into())
        }
    }
}
