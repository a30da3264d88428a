//! Explicit paths: simple and sub-attribute targets, mutability, types, extensions.

use super::*;

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
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "x"}])
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
fn password_of_the_wrong_type_is_invalid_value() {
    let nested = json!({"nested": {"deep": true}});
    assert_eq!(
        user_err(json!([{"op": "replace", "path": "password", "value": nested}])),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!([{"op": "replace", "value": {"password": nested}}])),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!([{"op": "add", "path": "password", "value": [1, 2]}])),
        "invalidValue"
    );
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
    // A later add sets the role rather than accumulating roles (see add_replaces_values).
    let doc = patch_user(json!([
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:tableau:3.0:User:siteRoles",
         "value": [{"value": "Creator", "primary": true}]},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:tableau:3.0:User:siteRoles",
         "value": [{"value": "Viewer"}]}
    ]));
    assert_eq!(
        doc["urn:ietf:params:scim:schemas:extension:tableau:3.0:User"]["siteRoles"],
        json!([{"value": "Viewer"}])
    );
    // `roles` keeps RFC semantics: Entra adds app roles one by one.
    let doc = patch_user(json!([
        {"op": "add", "path": "roles", "value": [{"value": "Creator"}]},
        {"op": "add", "path": "roles", "value": [{"value": "Viewer"}]}
    ]));
    assert_eq!(doc["roles"].as_array().map(Vec::len), Some(2));
}

#[test]
fn resending_the_same_manager_keeps_its_ref() {
    let mut user = base_user();
    user.insert(
        ENTERPRISE_USER_SCHEMA.into(),
        json!({"manager": {"value": "m1", "$ref": "https://x/Users/m1"}}),
    );
    let out = apply_patch(
        &user,
        &body(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1"}])),
        user_schema(),
    )
    .unwrap();
    assert_eq!(out[ENTERPRISE_USER_SCHEMA], user[ENTERPRISE_USER_SCHEMA]);
}
