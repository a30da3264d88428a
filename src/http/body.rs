//! Reading request bodies: accepted media types, the size limit (413) and JSON syntax errors
//! that say where parsing failed (400 invalidSyntax).

use super::AppState;
use crate::scim::{ErrorKind, ScimError, ScimResult};
use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, Payload};
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// `application/scim+json` and `application/json` (any parameters, e.g. charset) are accepted,
/// and so is a request without `Content-Type` (some IdP test tools send none).
pub fn check_content_type(req: &HttpRequest) -> ScimResult<()> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or("").trim();
    match essence {
        "application/scim+json" | "application/json" | "" => Ok(()),
        other => Err(ScimError::new(
            ErrorKind::UnsupportedMediaType,
            format!("Content-Type {other} is not supported; send application/scim+json"),
        )),
    }
}

/// The body-read timeout when the request carries no settings (`limits.body_timeout_secs`'s
/// default).
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Read the whole body, refusing more than `limit` bytes with 413 and a body not complete
/// within `limits.body_timeout_secs` with 408, and parse it as JSON.
pub async fn read_json(req: &HttpRequest, payload: Payload, limit: usize) -> ScimResult<Value> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |state| {
            Duration::from_secs(state.settings.limits.body_timeout_secs)
        });
    match tokio::time::timeout(timeout, read_body(req, payload, limit)).await {
        Ok(body) => parse_json(&body?),
        Err(_) => Err(ScimError::new(
            ErrorKind::RequestTimeout,
            format!(
                "the request body did not arrive within {} s (limits.body_timeout_secs)",
                timeout.as_secs()
            ),
        )),
    }
}

/// The whole body, refusing more than `limit` bytes with 413.
async fn read_body(req: &HttpRequest, mut payload: Payload, limit: usize) -> ScimResult<Vec<u8>> {
    check_content_type(req)?;
    let too_large = || {
        ScimError::new(
            ErrorKind::PayloadTooLarge,
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ScimError::invalid_syntax(format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub fn parse_json(bytes: &[u8]) -> ScimResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON: {} (line {}, column {})",
            describe(&e),
            e.line(),
            e.column()
        ))
    })
}

fn describe(e: &serde_json::Error) -> String {
    // serde_json's message ends with " at line L column C"; we report the position ourselves.
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_position() {
        let e = parse_json(b"{\n  \"userName\": }").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSyntax);
        assert!(e.detail.contains("line 2"), "{}", e.detail);
        assert!(parse_json(b"   ").is_err());
    }
}
