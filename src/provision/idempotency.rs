//! The identity of a mutating request in the journal. A request re-sent by the IdP (same
//! credential, method, path and body) or carrying the same `Idempotency-Key` finds the
//! operation the first one started instead of starting another (see `engine`).

use crate::secrets::sha256_hex;
use serde_json::Value;

/// Who asked for a change, and what exactly.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub tenant: String,
    /// A non-secret label of the credential (see `http::auth::Principal`).
    pub principal: String,
    pub method: String,
    pub path: String,
    /// Hex SHA-256 of the canonical request body (see [`body_digest`]).
    pub body_digest: String,
    /// The client's `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// The request's `X-Request-Id`, journaled with the operation it opens.
    pub request_id: Option<String>,
    /// The request's body with its secrets redacted, journaled for the admin console (set by
    /// the caller, which redacted it once: [`RequestMeta::with_request_body`]).
    pub request_body: Option<Value>,
}

impl RequestMeta {
    /// The journal identity of a request with this body (`None`: no body, as for DELETE).
    /// An `Idempotency-Key` that is empty or longer than 255 characters is ignored.
    pub fn new(
        tenant: &str,
        principal: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Self {
        RequestMeta {
            tenant: tenant.to_string(),
            principal: principal.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            body_digest: body_digest(body),
            idempotency_key: idempotency_key
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .map(str::to_string),
            request_id: None,
            request_body: None,
        }
    }

    /// The same, journaled with this body (already redacted: `redact::redact_json`).
    pub fn with_request_body(mut self, redacted: Option<Value>) -> Self {
        self.request_body = redacted;
        self
    }

    /// The same, journaled with this `X-Request-Id`.
    pub fn with_request_id(mut self, request_id: Option<&str>) -> Self {
        self.request_id = request_id.map(str::to_owned);
        self
    }

    /// The key of the request in the journal: the client's, or a digest of who asked what.
    pub fn journal_key(&self) -> String {
        match &self.idempotency_key {
            Some(k) => format!("explicit:{}:{k}", self.principal),
            None => sha256_hex(
                format!(
                    "{}\n{}\n{}\n{}",
                    self.principal, self.method, self.path, self.body_digest
                )
                .as_bytes(),
            ),
        }
    }
}

/// Hex SHA-256 of the body as canonical JSON (object keys sorted at every level), so that a
/// re-sent request whose serializer orders keys differently is still the same request.
pub fn body_digest(body: Option<&Value>) -> String {
    let canonical = body.map(canonical_json).unwrap_or_default();
    sha256_hex(canonical.as_bytes())
}

/// JSON text with object keys sorted at every level.
fn canonical_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut entries: Vec<(&String, &Value)> = o.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_digest() {
        let a = json!({"a": 1, "b": {"x": [1, {"q": 1, "p": 2}], "y": null}});
        let b = json!({"b": {"y": null, "x": [1, {"p": 2, "q": 1}]}, "a": 1});
        assert_eq!(body_digest(Some(&a)), body_digest(Some(&b)));
        assert_ne!(body_digest(Some(&a)), body_digest(None));
        // Array order is meaningful.
        assert_ne!(
            body_digest(Some(&json!([1, 2]))),
            body_digest(Some(&json!([2, 1])))
        );
    }

    #[test]
    fn journal_key_tells_requests_apart() {
        let m = |method: &str, path: &str, key: Option<&str>| {
            RequestMeta::new("t", "token:1", method, path, Some(&json!({})), key)
        };
        assert_ne!(
            m("DELETE", "/Users/a", None).journal_key(),
            m("DELETE", "/Users/b", None).journal_key()
        );
        assert_eq!(
            m("PATCH", "/Users/a", None).journal_key(),
            m("PATCH", "/Users/a", None).journal_key()
        );
        assert_eq!(
            m("PATCH", "/Users/a", Some(" k1 ")).journal_key(),
            "explicit:token:1:k1"
        );
        assert_eq!(m("PATCH", "/Users/a", Some("  ")).idempotency_key, None);
        let long = "k".repeat(256);
        assert_eq!(m("PATCH", "/Users/a", Some(&long)).idempotency_key, None);
    }
}
