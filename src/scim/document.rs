//! Resource documents: the JSON object the server keeps for a User or Group.
//!
//! Stored documents use the schema's attribute names (`userName`, never `username`), keep core
//! and common attributes at the top level and extension attributes in an object under the
//! extension URN, and list in `schemas` the core schema plus every extension present. Clients
//! write attribute names in any case, so every lookup here is case-insensitive.

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{OpKind, apply_value_object};
use crate::scim::schema::ResourceSchema;
use serde_json::{Map, Value};

/// The value under `key`, compared ASCII-case-insensitively (exact match first).
pub fn get_ci<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Mutable access to the value under `key`, compared case-insensitively.
pub fn get_ci_mut<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    let actual = actual_key(map, key)?;
    map.get_mut(&actual)
}

/// Remove every key equal to `key` ignoring case; returns the last value removed. Keeps the
/// order of the remaining keys.
pub fn remove_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let mut removed = None;
    while let Some(actual) = actual_key(map, key) {
        removed = map.shift_remove(&actual);
    }
    removed
}

/// Insert under the canonical name `key`, replacing any entry whose key differs only in case.
/// An entry already spelled `key` is replaced in place (its position is kept).
pub fn insert_canonical(map: &mut Map<String, Value>, key: &str, value: Value) {
    let variants: Vec<String> = map
        .keys()
        .filter(|k| k.as_str() != key && k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    for k in variants {
        map.shift_remove(&k);
    }
    map.insert(key.to_string(), value);
}

fn actual_key(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Normalise a client-supplied resource body for create/replace: canonical attribute names from
/// the schema, read-only attributes dropped (id, meta, groups on User, members[].display,
/// manager.displayName), writeOnly password dropped (never stored), booleans coerced from
/// "true"/"false" strings (any case), `manager` string → object, null values and "$ref": null
/// removed, unknown attributes of known extensions kept, unknown extension URNs kept verbatim,
/// `schemas` set to the core schema plus the extension URNs present. Errors: invalidValue for
/// wrong types (e.g. userName not a string, active a number), invalidSyntax for a non-object
/// body. Required attributes checked (userName for User, displayName for Group) → invalidValue.
///
/// The body is read exactly like a path-less PATCH `replace` value applied to an empty
/// resource, so POST, PUT and PATCH accept the same shapes (dotted and URN-qualified keys
/// included). Unknown core attributes are ignored, as RFC 7644 §3.3 allows.
pub fn prepare_document(
    body: &Value,
    schema: &ResourceSchema,
) -> Result<Map<String, Value>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object",
            schema.kind.as_str()
        )));
    }
    let mut doc = Map::new();
    apply_value_object(&mut doc, OpKind::Replace, body, None, schema)?;
    finish_document(doc, schema)
}

/// The last step of every write: required attributes present, `schemas` recomputed and first.
pub(crate) fn finish_document(
    doc: Map<String, Value>,
    schema: &ResourceSchema,
) -> ScimResult<Map<String, Value>> {
    for s in schema.schemas() {
        let holder = if s.id == schema.core.id {
            Some(&doc)
        } else {
            get_ci(&doc, &s.id).and_then(Value::as_object)
        };
        for def in s.attributes.iter().filter(|d| d.required) {
            let present = holder
                .and_then(|h| get_ci(h, &def.name))
                .is_some_and(|v| !v.is_null());
            // An extension that is absent altogether does not need its required attributes.
            if !present && (holder.is_some() || s.id == schema.core.id) {
                return Err(ScimError::invalid_value(format!(
                    "'{}' is required",
                    def.name
                )));
            }
        }
    }
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for ext in &schema.extensions {
        if get_ci(&doc, &ext.id).is_some() {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    for (key, value) in &doc {
        let unknown_extension = key
            .as_bytes()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"urn:"))
            && value.is_object()
            && schema.extension(key).is_none()
            && !key.eq_ignore_ascii_case(&schema.core.id);
        if unknown_extension {
            schemas.push(Value::String(key.clone()));
        }
    }
    let mut out = Map::with_capacity(doc.len() + 1);
    out.insert("schemas".to_string(), Value::Array(schemas));
    for (key, value) in doc {
        if !key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "document_tests.rs"]
mod tests;
