//! Coercion of one client-supplied JSON value against its attribute definition.
//!
//! This is where the IdP leniencies on *values* live, so that every write path (POST, PUT,
//! PATCH with or without `path`) accepts the same shapes and stores the same canonical form:
//!
//! - `null` and `""` mean "unassigned" (RFC 7643 §2.5; Entra's null-update test sends both);
//! - booleans may arrive as `"True"`/`"false"` strings (Entra without `aadOptscim062020`);
//! - a single-valued attribute may arrive wrapped as `[{"value": x}]` or `[x]` (old Entra client,
//!   and E17's `[{"$ref": …, "value": …}]` for `manager`);
//! - a complex attribute with a `value` sub-attribute may arrive as a bare scalar
//!   (`"manager": "id"`, `"members": ["id"]`), which becomes `{"value": …}`;
//! - a multi-valued attribute may arrive as one value, which is wrapped;
//! - read-only and write-only sub-attributes (`members[].display`, `manager.displayName`) and
//!   unknown sub-attributes are dropped, `"$ref": null` disappears with the other nulls.
//!
//! Everything else of the wrong type is `invalidValue`.

use crate::scim::document::get_ci;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{AttrType, AttributeDef, Mutability};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

static NULL: Value = Value::Null;

/// Coerce a value for a whole attribute (single- or multi-valued). `Ok(None)` means the value
/// is "unassigned" (null, empty string, empty array, or a complex value with nothing left).
/// Multi-valued results are arrays without duplicate elements.
pub(crate) fn coerce_attribute(def: &AttributeDef, value: &Value) -> ScimResult<Option<Value>> {
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        // Exact duplicates are dropped; hashing their text keeps this linear for big lists.
        let mut seen: HashSet<String> = HashSet::with_capacity(items.len());
        for item in items {
            if item.is_array() {
                return Err(ScimError::invalid_value(format!(
                    "'{}' elements must not be arrays",
                    def.name
                )));
            }
            if let Some(v) = coerce_element(def, item)?
                && seen.insert(v.to_string())
            {
                out.push(v);
            }
        }
        Ok((!out.is_empty()).then_some(Value::Array(out)))
    } else {
        coerce_element(def, unwrap_singleton(def, value)?)
    }
}

/// Coerce one element of `def` (the whole value for a single-valued attribute, one array
/// element for a multi-valued one).
pub(crate) fn coerce_element(def: &AttributeDef, value: &Value) -> ScimResult<Option<Value>> {
    if def.attr_type == AttrType::Complex {
        coerce_complex(def, value)
    } else {
        coerce_scalar(def, value)
    }
}

/// Old Entra clients wrap single values as `[{"value": x}]`; E17 sends `manager` as a
/// one-element array of `{"$ref", "value"}`. An empty array is "unassigned".
fn unwrap_singleton<'v>(def: &AttributeDef, value: &'v Value) -> ScimResult<&'v Value> {
    match value {
        Value::Array(items) => match items.as_slice() {
            [] => Ok(&NULL),
            [one] => Ok(one),
            _ => Err(ScimError::invalid_value(format!(
                "'{}' is single-valued but {} values were given",
                def.name,
                items.len()
            ))),
        },
        other => Ok(other),
    }
}

fn coerce_complex(def: &AttributeDef, value: &Value) -> ScimResult<Option<Value>> {
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Err(ScimError::invalid_value(format!(
                "'{}' must be an object",
                def.name
            )));
        }
        scalar => {
            // `"manager": "id"` (Entra) and `"members": ["id"]`: the scalar is the `value`.
            return match def.sub_attribute("value") {
                Some(value_def) => Ok(coerce_scalar(value_def, scalar)?.map(|v| {
                    let mut m = Map::new();
                    m.insert(value_def.name.clone(), v);
                    Value::Object(m)
                })),
                None => Err(ScimError::invalid_value(format!(
                    "'{}' must be an object",
                    def.name
                ))),
            };
        }
    };
    let mut out = Map::new();
    for (key, sub_value) in obj {
        let Some(sub_def) = def.sub_attribute(key) else {
            continue; // unknown sub-attributes are not stored
        };
        if matches!(
            sub_def.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ) {
            continue; // computed by the server (display names) or never stored
        }
        if let Some(v) = coerce_attribute(sub_def, sub_value)? {
            out.insert(sub_def.name.clone(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn coerce_scalar(def: &AttributeDef, value: &Value) -> ScimResult<Option<Value>> {
    // `{"value": x}` for a simple attribute: the old Entra wrapping without the array.
    let value = match value {
        Value::Object(obj) => get_ci(obj, "value").unwrap_or(value),
        other => other,
    };
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "'{}' must be {expected}, got {}",
            def.name,
            describe(value)
        ))
    };
    match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        _ => {}
    }
    let coerced = match def.attr_type {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => value.clone(),
            _ => return Err(wrong("a string")),
        },
        AttrType::Boolean => match value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("a boolean")),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::Number(i.into()),
                Err(_) => return Err(wrong("an integer")),
            },
            _ => return Err(wrong("an integer")),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => value.clone(),
            Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(wrong("a decimal number")),
            },
            _ => return Err(wrong("a decimal number")),
        },
        AttrType::DateTime => match value {
            // Stored as sent: only its validity matters here.
            Value::String(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => value.clone(),
            _ => return Err(wrong("an xsd:dateTime string")),
        },
        AttrType::Complex => return Err(wrong("an object")),
    };
    Ok(Some(coerced))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::SchemaRegistry;
    use serde_json::json;

    fn user_attr(name: &str) -> &'static AttributeDef {
        let user = &SchemaRegistry::builtin().user;
        match user.resolve(None, name) {
            Some(r) => r.def,
            None => panic!("test schema lacks {name}"),
        }
    }

    #[test]
    fn string_booleans_any_case() {
        let active = user_attr("active");
        for (input, want) in [
            (json!("True"), true),
            (json!("FALSE"), false),
            (json!("false"), false),
            (json!(true), true),
        ] {
            assert_eq!(coerce_attribute(active, &input).unwrap(), Some(json!(want)));
        }
        let err = coerce_attribute(active, &json!(1)).unwrap_err();
        assert_eq!(err.scim_type(), Some("invalidValue"));
        assert!(coerce_attribute(active, &json!("yes")).is_err());
    }

    #[test]
    fn wrapped_single_values_are_unwrapped() {
        let display = user_attr("displayName");
        let wrapped = json!([{"$ref": null, "value": "User x"}]);
        assert_eq!(
            coerce_attribute(display, &wrapped).unwrap(),
            Some(json!("User x"))
        );
        assert_eq!(
            coerce_attribute(display, &json!(["x"])).unwrap(),
            Some(json!("x"))
        );
        assert!(coerce_attribute(display, &json!(["a", "b"])).is_err());
        assert_eq!(coerce_attribute(display, &json!([])).unwrap(), None);
    }

    #[test]
    fn null_and_empty_are_unassigned() {
        let title = user_attr("title");
        assert_eq!(coerce_attribute(title, &json!(null)).unwrap(), None);
        assert_eq!(coerce_attribute(title, &json!("")).unwrap(), None);
        let emails = user_attr("emails");
        assert_eq!(coerce_attribute(emails, &json!([])).unwrap(), None);
        assert_eq!(coerce_attribute(emails, &json!([null])).unwrap(), None);
    }

    #[test]
    fn wrong_types_are_invalid_value() {
        assert!(coerce_attribute(user_attr("userName"), &json!(42)).is_err());
        assert!(coerce_attribute(user_attr("name"), &json!([1, 2])).is_err());
        assert!(coerce_attribute(user_attr("emails"), &json!([[1]])).is_err());
        assert!(coerce_attribute(user_attr("emails"), &json!([{"value": 5}])).is_err());
    }

    #[test]
    fn manager_string_becomes_object_and_read_only_subs_drop() {
        let user = &SchemaRegistry::builtin().user;
        let manager = user.resolve(None, "manager").unwrap().def;
        assert_eq!(
            coerce_attribute(manager, &json!("m1")).unwrap(),
            Some(json!({"value": "m1"}))
        );
        let e17 = json!([{"$ref": "http://x/Users/m1", "value": "m1"}]);
        assert_eq!(
            coerce_attribute(manager, &e17).unwrap(),
            Some(json!({"value": "m1", "$ref": "http://x/Users/m1"}))
        );
        let with_display = json!({"VALUE": "m1", "displayName": "Boss", "$ref": null});
        assert_eq!(
            coerce_attribute(manager, &with_display).unwrap(),
            Some(json!({"value": "m1"}))
        );
    }

    #[test]
    fn multi_valued_wraps_single_and_dedupes() {
        let emails = user_attr("emails");
        let one = json!({"value": "a@x", "Type": "work", "primary": "True"});
        assert_eq!(
            coerce_attribute(emails, &one).unwrap(),
            Some(json!([{"value": "a@x", "type": "work", "primary": true}]))
        );
        let dup = json!([{"value": "a@x"}, {"value": "a@x"}]);
        assert_eq!(
            coerce_attribute(emails, &dup).unwrap(),
            Some(json!([{"value": "a@x"}]))
        );
    }

    #[test]
    fn numbers_and_dates() {
        let group = &SchemaRegistry::builtin().group;
        let created = group
            .resolve(None, "meta")
            .and_then(|m| m.def.sub_attribute("created"))
            .unwrap();
        assert!(coerce_attribute(created, &json!("2018-03-27T19:59:26.000Z")).is_ok());
        assert!(coerce_attribute(created, &json!("04-12-2018 00:00:00")).is_err());
    }
}
