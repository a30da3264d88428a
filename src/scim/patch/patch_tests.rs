//! Unit tests of PATCH semantics, one behaviour per test, grouped by topic in sub-modules (the
//! files `patch_<topic>_tests.rs`): shared fixtures and helpers live here.

use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, SchemaRegistry, USER_SCHEMA};
use serde_json::json;

#[path = "patch_multi_valued_tests.rs"]
mod multi_valued;
#[path = "patch_path_tests.rs"]
mod path;
#[path = "patch_pathless_tests.rs"]
mod pathless;
#[path = "patch_prop_tests.rs"]
mod properties;
#[path = "patch_replay_tests.rs"]
mod replay;
#[path = "patch_tableau_tests.rs"]
mod tableau;

pub(super) fn user_schema() -> &'static ResourceSchema {
    &SchemaRegistry::builtin().user
}

pub(super) fn group_schema() -> &'static ResourceSchema {
    &SchemaRegistry::builtin().group
}

pub(super) fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test fixture is not an object: {other}"),
    }
}

pub(super) fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

pub(super) fn base_user() -> Map<String, Value> {
    obj(json!({
        "schemas": [USER_SCHEMA],
        "id": "u-1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    }))
}

pub(super) fn base_group() -> Map<String, Value> {
    obj(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g-1",
        "displayName": "Engineering",
        "members": [
            {"value": "u1", "type": "User"},
            {"value": "u2", "type": "User"}
        ]
    }))
}

/// Apply ops to the base user; panics with the error on failure.
pub(super) fn patch_user(ops: Value) -> Value {
    match apply_patch(&base_user(), &body(ops), user_schema()) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("PATCH failed: {:?}", e),
    }
}

pub(super) fn patch_group(ops: Value) -> Value {
    match apply_patch(&base_group(), &body(ops), group_schema()) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("PATCH failed: {:?}", e),
    }
}

pub(super) fn user_err(ops: Value) -> &'static str {
    match apply_patch(&base_user(), &body(ops), user_schema()) {
        Ok(doc) => panic!("PATCH unexpectedly succeeded: {}", Value::Object(doc)),
        Err(e) => e.scim_type().unwrap_or("none"),
    }
}

pub(super) fn group_err(ops: Value) -> &'static str {
    match apply_patch(&base_group(), &body(ops), group_schema()) {
        Ok(doc) => panic!("PATCH unexpectedly succeeded: {}", Value::Object(doc)),
        Err(e) => e.scim_type().unwrap_or("none"),
    }
}

fn member_ids(doc: &Value) -> Vec<&str> {
    doc["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["value"].as_str()).collect())
        .unwrap_or_default()
}
