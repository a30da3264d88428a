//! Journaling the requests the bridge refused (400, 409) before any operation was opened:
//! invalid input, a name taken, a PATCH that cannot apply. Before this they were neither
//! journaled nor logged; the console's Operations page lists them with their SCIM error. A
//! refusal that came from an operation (Tableau refused it) is that operation's already and
//! is not recorded twice (`provision::journaled`).

use super::AppState;
use crate::http::auth::Principal;
use crate::model::ResourceKind;
use crate::provision::engine::unique_attr;
use crate::scim::ScimResult;
use crate::store::{DEFAULT_TENANT, NewRefusal};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;
use std::future::Future;

/// The body a mutating handler read, kept (redacted) for a refusal's record.
#[derive(Clone)]
pub struct ReadBody(pub Value);

/// Keep the (redacted) body of a request for [`guard`].
pub fn keep_body(req: &HttpRequest, body: &Value) {
    req.extensions_mut()
        .insert(ReadBody(crate::redact::redact_json(body)));
}

/// Runs a mutating handler; a 400 or 409 it answers without journaling an operation is
/// recorded in `refused_requests` (a store error there is logged, never the answer).
pub async fn guard<F>(
    state: &AppState,
    req: &HttpRequest,
    kind: Option<ResourceKind>,
    handler: F,
) -> ScimResult<HttpResponse>
where
    F: Future<Output = ScimResult<HttpResponse>>,
{
    let (result, journaled) = crate::provision::journaled::watch(handler).await;
    if let Err(e) = &result
        && !journaled
        && matches!(e.status(), 400 | 409)
    {
        let body = req.extensions().get::<ReadBody>().map(|b| b.0.clone());
        let resource_name = match (kind, &body) {
            (Some(k), Some(b)) => b
                .get(unique_attr(k))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let refusal = NewRefusal {
            tenant: DEFAULT_TENANT.into(),
            request_id: req
                .extensions()
                .get::<super::middleware::RequestId>()
                .map(|id| id.as_str().to_owned()),
            principal: req
                .extensions()
                .get::<Principal>()
                .map(|p| p.label.clone())
                .unwrap_or_default(),
            method: req.method().to_string(),
            path: req.path().to_owned(),
            resource_kind: kind,
            resource_name,
            request_body: body,
            status: e.status(),
            error_body: e.to_body(),
        };
        tracing::info!(status = e.status(), detail = %e.detail, "request refused");
        if let Err(err) = state
            .provisioning
            .engine()
            .store()
            .record_refusal(&refusal)
            .await
        {
            tracing::warn!(error = %err, "cannot journal a refused request");
        }
    }
    result
}
