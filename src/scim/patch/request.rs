//! Parsing a PatchOp request body (RFC 7644 §3.5.2) leniently into typed operations.
//!
//! Choices (tolerant reader, strict where a mistake would change meaning):
//! - body keys (`schemas`, `Operations`, `op`, `path`, `value`) are matched case-insensitively;
//! - a missing `schemas` is accepted (some clients omit it); a `schemas` that is present but does
//!   not contain the PatchOp URN is `invalidSyntax`, since the body is then something else;
//! - `Operations` must be a non-empty array → `invalidSyntax` otherwise;
//! - `op` is case-insensitive (`Add`/`Replace`/`Remove` from Entra); anything else → `invalidSyntax`;
//! - `path` is optional; an empty or blank `path` counts as absent; a non-string → `invalidPath`;
//! - `value` is required for add and replace (`null` is allowed: it unassigns); a `value` on
//!   remove is kept, because Entra removes members with a `value` array.

use crate::scim::document::get_ci;
use crate::scim::error::{ScimError, ScimResult};
use serde_json::Value;

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// One PATCH operation, as sent, with `op` decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parse and check the envelope and every operation; nothing is applied yet.
pub fn parse_patch_request(body: &Value) -> ScimResult<Vec<PatchOperation>> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a PatchOp JSON object",
        ));
    };
    if let Some(schemas) = get_ci(body, "schemas") {
        let names_patch_op = |v: &Value| {
            v.as_str()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        };
        let ok = match schemas {
            Value::Array(items) => items.iter().any(names_patch_op),
            other => names_patch_op(other),
        };
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain \"{PATCH_OP_SCHEMA}\""
            )));
        }
    }
    let operations = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        Some(Value::Array(_)) => {
            return Err(ScimError::invalid_syntax("'Operations' must not be empty"));
        }
        Some(_) => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
        None => return Err(ScimError::invalid_syntax("'Operations' is missing")),
    };
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(op).map_err(|e| prefix(e, i)))
        .collect()
}

fn prefix(mut e: ScimError, index: usize) -> ScimError {
    e.detail = format!("Operations[{index}]: {}", e.detail);
    e
}

fn parse_operation(op: &Value) -> ScimResult<PatchOperation> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax("an operation must be an object"));
    };
    let kind = match get_ci(op, "op").and_then(Value::as_str).map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(s) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op '{s}' (expected add, remove or replace)"
            )));
        }
        None => return Err(ScimError::invalid_syntax("'op' is missing")),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
    };
    let value = get_ci(op, "value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!(
            "'value' is required for {}",
            if kind == OpKind::Add {
                "add"
            } else {
                "replace"
            }
        )));
    }
    Ok(PatchOperation { kind, path, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(err: ScimResult<Vec<PatchOperation>>) -> Option<&'static str> {
        err.err().and_then(|e| e.scim_type())
    }

    #[test]
    fn op_is_case_insensitive_and_keys_too() {
        let body = json!({
            "SCHEMAS": [PATCH_OP_SCHEMA],
            "operations": [
                {"op": "Add", "path": "nickName", "value": "Babs"},
                {"OP": "REPLACE", "Value": {"active": false}},
                {"op": "Remove", "path": " members ", "value": [{"value": "u1"}]}
            ]
        });
        let ops = parse_patch_request(&body).unwrap();
        assert_eq!(ops[0].kind, OpKind::Add);
        assert_eq!(ops[1].kind, OpKind::Replace);
        assert_eq!(ops[1].path, None);
        assert_eq!(ops[2].kind, OpKind::Remove);
        assert_eq!(ops[2].path.as_deref(), Some("members"));
        assert!(ops[2].value.is_some());
    }

    #[test]
    fn missing_schemas_is_accepted_wrong_schemas_is_not() {
        let ok = json!({"Operations": [{"op": "remove", "path": "title"}]});
        assert!(parse_patch_request(&ok).is_ok());
        let wrong = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "Operations": [{"op": "remove", "path": "title"}]
        });
        assert_eq!(kind_of(parse_patch_request(&wrong)), Some("invalidSyntax"));
    }

    #[test]
    fn envelope_errors_are_invalid_syntax() {
        for body in [
            json!([]),
            json!("x"),
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}),
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}}),
            json!({"Operations": [42]}),
            json!({"Operations": [{"path": "title", "value": "x"}]}),
            json!({"Operations": [{"op": "move", "path": "title", "value": "x"}]}),
            json!({"Operations": [{"op": "add", "path": "title"}]}),
            json!({"Operations": [{"op": "replace"}]}),
        ] {
            assert_eq!(
                kind_of(parse_patch_request(&body)),
                Some("invalidSyntax"),
                "{body}"
            );
        }
    }

    #[test]
    fn null_value_is_present_blank_path_is_absent() {
        let body = json!({"Operations": [{"op": "replace", "path": "", "value": null}]});
        let ops = parse_patch_request(&body).unwrap();
        assert_eq!(ops[0].path, None);
        assert_eq!(ops[0].value, Some(Value::Null));
        let bad = json!({"Operations": [{"op": "remove", "path": 7}]});
        assert_eq!(kind_of(parse_patch_request(&bad)), Some("invalidPath"));
    }
}
