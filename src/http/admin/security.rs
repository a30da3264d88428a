//! The console's browser security: the response headers every `/admin` answer carries (a
//! strict Content-Security-Policy: no inline script or style, nothing from elsewhere), the
//! session cookie's attributes, and the checks every POST passes (its session's CSRF token,
//! and an `Origin` — else `Referer` — of this server).

use super::Admin;
use super::session::{Session, same_token};
use crate::http::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};

pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The session cookie's name.
pub const COOKIE: &str = "tableau_scim_admin";

/// Adds the console's security headers to every answer under `/admin`.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Path=/admin, Max-Age, and
/// Secure when the console is served over TLS (or behind an `https` public URL).
pub fn session_cookie(admin: &Admin, id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={}{}",
        admin.sessions.lifetime().as_secs(),
        if admin.secure_cookies { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie (sign-out).
pub fn cleared_cookie(admin: &Admin) -> String {
    format!(
        "{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if admin.secure_cookies { "; Secure" } else { "" }
    )
}

/// The session id the request's cookie carries, if any.
pub fn session_id(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The live session of the request (the cookie alone: an `Authorization` header, the IdP's
/// bearer token included, opens nothing here), signed in with a token that is still an admin
/// token.
pub fn session(req: &HttpRequest, admin: &Admin) -> Option<(String, Session)> {
    let id = session_id(req)?;
    admin.sessions.get(&id, &admin.tokens).map(|s| (id, s))
}

/// This server's origin (`scheme://host[:port]`), as the browser sees it: from `public_url`,
/// else the request (see `AppState::base_url`).
pub fn own_origin(state: &AppState, req: &HttpRequest) -> String {
    let base = state.base_url(req);
    let root = base
        .strip_suffix(state.settings.base_path.as_str())
        .unwrap_or(&base);
    match url::Url::parse(root) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => root.trim_end_matches('/').to_owned(),
    }
}

/// Whether a POST comes from a page of this server: its `Origin`, else its `Referer`, names
/// this origin. A request with neither is refused (every browser sends one on a form POST).
pub fn same_origin(state: &AppState, req: &HttpRequest) -> bool {
    let own = own_origin(state, req);
    let header_origin = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .map(|u| u.origin().ascii_serialization())
    };
    match header_origin(header::ORIGIN) {
        Some(origin) => origin == own,
        None => header_origin(header::REFERER).is_some_and(|o| o == own),
    }
}

/// Why a POST is refused, or `None` when its CSRF token and origin hold.
pub fn check_post(
    state: &AppState,
    req: &HttpRequest,
    session: &Session,
    csrf: &str,
) -> Option<HttpResponse> {
    if !same_origin(state, req) {
        return Some(forbidden(
            "the request did not come from this console (Origin)",
        ));
    }
    if !same_token(csrf, &session.csrf) {
        return Some(forbidden(
            "the form's CSRF token is missing or stale: reload the page",
        ));
    }
    None
}

pub fn forbidden(why: &str) -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(format!("403 Forbidden: {why}\n"))
}
