//! Limits on the work one write asks for: operations per PATCH request and values per
//! multi-valued attribute (`emails`, `phoneNumbers`, `addresses`, `roles`, …; a group's
//! `members` are not limited here: they are kept as rows, and groups of many thousands are
//! normal). Exceeding either is `400 tooMany`, before any work is done for the operations and
//! before anything is written.

use super::{ErrorKind, ScimError, ScimResult};
use serde_json::{Map, Value};

/// Defaults: IdPs send a handful of operations per PATCH (Okta and Entra ID batch group members
/// as values of one operation) and a user has a few e-mails; these leave room for both.
pub const DEFAULT_MAX_PATCH_OPERATIONS: usize = 100;
pub const DEFAULT_MAX_MULTI_VALUES: usize = 100;

/// The limits on one write (`limits.max_patch_operations`, `limits.max_multi_values`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    pub max_patch_operations: usize,
    pub max_multi_values: usize,
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            max_patch_operations: DEFAULT_MAX_PATCH_OPERATIONS,
            max_multi_values: DEFAULT_MAX_MULTI_VALUES,
        }
    }
}

impl WriteLimits {
    /// A PatchOp body with more `Operations` than allowed is refused before any is applied
    /// (a body that is not a PatchOp is left to the PATCH parser to refuse).
    pub fn check_patch(&self, body: &Value) -> ScimResult<()> {
        let ops = body.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
                .and_then(|(_, v)| v.as_array())
        });
        match ops {
            Some(ops) if ops.len() > self.max_patch_operations => Err(ScimError::new(
                ErrorKind::TooMany,
                format!(
                    "the PATCH request has {} operations; at most {} are accepted per request \
                     (limits.max_patch_operations): send them in several requests",
                    ops.len(),
                    self.max_patch_operations
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Every multi-valued attribute of `doc` (at any depth, extensions included; `members`
    /// excepted) holds at most `max_multi_values` values.
    pub fn check_document(&self, doc: &Map<String, Value>) -> ScimResult<()> {
        for (key, value) in doc {
            if key.eq_ignore_ascii_case("members") || key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            self.check_value(key, value)?;
        }
        Ok(())
    }

    fn check_value(&self, path: &str, value: &Value) -> ScimResult<()> {
        match value {
            Value::Array(items) if items.len() > self.max_multi_values => Err(ScimError::new(
                ErrorKind::TooMany,
                format!(
                    "'{path}' has {} values; at most {} are accepted per attribute \
                     (limits.max_multi_values)",
                    items.len(),
                    self.max_multi_values
                ),
            )),
            Value::Array(items) => items.iter().try_for_each(|v| self.check_value(path, v)),
            Value::Object(map) => map
                .iter()
                .try_for_each(|(k, v)| self.check_value(&format!("{path}.{k}"), v)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> WriteLimits {
        WriteLimits {
            max_patch_operations: 2,
            max_multi_values: 3,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn patch_operations_are_counted() {
        let op = json!({"op": "add", "path": "title", "value": "x"});
        assert!(
            limits()
                .check_patch(&json!({"Operations": [op, op]}))
                .is_ok()
        );
        let e = limits()
            .check_patch(&json!({"operations": [op, op, op]}))
            .unwrap_err();
        assert_eq!(e.scim_type(), Some("tooMany"));
        assert!(
            e.detail.contains("limits.max_patch_operations"),
            "{}",
            e.detail
        );
        // Not a PatchOp: the parser says why.
        assert!(limits().check_patch(&json!([1, 2, 3])).is_ok());
    }

    #[test]
    fn multi_valued_attributes_are_bounded_at_any_depth_but_members() {
        let three = json!([{"value": "a"}, {"value": "b"}, {"value": "c"}]);
        let four = json!([1, 2, 3, 4]);
        assert!(
            limits()
                .check_document(&obj(json!({"emails": three})))
                .is_ok()
        );
        let e = limits()
            .check_document(&obj(json!({"emails": four})))
            .unwrap_err();
        assert_eq!((e.status(), e.scim_type()), (400, Some("tooMany")));
        assert!(e.detail.contains("'emails' has 4 values"), "{}", e.detail);
        let nested = json!({"urn:x:ext": {"roles": four}});
        let e = limits().check_document(&obj(nested)).unwrap_err();
        assert!(e.detail.contains("'urn:x:ext.roles'"), "{}", e.detail);
        assert!(
            limits()
                .check_document(&obj(json!({"members": four})))
                .is_ok()
        );
    }
}
