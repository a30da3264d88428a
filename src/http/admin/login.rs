//! Signing in to the console with an admin token (a form, never a header), and out.

use super::layout::{page, respond};
use super::security::{check_post, cleared_cookie, same_origin, session, session_cookie};
use super::{Admin, see_other};
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header::SET_COOKIE;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// A form carrying only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

fn login_page(message: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form.login method="post" action="/admin/login" {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
            p.hint { "The console's own token ([admin] tokens, serve --admin-token); the IdP's bearer token does not open it." }
        },
    )
}

pub async fn form(req: HttpRequest, admin: web::Data<Admin>) -> HttpResponse {
    if session(&req, &admin).is_some() {
        return see_other("/admin/");
    }
    respond(StatusCode::OK, login_page(None))
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let client = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if !admin.sessions.allow_attempt(client) {
        tracing::warn!(%client, "admin console: too many sign-in attempts");
        return respond(
            StatusCode::TOO_MANY_REQUESTS,
            login_page(Some("Too many sign-in attempts: wait a minute.")),
        );
    }
    if !same_origin(&state, &req) {
        return super::security::forbidden("the sign-in did not come from this console (Origin)");
    }
    let Some(token) = admin.tokens.verify(&form.token) else {
        tracing::warn!(%client, "admin console: sign-in refused (wrong token)");
        return respond(
            StatusCode::UNAUTHORIZED,
            login_page(Some("That is not an admin token.")),
        );
    };
    let (id, _) = admin.sessions.open(token);
    tracing::info!(%client, "admin console: signed in");
    let mut res = see_other("/admin/");
    if let Ok(v) = session_cookie(&admin, &id).parse() {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some((id, s)) = session(&req, &admin) else {
        return see_other("/admin/login");
    };
    if let Some(refused) = check_post(&state, &req, &s, &form.csrf) {
        return refused;
    }
    admin.sessions.close(&id);
    let mut res = see_other("/admin/login");
    if let Ok(v) = cleared_cookie(&admin).parse() {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}
