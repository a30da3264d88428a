//! Unit tests of PATCH semantics, one behaviour per test. IdP replays are in `replay_tests.rs`,
//! properties in `prop_tests.rs`.

use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, SchemaRegistry, USER_SCHEMA};
use serde_json::json;

mod prop_tests;
mod replay_tests;

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

// ---- path-less add / replace -------------------------------------------------------------

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

// ---- simple paths ---------------------------------------------------------------------------

#[test]
fn add_on_single_valued_replaces() {
    let doc = patch_user(json!([{"op": "Add", "path": "active", "value": "False"}]));
    assert_eq!(doc["active"], json!(false));
    let doc = patch_user(json!([{"op": "add", "path": "nickName", "value": "Babs"}]));
    assert_eq!(doc["nickName"], json!("Babs"));
}

#[test]
fn replace_sub_attribute_of_complex() {
    let doc = patch_user(json!([{"op": "replace", "path": "name.familyName", "value": "J"}]));
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "J"})
    );
}

#[test]
fn replace_on_complex_merges_sub_attributes() {
    let doc = patch_user(json!([{"op": "replace", "path": "name", "value": {"middleName": "E"}}]));
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "E"})
    );
}

#[test]
fn paths_are_case_insensitive() {
    let doc = patch_user(json!([{"op": "replace", "path": "NAME.givenname", "value": "B"}]));
    assert_eq!(doc["name"]["givenName"], json!("B"));
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[Type eq \"work\"].Value", "value": "w@x"}]),
    );
    assert_eq!(doc["emails"][0]["value"], json!("w@x"));
}

#[test]
fn core_urn_prefixed_path() {
    let doc = patch_user(json!([{"op": "replace",
        "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "B"}]));
    assert_eq!(doc["displayName"], json!("B"));
}

#[test]
fn wrapped_scalar_for_simple_attribute_is_unwrapped() {
    let doc = patch_user(json!([{"op": "Replace", "path": "displayName",
        "value": [{"$ref": null, "value": "User x"}]}]));
    assert_eq!(doc["displayName"], json!("User x"));
}

#[test]
fn null_and_empty_string_unassign() {
    let doc = patch_user(json!([
        {"op": "add", "path": "title", "value": "CTO"},
        {"op": "replace", "path": "title", "value": ""},
        {"op": "replace", "path": "name.givenName", "value": null}
    ]));
    assert!(doc.get("title").is_none());
    assert_eq!(doc["name"], json!({"familyName": "Jensen"}));
}

#[test]
fn remove_simple_and_sub_attribute() {
    let doc = patch_user(json!([
        {"op": "remove", "path": "active"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "name.familyName"}
    ]));
    assert!(doc.get("active").is_none());
    assert!(
        doc.get("name").is_none(),
        "an emptied complex attribute is unassigned"
    );
}

#[test]
fn remove_absent_attribute_succeeds() {
    let doc = patch_user(json!([{"op": "remove", "path": "nickName"}]));
    assert!(doc.get("nickName").is_none());
}

#[test]
fn remove_without_path_is_no_target() {
    assert_eq!(user_err(json!([{"op": "remove"}])), "noTarget");
    assert_eq!(
        user_err(json!([{"op": "remove", "value": {"title": "x"}}])),
        "noTarget"
    );
}

#[test]
fn remove_required_is_mutability() {
    assert_eq!(
        user_err(json!([{"op": "remove", "path": "userName"}])),
        "mutability"
    );
    assert_eq!(
        group_err(json!([{"op": "remove", "path": "displayName"}])),
        "mutability"
    );
}

#[test]
fn replacing_required_with_null_is_invalid_value() {
    assert_eq!(
        user_err(json!([{"op": "replace", "path": "userName", "value": null}])),
        "invalidValue"
    );
}

#[test]
fn read_only_paths_are_mutability() {
    for path in ["id", "meta", "meta.lastModified", "groups", "schemas"] {
        assert_eq!(
            user_err(json!([{"op": "replace", "path": path, "value": "x"}])),
            "mutability",
            "{path}"
        );
    }
    assert_eq!(
        user_err(json!([{"op": "remove", "path": "id"}])),
        "mutability"
    );
    assert_eq!(
        group_err(
            json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}])
        ),
        "mutability"
    );
}

#[test]
fn password_is_accepted_and_never_stored() {
    let doc = patch_user(json!([{"op": "replace", "path": "password", "value": "s3cret"}]));
    assert!(doc.get("password").is_none());
    let doc = patch_user(json!([{"op": "replace", "value": {"password": "s3cret"}}]));
    assert!(doc.get("password").is_none());
}

#[test]
fn unknown_paths_are_invalid_path() {
    for path in [
        "nosuch",
        "name.nosuch",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch",
        "displayName[value eq \"x\"]",
        "emails[type eq \"work\"",
        "emails[nosuch eq \"x\"].value",
        "emails[emails.type eq \"work\"].value",
    ] {
        assert_eq!(
            user_err(json!([{"op": "replace", "path": path, "value": "x"}])),
            "invalidPath",
            "{path}"
        );
    }
}

#[test]
fn wrong_value_types_are_invalid_value() {
    for (path, value) in [
        ("userName", json!(7)),
        ("active", json!(1)),
        ("active", json!("maybe")),
        ("name", json!([1, 2])),
        ("emails", json!([{"value": false}])),
        ("emails[type eq \"work\"].primary", json!("yes")),
    ] {
        assert_eq!(
            user_err(json!([{"op": "replace", "path": path, "value": value}])),
            "invalidValue",
            "{path}"
        );
    }
}

// ---- extensions and manager ------------------------------------------------------------------

#[test]
fn extension_attribute_by_urn_path() {
    let doc = patch_user(json!([{"op": "add",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "value": "2c2f6fb8"}]));
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "2c2f6fb8"})
    );
    assert!(
        doc["schemas"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(ENTERPRISE_USER_SCHEMA)))
    );
}

#[test]
fn manager_shapes_all_become_an_object() {
    for value in [
        json!("m1"),
        json!({"value": "m1"}),
        json!([{"$ref": null, "value": "m1"}]),
        json!({"value": "m1", "displayName": "Boss"}),
    ] {
        let doc = patch_user(json!([{"op": "replace", "path": "manager", "value": value}]));
        assert_eq!(
            doc[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m1"})
        );
    }
}

#[test]
fn manager_change_drops_the_old_ref() {
    let mut user = base_user();
    user.insert(
        ENTERPRISE_USER_SCHEMA.into(),
        json!({"manager": {"value": "m1", "$ref": "https://x/Users/m1"}}),
    );
    let out = apply_patch(
        &user,
        &body(json!([{"op": "replace", "path": "manager", "value": "m2"}])),
        user_schema(),
    )
    .unwrap();
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "m2"})
    );
}

#[test]
fn manager_removal_and_empty_replace_drop_the_extension() {
    let set = json!({"op": "add", "path": "manager", "value": "m1"});
    for clear in [
        json!({"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}),
        json!({"op": "Replace", "path": "manager", "value": ""}),
        json!({"op": "Replace", "path": "manager", "value": null}),
    ] {
        let doc = patch_user(json!([set.clone(), clear]));
        assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
    }
}

#[test]
fn whole_extension_path() {
    let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let doc = patch_user(json!([
        {"op": "add", "path": urn, "value": {"department": "Ops", "costCenter": "42"}},
        {"op": "replace", "path": urn, "value": {"department": "Dev"}}
    ]));
    assert_eq!(doc[urn], json!({"department": "Dev", "costCenter": "42"}));
    let doc = patch_user(json!([
        {"op": "add", "path": urn, "value": {"department": "Ops"}},
        {"op": "remove", "path": urn}
    ]));
    assert!(doc.get(urn).is_none());
    assert_eq!(
        user_err(json!([{"op": "add", "path": urn, "value": "x"}])),
        "invalidValue"
    );
}

#[test]
fn tableau_site_roles_multi_valued_extension() {
    let doc = patch_user(json!([{"op": "add",
        "path": "urn:ietf:params:scim:schemas:extension:tableau:3.0:User:siteRoles",
        "value": [{"value": "Creator"}]}]));
    assert_eq!(
        doc["urn:ietf:params:scim:schemas:extension:tableau:3.0:User"]["siteRoles"],
        json!([{"value": "Creator"}])
    );
}

// ---- multi-valued attributes ---------------------------------------------------------------

#[test]
fn add_on_multi_valued_appends_and_dedupes() {
    let doc = patch_user(json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@x", "type": "other"}, {"value": "bjensen@example.com", "type": "work"}]}]));
    let emails = doc["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2], json!({"value": "new@x", "type": "other"}));
    assert_eq!(emails[0]["primary"], json!(true));
}

#[test]
fn add_single_value_to_multi_valued_is_wrapped() {
    let doc = patch_user(
        json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "+1 555", "type": "work"}}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"value": "+1 555", "type": "work"}])
    );
}

#[test]
fn replace_on_multi_valued_replaces_all() {
    let doc =
        patch_user(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}]));
    assert_eq!(doc["emails"], json!([{"value": "only@x"}]));
}

#[test]
fn remove_multi_valued_without_value_removes_all() {
    let doc = patch_group(json!([{"op": "remove", "path": "members"}]));
    assert!(doc.get("members").is_none());
}

#[test]
fn remove_members_with_value_array_removes_only_those() {
    let doc = patch_group(json!([{"op": "Remove", "path": "members",
        "value": [{"$ref": null, "value": "u1"}, {"value": "not-a-member"}]}]));
    assert_eq!(member_ids(&doc), vec!["u2"]);
}

#[test]
fn remove_other_multi_valued_by_value() {
    let doc = patch_user(
        json!([{"op": "remove", "path": "emails", "value": [{"value": "BABS@home.example"}]}]),
    );
    assert_eq!(doc["emails"].as_array().map(Vec::len), Some(1));
}

#[test]
fn add_members_is_idempotent() {
    let doc = patch_group(json!([{"op": "add", "path": "members",
        "value": [{"value": "u1"}, {"value": "u3", "display": "ignored"}]}]));
    assert_eq!(member_ids(&doc), vec!["u1", "u2", "u3"]);
    assert_eq!(doc["members"][0], json!({"value": "u1", "type": "User"}));
    assert_eq!(
        doc["members"][2],
        json!({"value": "u3"}),
        "display is readOnly"
    );
}

#[test]
fn members_value_is_immutable() {
    assert_eq!(
        group_err(
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}])
        ),
        "mutability"
    );
}

// ---- value filters ---------------------------------------------------------------------------

#[test]
fn replace_filtered_sub_attribute() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"}]),
    );
    assert_eq!(doc["emails"][1], json!({"value": "h@x", "type": "home"}));
    assert_eq!(doc["emails"][0]["value"], json!("bjensen@example.com"));
}

#[test]
fn replace_filtered_element_keeps_filter_constraints() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x"}}]),
    );
    assert_eq!(doc["emails"][1], json!({"type": "home", "value": "h@x"}));
}

#[test]
fn add_filtered_element_merges() {
    let doc = patch_user(
        json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]),
    );
    assert_eq!(
        doc["emails"][1],
        json!({"value": "babs@home.example", "type": "home", "display": "Home"})
    );
}

#[test]
fn missing_filtered_target_is_created_from_eq_filter() {
    let doc = patch_user(
        json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]),
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "o@x"}]),
    );
    assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x"}));
}

#[test]
fn several_ops_on_one_missing_element_build_one_element() {
    let doc = patch_user(json!([
        {"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
        {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"}
    ]));
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345"}])
    );
}

#[test]
fn created_element_coerces_filter_literals() {
    let doc = patch_user(
        json!([{"op": "add", "path": "roles[primary eq \"True\"].value", "value": "ADMIN"}]),
    );
    assert_eq!(doc["roles"], json!([{"primary": true, "value": "ADMIN"}]));
}

#[test]
fn non_eq_filter_without_match_is_no_target() {
    assert_eq!(
        user_err(
            json!([{"op": "replace", "path": "emails[value co \"nomatch\"].type", "value": "x"}])
        ),
        "noTarget"
    );
    assert_eq!(
        user_err(
            json!([{"op": "add", "path": "emails[type ne \"work\" and type ne \"home\"]", "value": {"value": "a"}}])
        ),
        "noTarget"
    );
}

#[test]
fn empty_value_for_missing_filtered_target_creates_nothing() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": ""}]),
    );
    assert!(doc.get("phoneNumbers").is_none());
}

#[test]
fn remove_filtered_elements() {
    let doc = patch_group(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]));
    assert_eq!(member_ids(&doc), vec!["u1"]);
    let doc = patch_group(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]));
    assert_eq!(member_ids(&doc), vec!["u1", "u2"]);
    let doc = patch_group(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "remove", "path": "members[value eq \"u2\"]"}
    ]));
    assert!(doc.get("members").is_none());
}

#[test]
fn remove_filtered_value_sub_drops_the_element() {
    let doc = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"].value"}]));
    assert_eq!(doc["emails"].as_array().map(Vec::len), Some(1));
    let doc = patch_user(json!([{"op": "remove", "path": "emails[type eq \"home\"].type"}]));
    assert_eq!(doc["emails"][1], json!({"value": "babs@home.example"}));
}

#[test]
fn sub_path_on_multi_valued_without_filter_applies_to_all() {
    let doc = patch_user(json!([{"op": "replace", "path": "emails.display", "value": "d"}]));
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"] == json!("d"))
    );
}

// ---- primary ---------------------------------------------------------------------------------

#[test]
fn newly_set_primary_wins_on_add() {
    let doc = patch_user(
        json!([{"op": "add", "path": "emails", "value": [{"value": "n@x", "primary": true}]}]),
    );
    let primaries: Vec<&Value> = doc["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .collect();
    assert_eq!(primaries, vec![&json!({"value": "n@x", "primary": true})]);
    assert_eq!(doc["emails"][0]["primary"], json!(false));
}

#[test]
fn newly_set_primary_wins_on_filtered_replace() {
    let doc = patch_user(
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
    );
    assert_eq!(doc["emails"][0]["primary"], json!(false));
    assert_eq!(doc["emails"][1]["primary"], json!(true));
}

#[test]
fn replace_all_with_two_primaries_keeps_the_first() {
    let doc = patch_user(json!([{"op": "replace", "path": "emails",
        "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}]));
    assert_eq!(doc["emails"][0]["primary"], json!(true));
    assert_eq!(doc["emails"][1]["primary"], json!(false));
}

// ---- atomicity and output --------------------------------------------------------------------

#[test]
fn failing_operation_reports_its_index_and_changes_nothing() {
    let original = base_user();
    let err = apply_patch(
        &original,
        &body(json!([
            {"op": "replace", "path": "title", "value": "CTO"},
            {"op": "replace", "path": "nosuch", "value": 1}
        ])),
        user_schema(),
    )
    .unwrap_err();
    assert_eq!(err.scim_type(), Some("invalidPath"));
    assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    assert_eq!(original, base_user());
}

#[test]
fn untouched_keys_and_order_are_kept() {
    let doc = patch_user(json!([{"op": "replace", "path": "title", "value": "CTO"}]));
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "schemas", "id", "userName", "name", "active", "emails", "meta", "title"
        ]
    );
}

#[test]
fn group_rename_with_id_in_value() {
    let doc = patch_group(
        json!([{"op": "replace", "value": {"id": "g-1", "displayName": "Test SCIMv2"}}]),
    );
    assert_eq!(doc["displayName"], json!("Test SCIMv2"));
    assert_eq!(doc["id"], json!("g-1"));
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
