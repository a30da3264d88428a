//! Path-less add/replace: a `value` object of attributes, with the IdP leniencies.

use super::*;

#[test]
fn pathless_replace_merges_attributes() {
    let doc = patch_user(json!([{"op": "replace", "value": {"active": false, "title": "CTO"}}]));
    assert_eq!(doc["active"], json!(false));
    assert_eq!(doc["title"], json!("CTO"));
    assert_eq!(doc["userName"], json!("bjensen@example.com"));
}

#[test]
fn pathless_string_booleans_are_coerced() {
    let doc = patch_user(json!([{"op": "Replace", "value": {"active": "False"}}]));
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn pathless_dotted_and_urn_keys_expand() {
    let doc = patch_user(json!([{"op": "replace", "value": {
        "name.givenName": "Kkom",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "m-9"
    }}]));
    assert_eq!(
        doc["name"],
        json!({"givenName": "Kkom", "familyName": "Jensen"})
    );
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "Aklq", "manager": {"value": "m-9"}})
    );
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn pathless_extension_object_and_core_urn_prefix() {
    let doc = patch_user(json!([{"op": "add", "value": {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        "urn:ietf:params:scim:schemas:core:2.0:User:nickName": "Babs"
    }}]));
    assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["department"], json!("R&D"));
    assert_eq!(doc["nickName"], json!("Babs"));
}

#[test]
fn pathless_read_only_keys_are_ignored() {
    let doc = patch_user(json!([{"op": "replace", "value": {
        "id": "other", "meta": {"version": "x"}, "schemas": ["bogus"],
        "groups": [{"value": "g"}], "password": "secret", "displayName": "Babs"
    }}]));
    assert_eq!(doc["id"], json!("u-1"));
    assert_eq!(doc["meta"]["version"], json!("W/\"1\""));
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
    assert!(doc.get("groups").is_none());
    assert!(doc.get("password").is_none());
    assert_eq!(doc["displayName"], json!("Babs"));
}

#[test]
fn pathless_keys_are_case_insensitive_and_stored_canonically() {
    let doc = patch_user(
        json!([{"op": "replace", "value": {"DISPLAYNAME": "B", "Name": {"GIVENNAME": "X"}}}]),
    );
    assert_eq!(doc["displayName"], json!("B"));
    assert!(doc.get("DISPLAYNAME").is_none());
    assert_eq!(doc["name"]["givenName"], json!("X"));
}

#[test]
fn pathless_unknown_attributes() {
    let custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let doc = patch_user(json!([{"op": "add", "value": {
        "bogus": 1,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:tag": "t",
        custom: {"tag": "701984"}
    }}]));
    assert!(doc.get("bogus").is_none());
    assert_eq!(doc[ENTERPRISE_USER_SCHEMA]["tag"], json!("t"));
    assert_eq!(doc[custom], json!({"tag": "701984"}));
    assert_eq!(
        doc["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA, custom])
    );
}

#[test]
fn pathless_value_must_be_an_object() {
    assert_eq!(
        user_err(json!([{"op": "replace", "value": "x"}])),
        "invalidValue"
    );
    // One more wrapping level is tolerated.
    let doc = patch_user(json!([{"op": "replace", "value": [{"active": false}]}]));
    assert_eq!(doc["active"], json!(false));
}

#[test]
fn pathless_wrong_types_are_invalid_value() {
    assert_eq!(
        user_err(json!([{"op": "replace", "value": {"active": 3}}])),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!([{"op": "replace", "value": {"userName": ["a", "b"]}}])),
        "invalidValue"
    );
}

#[test]
fn pathless_core_urn_object_is_read_as_core_attributes() {
    let doc = patch_user(json!([{"op": "replace", "value": {
        "urn:ietf:params:scim:schemas:core:2.0:User": {"displayName": "B", "id": "x"}
    }}]));
    assert_eq!(doc["displayName"], json!("B"));
    assert_eq!(doc["id"], json!("u-1"));
    assert!(doc.get(USER_SCHEMA).is_none());
}
