//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes[/{name}]`,
//! `/Schemas[/{urn}]`. Served from the files in `schemas/`, and a ServiceProviderConfig that
//! says exactly what this server does.

use super::AppState;
use super::error::scim_json;
use crate::scim::ScimError;
use crate::scim::list::list_response;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

fn with_meta(doc: &Value, resource_type: &str, location: String) -> Map<String, Value> {
    let mut out = doc.as_object().cloned().unwrap_or_default();
    out.insert(
        "meta".into(),
        json!({"resourceType": resource_type, "location": location}),
    );
    out
}

pub async fn service_provider_config(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = state.base_url(&req);
    let mut schemes = vec![json!({
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication with a bearer token configured in tableau-scim",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": true,
    })];
    if state.credentials.basic_enabled() {
        schemes.push(json!({
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "Authentication with a user name and password configured in tableau-scim",
            "specUri": "https://www.rfc-editor.org/info/rfc7617",
            "primary": false,
        }));
    }
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/tableau-scim/tableau-scim/tree/main/docs",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": state.settings.limits.max_page_size},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": schemes,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_json(StatusCode::OK, &body)
}

pub async fn schemas(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = state.base_url(&req);
    let docs: Vec<Map<String, Value>> = state
        .registry
        .schemas
        .iter()
        .map(|s| with_meta(&s.document, "Schema", format!("{base}/Schemas/{}", s.id)))
        .collect();
    scim_json(StatusCode::OK, &list_response(docs.len(), 1, docs))
}

pub async fn schema(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let base = state.base_url(&req);
    let s = state
        .registry
        .schemas
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no schema with id {:?}", id.as_str())))?;
    let doc = with_meta(&s.document, "Schema", format!("{base}/Schemas/{}", s.id));
    Ok(scim_json(StatusCode::OK, &Value::Object(doc)))
}

pub async fn resource_types(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = state.base_url(&req);
    let docs: Vec<Map<String, Value>> = state
        .registry
        .resource_types
        .iter()
        .map(|r| {
            with_meta(
                &r.document,
                "ResourceType",
                format!("{base}/ResourceTypes/{}", r.id),
            )
        })
        .collect();
    scim_json(StatusCode::OK, &list_response(docs.len(), 1, docs))
}

pub async fn resource_type(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let base = state.base_url(&req);
    let r = state
        .registry
        .resource_types
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {:?}", id.as_str())))?;
    let doc = with_meta(
        &r.document,
        "ResourceType",
        format!("{base}/ResourceTypes/{}", r.id),
    );
    Ok(scim_json(StatusCode::OK, &Value::Object(doc)))
}
