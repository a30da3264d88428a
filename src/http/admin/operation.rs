//! Operation detail: the SCIM request (body with its secrets redacted), the answer, the plan,
//! then every Tableau call of every step — method, URL, request body, status, Tableau error
//! code, response body, duration, attempt — like the "Create User Request / Response" of
//! Tableau's own documentation, for each step. Actions: retry now (running or failed).

use super::layout::{badge, error_page, page, pretty, pretty_text, respond, short_time};
use super::{Admin, signed_in};
use crate::http::AppState;
use crate::model::ResourceKind;
use crate::store::{DEFAULT_TENANT, Operation, OperationState, StepRecord};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One Tableau exchange of a step.
fn call(c: &Value, n: usize) -> Markup {
    let status = c.get("status").and_then(Value::as_u64);
    let attempt = c.get("attempt").and_then(Value::as_u64).unwrap_or(1);
    html! {
        div.call {
            h4 {
                "Call " (n) ": " (text(c, "method")) " " span.url { (text(c, "path")) }
                @if attempt > 1 { " " span.retry { "retry " (attempt - 1) } }
            }
            div.exchange {
                div.request {
                    h5 { "Request" }
                    pre.http { (text(c, "method")) " " (text(c, "path")) }
                    @if let Some(body) = c.get("request_body").and_then(Value::as_str) {
                        pre.body { (pretty_text(body)) }
                    } @else { p.hint { "No body." } }
                }
                div.response {
                    h5 { "Response" }
                    pre.http {
                        @match status { Some(s) => { "HTTP " (s) }, None => { "no answer (timeout or lost connection)" } }
                        @if let Some(code) = c.get("code").and_then(Value::as_str) { "  Tableau error " (code) }
                        "  · " (c.get("duration_ms").and_then(Value::as_u64).unwrap_or(0)) " ms"
                    }
                    @if let Some(body) = c.get("response_body").and_then(Value::as_str) {
                        pre.body { (pretty_text(body)) }
                    }
                }
            }
        }
    }
}

fn step(s: &StepRecord) -> Markup {
    let calls = s.calls.as_ref().and_then(Value::as_array);
    html! {
        section.step {
            h3 { "Step " (s.idx) ": " (s.kind) " " (badge(s.state.as_str())) }
            details { summary { "Plan" } pre.body { (pretty(&s.description)) } }
            @if let Some(luid) = &s.luid { p { "Tableau LUID " code { (luid) } } }
            @if let Some(e) = &s.error { p.note { (e) } }
            @match calls {
                Some(calls) => { @for (i, c) in calls.iter().enumerate() { (call(c, i + 1)) } }
                None => {
                    @if let (Some(m), Some(p)) = (&s.method, &s.path) {
                        p { (m) " " (p) " → " (s.http_status.map(|h| h.to_string()).unwrap_or_default())
                            " " (s.tableau_code.as_deref().unwrap_or("")) }
                        p.hint { "Journaled before bodies were recorded." }
                    } @else { p.hint { "Not run yet." } }
                }
            }
        }
    }
}

fn resource_href(op: &Operation) -> String {
    match op.resource_kind {
        ResourceKind::User => format!("/admin/users/{}", op.resource_id),
        ResourceKind::Group => format!("/admin/groups/{}", op.resource_id),
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: web::Data<Admin>,
    id: web::Path<String>,
) -> HttpResponse {
    let Some(session) = signed_in(&req, &admin) else {
        return super::sign_in();
    };
    let store = state.provisioning.engine().store();
    let op = match store.get_operation(DEFAULT_TENANT, &id).await {
        Ok(Some(op)) => op,
        Ok(None) => {
            return error_page(StatusCode::NOT_FOUND, Some(&session), "No such operation.");
        }
        Err(e) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                &e.to_string(),
            );
        }
    };
    let retry = matches!(op.state, OperationState::Running | OperationState::Failed);
    let body = html! {
        section.summary {
            dl {
                dt { "State" } dd { (badge(op.state.as_str())) " after " (op.attempts) " attempt(s)" }
                dt { "Resource" } dd { (op.resource_kind.as_str()) " " a href=(resource_href(&op)) { (op.resource_name.as_deref().unwrap_or(&op.resource_id)) } }
                dt { "Started" } dd { (short_time(&op.created)) " UTC" }
                dt { "Finished" } dd { (op.finished.as_deref().map(short_time).unwrap_or_else(|| "—".into())) }
                dt { "Credential" } dd { (op.principal) }
                dt { "Request id" } dd { code { (op.request_id.as_deref().unwrap_or("—")) } }
                dt { "Operation id" } dd { code { (op.id) } }
            }
            @if retry {
                form.action method="post" action={ "/admin/operations/" (op.id) "/retry" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" {
                        @if op.state == OperationState::Running { "Retry now" } @else { "Send the request again" }
                    }
                }
            }
        }
        section.scim {
            h2 { "SCIM request" }
            pre.http { (op.method) " " (op.path) }
            @match &op.request_body {
                Some(b) => { pre.body #scim-request { (pretty(b)) } }
                None => { p.hint { "No body (or journaled before request bodies were recorded)." } }
            }
            h3 { "Answer" }
            pre.http { (op.response_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "not answered yet".into())) }
            @if let Some(e) = &op.error_body { pre.body { (pretty(e)) } }
        }
        section.steps {
            h2 { "Tableau calls" }
            @if op.steps.is_empty() { p.hint { "No Tableau call: the change is local only." } }
            @for s in &op.steps { (step(s)) }
        }
    };
    let title = format!("{} {}", op.method, op.path);
    respond(StatusCode::OK, page(&title, Some(&session), body))
}
