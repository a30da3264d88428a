//! The admin console, `/admin/`: server-rendered pages (maud) over the same store and journal
//! the SCIM API and `tableau-scim ops` use. Its own credential (`[admin]`), never the IdP's;
//! without one the console is off and `/admin/*` answers 404. See docs/console.md.
//!
//! `session.rs` holds tokens and sessions, `security.rs` the headers, cookie and POST checks,
//! `layout.rs` the page frame; one file per page or action.

pub mod actions;
pub mod held;
pub mod layout;
pub mod login;
pub mod operation;
pub mod operations;
pub mod overview;
pub mod resource;
pub mod security;
pub mod session;

use crate::provision::health::Health;
use crate::tableau::TableauClient;
use actix_web::{HttpRequest, HttpResponse, web};
use session::{AdminTokens, Session, Sessions};

/// The console's state, shared by all workers.
pub struct Admin {
    pub tokens: AdminTokens,
    pub sessions: Sessions,
    /// The session cookie carries `Secure` (TLS, or an `https` public URL).
    pub secure_cookies: bool,
    pub health: web::Data<Health>,
    /// For the reconcile report and the User page's Tableau side; `None` without `[tableau]`.
    pub tableau: Option<TableauClient>,
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// Register `/admin` (call only when the console is on; before the SCIM scope, which may sit
/// at the root).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::web::{get, post, resource};
    cfg.service(
        web::scope("/admin")
            .wrap(actix_web::middleware::from_fn(security::headers))
            .service(resource("").route(get().to(to_overview)))
            .service(resource("/").route(get().to(overview::show)))
            .service(
                resource("/login")
                    .route(get().to(login::form))
                    .route(post().to(login::submit)),
            )
            .service(resource("/logout").route(post().to(login::logout)))
            .service(resource("/operations").route(get().to(operations::show)))
            .service(resource("/operations/{id}").route(get().to(operation::show)))
            .service(resource("/operations/{id}/retry").route(post().to(actions::retry)))
            .service(resource("/operations/{id}/release").route(post().to(held::release)))
            .service(resource("/operations/{id}/discard").route(post().to(held::discard)))
            .service(resource("/held/release").route(post().to(held::release_all)))
            .service(resource("/held/discard").route(post().to(held::discard_all)))
            .service(resource("/users/{id}").route(get().to(resource::user)))
            .service(resource("/groups/{id}").route(get().to(resource::group)))
            .service(resource("/reconcile").route(post().to(actions::reconcile)))
            .service(resource("/assets/console.css").route(get().to(css)))
            .service(resource("/assets/console.js").route(get().to(js)))
            .default_service(web::route().to(not_found)),
    );
}

async fn to_overview() -> HttpResponse {
    see_other("/admin/")
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(JS)
}

async fn not_found(req: HttpRequest, admin: web::Data<Admin>) -> HttpResponse {
    let session = security::session(&req, &admin);
    layout::error_page(
        actix_web::http::StatusCode::NOT_FOUND,
        session.as_ref().map(|(_, s)| s),
        "No such page.",
    )
}

/// `303 See Other` to `location` (after a POST, and to the sign-in form).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// The request's session; without one, a page redirects to [`sign_in`].
pub fn signed_in(req: &HttpRequest, admin: &Admin) -> Option<Session> {
    security::session(req, admin).map(|(_, s)| s)
}

/// The redirect to the sign-in form.
pub fn sign_in() -> HttpResponse {
    see_other("/admin/login")
}
