//! Tableau's own SCIM dialect: `siteRoles` and `entitlements` under both Tableau URNs
//! (`urn:…:tableau:3.0:User` and `urn:…:tableau:3.0`), in every PATCH form an IdP app made for
//! Tableau's SCIM service sends: explicit paths, value filters, path-less values keyed by the
//! URN or by URN-qualified names; add, replace and remove.

use super::*;

const OURS: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
const NATIVE: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0";

fn with_native(roles: Value) -> Map<String, Value> {
    let mut user = base_user();
    user.insert(NATIVE.into(), json!({"siteRoles": roles}));
    user
}

fn patch(user: &Map<String, Value>, ops: Value) -> Value {
    match apply_patch(user, &body(ops), user_schema()) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("PATCH failed: {e:?}"),
    }
}

#[test]
fn explicit_paths_on_the_native_urn() {
    for attr in ["siteRoles", "entitlements"] {
        let path = format!("{NATIVE}:{attr}");
        let doc = patch_user(json!([{"op": "add", "path": path, "value": [{"value": "Creator"}]}]));
        assert_eq!(doc[NATIVE][attr], json!([{"value": "Creator"}]), "{attr}");
        assert_eq!(doc["schemas"], json!([USER_SCHEMA, NATIVE]), "{attr}");
        // add sets the one role, as on our extension; replace too; remove unassigns.
        let doc = patch_user(json!([
            {"op": "add", "path": path, "value": [{"value": "Creator"}]},
            {"op": "Add", "path": path, "value": [{"value": "Viewer"}]}
        ]));
        assert_eq!(doc[NATIVE][attr], json!([{"value": "Viewer"}]), "{attr}");
        let doc = patch_user(json!([
            {"op": "add", "path": path, "value": [{"value": "Creator"}]},
            {"op": "Replace", "path": path, "value": [{"value": "Explorer"}]}
        ]));
        assert_eq!(doc[NATIVE][attr], json!([{"value": "Explorer"}]), "{attr}");
        let doc = patch_user(json!([
            {"op": "add", "path": path, "value": [{"value": "Creator"}]},
            {"op": "remove", "path": path}
        ]));
        assert!(doc.get(NATIVE).is_none(), "{attr}: {doc}");
    }
}

#[test]
fn explicit_paths_on_our_urn_take_entitlements_too() {
    let path = format!("{OURS}:entitlements");
    let doc = patch_user(json!([
        {"op": "add", "path": path, "value": [{"value": "Creator"}]},
        {"op": "add", "path": path, "value": [{"value": "Explorer"}]}
    ]));
    assert_eq!(doc[OURS]["entitlements"], json!([{"value": "Explorer"}]));
    // The core schema's `entitlements` keeps RFC 7644's append.
    let doc = patch_user(json!([
        {"op": "add", "path": "entitlements", "value": [{"value": "a"}]},
        {"op": "add", "path": "entitlements", "value": [{"value": "b"}]}
    ]));
    assert_eq!(doc["entitlements"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_single_object_or_string_is_one_role() {
    let doc = patch_user(
        json!([{"op": "replace", "path": format!("{NATIVE}:siteRoles"),
        "value": {"value": "Creator"}}]),
    );
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Creator"}]));
}

#[test]
fn value_filters_on_site_roles() {
    let user = with_native(json!([{"value": "Creator"}]));
    let doc = patch(
        &user,
        json!([{"op": "remove", "path": format!("{NATIVE}:siteRoles[value eq \"Creator\"]")}]),
    );
    assert!(doc.get(NATIVE).is_none(), "{doc}");
    let doc = patch(
        &user,
        json!([{"op": "remove", "path": format!("{NATIVE}:siteRoles[value eq \"Viewer\"]")}]),
    );
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Creator"}]));
    let doc = patch(
        &user,
        json!([{"op": "replace", "path": format!("{NATIVE}:siteRoles[value eq \"Creator\"].value"),
            "value": "Explorer"}]),
    );
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Explorer"}]));
    let doc = patch_user(json!([{"op": "add",
        "path": format!("{OURS}:siteRoles[primary eq true].value"), "value": "Viewer"}]));
    assert_eq!(
        doc[OURS]["siteRoles"],
        json!([{"primary": true, "value": "Viewer"}])
    );
}

#[test]
fn pathless_values_keyed_by_either_urn() {
    let doc = patch_user(json!([{"op": "replace",
        "value": {NATIVE: {"siteRoles": [{"value": "Creator"}], "entitlements": [{"value": "Viewer"}]}}}]));
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Creator"}]));
    assert_eq!(doc[NATIVE]["entitlements"], json!([{"value": "Viewer"}]));
    let doc = patch_user(json!([{"op": "add",
        "value": {format!("{NATIVE}:siteRoles"): [{"value": "Explorer"}]}}]));
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Explorer"}]));
    // `urn:…:tableau:3.0` is a prefix of `urn:…:tableau:3.0:User`: the longer URN is meant.
    let doc = patch_user(json!([{"op": "add",
        "value": {format!("{OURS}:siteRoles"): [{"value": "Explorer"}], "active": false}}]));
    assert_eq!(doc[OURS]["siteRoles"], json!([{"value": "Explorer"}]));
    assert!(doc.get(NATIVE).is_none(), "{doc}");
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn path_naming_the_native_urn_targets_its_object() {
    let user = with_native(json!([{"value": "Creator"}]));
    let doc = patch(
        &user,
        json!([{"op": "replace", "path": NATIVE, "value": {"siteRoles": [{"value": "Viewer"}]}}]),
    );
    assert_eq!(doc[NATIVE]["siteRoles"], json!([{"value": "Viewer"}]));
    let doc = patch(&user, json!([{"op": "remove", "path": NATIVE}]));
    assert!(doc.get(NATIVE).is_none(), "{doc}");
}

#[test]
fn unknown_attributes_of_the_native_urn_are_still_invalid_paths() {
    assert_eq!(
        user_err(json!([{"op": "add", "path": format!("{NATIVE}:siteRole"), "value": "x"}])),
        "invalidPath"
    );
}
