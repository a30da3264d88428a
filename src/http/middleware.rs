//! Request middleware: a tracing span and an id per request, authentication of every SCIM
//! request, and a guard that turns a panic anywhere below into a SCIM 500 instead of a dropped
//! connection.

use super::AppState;
use crate::scim::{ErrorKind, ScimError};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tracing::Instrument;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen request id that is kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of one HTTP request: the client's `X-Request-Id` when it is sane (1 to 128 visible
/// ASCII characters), otherwise a fresh UUID v4. It names the request's `request` span, is
/// echoed on the response, and sits in the request's extensions for later code (the journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id if sane, else a generated one.
    pub fn from_client(value: Option<&HeaderValue>) -> Self {
        match value.and_then(|v| v.to_str().ok()) {
            Some(id) if Self::is_sane(id) => Self(id.to_owned()),
            _ => Self::generate(),
        }
    }

    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// 1 to 128 characters, each visible ASCII (`!` to `~`): nothing that could forge a log
    /// line or a header.
    fn is_sane(id: &str) -> bool {
        !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Outermost layer: gives the request its [`RequestId`] and runs everything below inside a
/// `request` span (`request_id`, `method`, `path`), echoes `X-Request-Id` on the response, and
/// writes the access-log line and the request metrics when it is done (`access::finished`:
/// status, duration, the credential's label). Only the path is logged: no query string (a
/// filter names users), no header, no body.
pub async fn trace_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = RequestId::from_client(req.headers().get(&REQUEST_ID_HEADER));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    // A sane or generated id is always a valid header value; were it not, the response would
    // only go without the echo.
    let echo = HeaderValue::from_str(id.as_str()).ok();
    // Kept for the log line and the metrics. Not a clone of the request: routing below needs
    // it unshared (actix sets the match info through `Rc::get_mut`).
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    req.extensions_mut().insert(id.clone());
    let started = Instant::now();
    let result = next.call(req).instrument(span).await;
    let (result, status, credential) = match result {
        Ok(mut res) => {
            if let Some(echo) = echo {
                res.headers_mut().insert(REQUEST_ID_HEADER, echo);
            }
            let status = res.status().as_u16();
            let credential = res
                .request()
                .extensions()
                .get::<super::auth::Principal>()
                .map(|p| p.label.clone());
            (Ok(res.map_into_boxed_body()), status, credential)
        }
        // An error from a layer below (a caught panic) is rendered by actix after every
        // middleware: render it here instead, so that it carries the id too.
        Err(e) => {
            let mut res = e.error_response();
            if let Some(echo) = echo {
                res.headers_mut().insert(REQUEST_ID_HEADER, echo);
            }
            let status = res.status().as_u16();
            (
                Err(InternalError::from_response(e, res).into()),
                status,
                None,
            )
        }
    };
    super::access::finished(&super::access::Finished {
        request_id: id.as_str(),
        method: method.as_str(),
        path: &path,
        status,
        elapsed: started.elapsed(),
        credential: credential.as_deref(),
        scim_base: state
            .as_ref()
            .map(|state| state.settings.base_path.as_str()),
    });
    result
}

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
            let sent = req.headers().contains_key(header::AUTHORIZATION);
            super::access::auth_failed(req.peer_addr().map(|a| a.ip()), sent);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id_from(value: &[u8]) -> RequestId {
        RequestId::from_client(Some(&HeaderValue::from_bytes(value).unwrap()))
    }

    fn is_uuid_v4(id: &RequestId) -> bool {
        uuid::Uuid::parse_str(id.as_str()).is_ok_and(|u| u.get_version_num() == 4)
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        assert_eq!(id_from(b"abc-123").as_str(), "abc-123");
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(id_from(longest.as_bytes()).as_str(), longest);
        assert_eq!(id_from(b"!~{}").as_str(), "!~{}");
    }

    #[test]
    fn a_missing_or_insane_client_id_is_replaced_by_a_uuid() {
        assert!(is_uuid_v4(&RequestId::from_client(None)));
        let too_long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in [
            too_long.as_bytes(),
            b"",
            b"a b",
            b"a\tb",
            "caf\u{e9}".as_bytes(),
        ] {
            assert!(is_uuid_v4(&id_from(bad)), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(RequestId::generate(), RequestId::generate());
    }

    async fn defect() -> &'static str {
        panic!("a defect in a handler")
    }

    async fn seen_id(req: actix_web::HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default()
    }

    #[actix_web::test]
    async fn handlers_see_the_id_and_a_panic_answers_500_with_it() {
        use actix_web::dev::Service;
        use actix_web::{App, test};
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(catch_panic))
                .wrap(actix_web::middleware::from_fn(trace_request))
                .route("/defect", web::get().to(defect))
                .route("/id", web::get().to(seen_id)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/id")
            .insert_header(("X-Request-Id", "seen-1"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.headers().get("x-request-id").unwrap(), "seen-1");
        assert_eq!(test::read_body(res).await, "seen-1");

        let req = test::TestRequest::get()
            .uri("/defect")
            .insert_header(("X-Request-Id", "boom-1"))
            .to_request();
        let err = match app.call(req).await {
            Ok(res) => panic!("a panic answered {}", res.status()),
            Err(e) => e,
        };
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get("x-request-id").unwrap(), "boom-1");
        let content_type = res.headers().get("content-type").unwrap();
        assert_eq!(content_type, "application/scim+json");
    }
}
