//! The console's actions, each a POST with the session's CSRF token from a page of this
//! server: retry an operation now, run a reconcile report. (Releasing or discarding held
//! operations: `held.rs`.)
//!
//! Retrying goes through the engine like any change: a running operation (waiting on a
//! transient fault or the bridge's configuration) is run again at once; a failed one is
//! final in the journal, so its journaled SCIM request is sent again through the service as
//! a new operation (credential `admin-console`), planned against the current state.

use super::layout::{error_page, page, respond};
use super::login::CsrfForm;
use super::security::{check_post, session};
use super::{Admin, see_other};
use crate::http::AppState;
use crate::model::ResourceKind;
use crate::provision::{Membership, Precondition, RequestMeta};
use crate::scim::ScimError;
use crate::scim::document::prepare_document;
use crate::store::{DEFAULT_TENANT, Operation, OperationState};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde_json::Value;

/// The principal label of the console's own requests.
pub const PRINCIPAL: &str = "admin-console";

/// A journaled body without the values the journal redacted (they are not known any more).
fn without_redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| v.as_str() != Some(crate::redact::REDACTED))
                .map(|(k, v)| (k.clone(), without_redacted(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_redacted).collect()),
        other => other.clone(),
    }
}

/// Send a failed operation's SCIM request again.
async fn resend(state: &AppState, op: &Operation) -> Result<(), ScimError> {
    let body = op.request_body.as_ref().map(without_redacted);
    let meta = RequestMeta::new(
        DEFAULT_TENANT,
        PRINCIPAL,
        &op.method,
        &op.path,
        body.as_ref(),
        None,
    )
    .with_request_body(op.request_body.clone());
    let kind = op.resource_kind;
    let schema = state.registry.resource(kind).clone();
    let service = &state.provisioning;
    let none = Precondition { if_match: None };
    let needs_body = || {
        body.clone()
            .ok_or_else(|| ScimError::invalid_value("the journal holds no body for this request"))
    };
    match op.method.as_str() {
        "POST" => {
            let doc = prepare_document(&needs_body()?, &schema)?;
            service.create(&meta, kind, doc).await.map(drop)
        }
        "PUT" => {
            let body = needs_body()?;
            let doc = prepare_document(&body, &schema)?;
            let membership = match kind {
                ResourceKind::Group if body.get("members").is_some() => Membership::Complete,
                _ => Membership::Unchanged,
            };
            service
                .replace(&meta, kind, &op.resource_id, doc, membership, &none)
                .await
                .map(drop)
        }
        "PATCH" => service
            .patch(&meta, &schema, &op.resource_id, &needs_body()?, &none)
            .await
            .map(drop),
        "DELETE" => service.delete(&meta, kind, &op.resource_id, &none).await,
        other => Err(ScimError::invalid_value(format!(
            "a {other} operation (a reconcile repair) is retried by running the reconcile again"
        ))),
    }
}

pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some((_, session)) = session(&req, &admin) else {
        return see_other("/admin/login");
    };
    if let Some(refused) = check_post(&state, &req, &session, &form.csrf) {
        return refused;
    }
    let engine = state.provisioning.engine();
    let op = match engine.store().get_operation(DEFAULT_TENANT, &id).await {
        Ok(Some(op)) => op,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, Some(&session), "No such operation."),
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                &e.to_string(),
            );
        }
    };
    tracing::info!(op = %op.id, "admin console: retry");
    let outcome = match op.state {
        OperationState::Running => engine.retry_now(DEFAULT_TENANT, &op.id).await.map(drop),
        OperationState::Failed => resend(&state, &op).await,
        OperationState::Succeeded => Ok(()),
        OperationState::Held
        | OperationState::Discarded
        | OperationState::Planned
        | OperationState::Converged => {
            return error_page(
                StatusCode::CONFLICT,
                Some(&session),
                &format!(
                    "A {} operation is not retried: only running or failed ones are.",
                    op.state.as_str()
                ),
            );
        }
    };
    match outcome {
        Ok(()) if op.state == OperationState::Failed => see_other("/admin/operations"),
        Ok(()) => see_other(&format!("/admin/operations/{}", op.id)),
        Err(e) => error_page(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY),
            Some(&session),
            &format!("The retry failed: {}", e.detail),
        ),
    }
}

/// No progress line for a report run from the console.
fn quiet(_: &str, _: usize, _: Option<u64>) {}

pub async fn reconcile(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Some((_, session)) = session(&req, &admin) else {
        return see_other("/admin/login");
    };
    if let Some(refused) = check_post(&state, &req, &session, &form.csrf) {
        return refused;
    }
    let Some(client) = admin.tableau.clone() else {
        return error_page(
            StatusCode::CONFLICT,
            Some(&session),
            "No [tableau] settings: there is nothing to reconcile against.",
        );
    };
    let reconciler = crate::reconcile::Reconciler::new(
        state.provisioning.engine().clone(),
        client,
        DEFAULT_TENANT,
    );
    tracing::info!("admin console: reconcile report");
    let report = match reconciler
        .run(crate::reconcile::Options::default(), &quiet)
        .await
    {
        Ok(report) => report,
        Err(e) => {
            return error_page(StatusCode::BAD_GATEWAY, Some(&session), &e.to_string());
        }
    };
    crate::reconcile::last::record(&report);
    let body = html! {
        p { @if report.in_sync { "Tableau matches the store." } @else { "Drift found (nothing was changed: a report only)." } }
        pre.body #reconcile-report { (report.to_text()) }
        p { a href="/admin/" { "Back to the overview" } }
    };
    respond(
        StatusCode::OK,
        page("Reconcile report", Some(&session), body),
    )
}
