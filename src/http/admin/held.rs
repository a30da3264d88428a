//! Held operations: the mass-removal guard (`provision::guard`) holds removals beyond
//! `guard.max_removals` in its window until an admin releases or discards them. The section
//! lists them on the Overview and Operations pages; its actions are POSTs with the session's
//! CSRF token, carried out by the same engine calls as `tableau-scim ops release` / `discard`.

use super::layout::error_page;
use super::login::CsrfForm;
use super::security::{check_post, session};
use super::{Admin, see_other};
use crate::http::AppState;
use crate::provision::held::HeldError;
use crate::store::{DEFAULT_TENANT, Operation};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

/// How many held operations the section lists (the rest: `tableau-scim ops held`).
const LISTED: i64 = 50;

/// The note journaled with an operation discarded from the console.
const DISCARD_NOTE: &str = "discarded from the admin console";

/// The section for held operations, with their actions.
pub async fn section(state: &AppState, csrf: &str) -> Markup {
    let store = state.provisioning.engine().store();
    let held = store.held_operations(DEFAULT_TENANT, LISTED + 1).await;
    html! {
        section.held #held {
            h2 { "Held operations" }
            @match held {
                Err(e) => p.error { "The journal could not be read: " (e) }
                Ok(ops) if ops.is_empty() => p.hint {
                    "Nothing is held. Removals beyond the mass-removal guard's limit would wait here \
                     for release or discard."
                },
                Ok(ops) => {
                    p.hint {
                        "The mass-removal guard held these removals: their SCIM side is committed, \
                         Tableau is unchanged until they are released. Discarding leaves Tableau as \
                         it is (a reconcile then reports the difference)."
                    }
                    table.held {
                        thead { tr { th { "Held (UTC)" } th { "Request" } th { "Resource" } th { "Removals" } th { "Steps" } th { "" } } }
                        tbody {
                            @for op in ops.iter().take(LISTED as usize) { (row(op, csrf)) }
                        }
                    }
                    @if ops.len() as i64 > LISTED {
                        p.hint { "More are held than listed: `tableau-scim ops held` lists them all." }
                    }
                    div.actions {
                        form method="post" action="/admin/held/release" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Release all" }
                        }
                        form method="post" action="/admin/held/discard" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Discard all" }
                        }
                    }
                }
            }
        }
    }
}

fn row(op: &Operation, csrf: &str) -> Markup {
    let steps: Vec<&str> = op.steps.iter().map(|s| s.kind.as_str()).collect();
    html! {
        tr {
            td { (op.held.as_deref().unwrap_or(&op.created)) }
            td { a href=(format!("/admin/operations/{}", op.id)) { (op.method) " " (op.path) } }
            td { (op.resource_name.as_deref().unwrap_or(&op.resource_id)) }
            td { (op.removals) }
            td { (steps.join(", ")) }
            td {
                form method="post" action=(format!("/admin/operations/{}/release", op.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Release" }
                }
                form method="post" action=(format!("/admin/operations/{}/discard", op.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Discard" }
                }
            }
        }
    }
}

/// What an action does to one held operation.
#[derive(Clone, Copy)]
enum Act {
    Release,
    Discard,
}

async fn act(state: &AppState, act: Act, id: &str) -> Result<(), HeldError> {
    let engine = state.provisioning.engine();
    match act {
        Act::Release => engine.release(DEFAULT_TENANT, id).await.map(drop),
        Act::Discard => engine.discard(DEFAULT_TENANT, id, DISCARD_NOTE).await,
    }
}

fn refused(e: &HeldError, session: &super::session::Session) -> HttpResponse {
    let status = match e {
        HeldError::Unknown(_) => StatusCode::NOT_FOUND,
        HeldError::NotHeld { .. } | HeldError::Busy { .. } | HeldError::TakenOver { .. } => {
            StatusCode::CONFLICT
        }
        HeldError::Scim(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY),
    };
    error_page(status, Some(session), &e.to_string())
}

async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    what: Act,
) -> HttpResponse {
    let Some((_, session)) = session(&req, &admin) else {
        return see_other("/admin/login");
    };
    if let Some(refused) = check_post(&state, &req, &session, &form.csrf) {
        return refused;
    }
    tracing::info!(op = %id, action = what.name(), "admin console: held operation");
    match act(&state, what, &id).await {
        Ok(()) => see_other(&format!("/admin/operations/{id}")),
        Err(e) => refused(&e, &session),
    }
}

async fn all(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<CsrfForm>,
    what: Act,
) -> HttpResponse {
    let Some((_, session)) = session(&req, &admin) else {
        return see_other("/admin/login");
    };
    if let Some(refused) = check_post(&state, &req, &session, &form.csrf) {
        return refused;
    }
    let store = state.provisioning.engine().store();
    let ops = match store.held_operations(DEFAULT_TENANT, i64::MAX).await {
        Ok(ops) => ops,
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                &e.to_string(),
            );
        }
    };
    tracing::info!(
        count = ops.len(),
        action = what.name(),
        "admin console: all held operations"
    );
    let mut failed = Vec::new();
    for op in &ops {
        if let Err(e) = act(&state, what, &op.id).await {
            failed.push(format!("{}: {e}", op.id));
        }
    }
    match failed.is_empty() {
        true => see_other("/admin/operations?state=held"),
        false => error_page(
            StatusCode::CONFLICT,
            Some(&session),
            &format!(
                "{} of {} held operation(s) were not {}: {}",
                failed.len(),
                ops.len(),
                what.past(),
                failed.join("; ")
            ),
        ),
    }
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::Release => "release",
            Act::Discard => "discard",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Act::Release => "released",
            Act::Discard => "discarded",
        }
    }
}

pub async fn release(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    one(req, state, admin, id, form, Act::Release).await
}

pub async fn discard(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    one(req, state, admin, id, form, Act::Discard).await
}

pub async fn release_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    all(req, state, admin, form, Act::Release).await
}

pub async fn discard_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    all(req, state, admin, form, Act::Discard).await
}
