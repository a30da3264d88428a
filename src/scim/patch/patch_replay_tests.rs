//! Okta and Entra ID PATCH bodies, verbatim from `../shared/reference/scim-okta-entra.md`
//! (§1.3 O3/O4/O8, §2.3 E5-E7/E12-E14/E17, §2.4 aadOptscim062020), applied to realistic
//! stored documents. Each case: (name, stored document, body, expected document or check).

use super::*;

fn entra_user() -> Map<String, Value> {
    obj(json!({
        "schemas": [USER_SCHEMA],
        "id": "5171a35d82074e068ce2",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
            "type": "work",
            "primary": true
        }],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
    }))
}

fn run(doc: &Map<String, Value>, body: &Value, schema: &ResourceSchema) -> Value {
    match apply_patch(doc, body, schema) {
        Ok(d) => Value::Object(d),
        Err(e) => panic!("replay failed: {e:?}\nbody: {body}"),
    }
}

fn parse(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("fixture is not JSON: {e}"),
    }
}

#[test]
fn okta_o3_o4_deactivate_and_reactivate() {
    let o3 = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "replace",
        "value": {
            "active": false
        }
    }]
}"#,
    );
    let o4 = parse(
        r#"{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{ "op": "replace", "value": { "active": true } }] }"#,
    );
    let off = run(&base_user(), &o3, user_schema());
    assert_eq!(off["active"], json!(false));
    let on = run(&obj(off), &o4, user_schema());
    assert_eq!(
        Value::Object(base_user()),
        on,
        "deactivate + reactivate is a round trip"
    );
}

#[test]
fn okta_o8_group_rename_with_id_right_after_create() {
    let created = obj(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2"
    }));
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "replace",
        "value": {
            "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
            "displayName": "Test SCIMv2"
        }
    }]
}"#,
    );
    assert_eq!(run(&created, &body, group_schema()), Value::Object(created));
}

#[test]
fn okta_o8_membership_change() {
    let group = obj(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g",
        "displayName": "Test SCIMv2",
        "members": [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "type": "User"}]
    }));
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
          "op": "remove",
          "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"
        },
        {
          "op": "add",
          "path": "members",
          "value": [{
              "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
              "display": "test.user@okta.local"
        }]
    }]
}"#,
    );
    let out = run(&group, &body, group_schema());
    assert_eq!(
        out["members"],
        json!([{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"}])
    );
}

#[test]
fn okta_o8_full_push_replaces_members() {
    let body = parse(
        r#"{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
      "op": "replace",
      "path": "members",
      "value": [
        { "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local" },
        { "value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local" }
      ]
  }]
}"#,
    );
    let out = run(&base_group(), &body, group_schema());
    assert_eq!(
        out["members"],
        json!([
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"},
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e"}
        ])
    );
}

#[test]
fn entra_e5_multi_valued_and_family_name() {
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
            {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "updatedEmail@microsoft.com"
            },
            {
            "op": "Replace",
            "path": "name.familyName",
            "value": "updatedFamilyName"
            }
    ]
}"#,
    );
    let out = run(&entra_user(), &body, user_schema());
    assert_eq!(
        out["emails"],
        json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
    );
    // Stored as sent: `formatted` is not recomputed.
    assert_eq!(
        out["name"],
        json!({"formatted": "givenName familyName", "familyName": "updatedFamilyName", "givenName": "givenName"})
    );
}

#[test]
fn entra_e5_on_user_without_emails_creates_the_work_email() {
    let mut user = entra_user();
    user.shift_remove("emails");
    let body = parse(
        r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]}"#,
    );
    let out = run(&user, &body, user_schema());
    assert_eq!(
        out["emails"],
        json!([{"type": "work", "value": "new@contoso.com"}])
    );
}

#[test]
fn entra_e6_replace_user_name() {
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "userName",
        "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    }]
}"#,
    );
    let out = run(&entra_user(), &body, user_schema());
    assert_eq!(
        out["userName"],
        json!("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com")
    );
}

#[test]
fn entra_e7_disable_in_every_observed_shape() {
    let tutorial = parse(
        r#"{
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": false
        }
    ],
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ]
}"#,
    );
    let mut bodies = vec![tutorial];
    for op in [
        json!({"op": "Replace", "path": "active", "value": "False"}),
        json!({"op": "Replace", "path": "active", "value": "false"}),
        json!({"op": "Add", "path": "active", "value": "False"}),
        json!({"op": "replace", "path": "active", "value": false}),
    ] {
        bodies.push(body(json!([op])));
    }
    for b in bodies {
        let out = run(&entra_user(), &b, user_schema());
        assert_eq!(out["active"], json!(false), "{b}");
    }
    let enable = body(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    let mut disabled = entra_user();
    disabled.insert("active".into(), json!(false));
    assert_eq!(
        run(&disabled, &enable, user_schema())["active"],
        json!(true)
    );
}

#[test]
fn entra_e12_group_rename() {
    let body = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "displayName",
        "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    }]
}"#,
    );
    let out = run(&base_group(), &body, group_schema());
    assert_eq!(
        out["displayName"],
        json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")
    );
    assert_eq!(out["members"], Value::Object(base_group())["members"]);
}

#[test]
fn entra_e13_e14_add_then_remove_member() {
    let e13 = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Add",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#,
    );
    let e14 = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Remove",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#,
    );
    let added = run(&base_group(), &e13, group_schema());
    assert_eq!(
        added["members"][2],
        json!({"value": "f648f8d5ea4e4cd38e9c"})
    );
    // Entra repeats adds on later cycles: nothing changes.
    assert_eq!(run(&obj(added.clone()), &e13, group_schema()), added);
    let removed = run(&obj(added), &e14, group_schema());
    assert_eq!(
        removed,
        Value::Object(base_group()),
        "only the listed member is removed"
    );
}

#[test]
fn entra_e13_into_empty_group() {
    let empty = obj(
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "displayName"}),
    );
    let body = body(json!([{"op": "Add", "path": "members",
        "value": [{"$ref": null, "value": "a"}, {"$ref": null, "value": "b"}]}]));
    assert_eq!(
        run(&empty, &body, group_schema())["members"],
        json!([{"value": "a"}, {"value": "b"}])
    );
}

#[test]
fn entra_e17_manager_in_both_generations() {
    let old = parse(
        r#"{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [ { "op":"Add", "path":"manager",
                    "value": [ { "$ref":"http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                                 "value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee" } ] } ] }"#,
    );
    let out = run(&entra_user(), &old, user_schema());
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"$ref": "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
               "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"})
    );
    let current = parse(
        r#"{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [ { "op": "add",
                    "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2" } ] }"#,
    );
    let out = run(&obj(out), &current, user_schema());
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA]["manager"],
        json!({"value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"})
    );
    assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn entra_default_replace_multiple_one_op_per_attribute() {
    let ops = json!([
        {"op": "Replace", "path": "displayName", "value": "Bjfe"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Kkom"},
        {"op": "Replace", "path": "name.familyName", "value": "Unua"},
        {"op": "Replace", "path": "externalId", "value": "ext-2"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Aklq"}
    ]);
    let out = run(&entra_user(), &body(ops), user_schema());
    assert_eq!(out, flagged_expected());
}

#[test]
fn entra_aadoptscim062020_replace_multiple() {
    let flagged = parse(
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com" },
        { "op": "replace",
          "value": {
              "displayName": "Bjfe",
              "name.givenName": "Kkom",
              "name.familyName": "Unua",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq" } }
    ]
}"#,
    );
    let mut out = run(&entra_user(), &flagged, user_schema());
    // The flagged body carries no externalId; the rest must equal the default-mode result.
    out["externalId"] = json!("ext-2");
    let expected = flagged_expected();
    assert_eq!(out["emails"], expected["emails"]);
    assert_eq!(out["name"], expected["name"]);
    assert_eq!(out["displayName"], expected["displayName"]);
    assert_eq!(
        out[ENTERPRISE_USER_SCHEMA],
        expected[ENTERPRISE_USER_SCHEMA]
    );
    assert_eq!(out["schemas"], expected["schemas"]);
}

fn flagged_expected() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "5171a35d82074e068ce2",
        "externalId": "ext-2",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true}],
        "name": {"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"},
        "displayName": "Bjfe",
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "Aklq"}
    })
}

#[test]
fn entra_aadoptscim062020_single_ops() {
    let out = run(
        &entra_user(),
        &body(json!([{"op": "replace", "path": "active", "value": false}])),
        user_schema(),
    );
    assert_eq!(out["active"], json!(false));
    let out = run(
        &entra_user(),
        &body(json!([{"op": "add", "path": "nickName", "value": "Babs"}])),
        user_schema(),
    );
    assert_eq!(out["nickName"], json!("Babs"));
    let default_mode = run(
        &entra_user(),
        &body(json!([{"op": "Add", "path": "nickName", "value": "Babs"}])),
        user_schema(),
    );
    assert_eq!(out, default_mode);
}

#[test]
fn entra_aadoptscim062020_remove_member_by_filter() {
    let group = obj(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g", "displayName": "d",
        "members": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}, {"value": "u1091"}]
    }));
    let flagged = body(
        json!([{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]),
    );
    let default_mode = body(
        json!([{"op": "Remove", "path": "members", "value": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}]}]),
    );
    let a = run(&group, &flagged, group_schema());
    let b = run(&group, &default_mode, group_schema());
    assert_eq!(a, b);
    assert_eq!(a["members"], json!([{"value": "u1091"}]));
}

#[test]
fn entra_validator_work_address_in_three_ops_is_one_element() {
    let ops = json!([
        {"op": "add", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St, Springfield"},
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
        {"op": "add", "path": "addresses[type eq \"work\"].region", "value": "IL"}
    ]);
    let out = run(&entra_user(), &body(ops), user_schema());
    assert_eq!(out["addresses"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["addresses"][0]["type"], json!("work"));
    assert_eq!(out["addresses"][0]["region"], json!("IL"));
}

#[test]
fn entra_null_update_test_clears_with_empty_and_null() {
    let set = body(json!([
        {"op": "Add", "path": "title", "value": "Eng"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1"}
    ]));
    let with_values = run(&entra_user(), &set, user_schema());
    for clear in [json!(""), json!(null)] {
        let b = body(json!([
            {"op": "Replace", "path": "title", "value": clear},
            {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": clear}
        ]));
        let out = run(&obj(with_values.clone()), &b, user_schema());
        assert!(out.get("title").is_none());
        assert!(out.get("phoneNumbers").is_none());
    }
}

#[test]
fn entra_app_role_with_string_boolean_filter() {
    let out = run(
        &entra_user(),
        &body(json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "ADMIN"}])),
        user_schema(),
    );
    assert_eq!(out["roles"], json!([{"primary": true, "value": "ADMIN"}]));
    let again = run(
        &obj(out.clone()),
        &body(
            json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "VIEWER"}]),
        ),
        user_schema(),
    );
    assert_eq!(
        again["roles"],
        json!([{"primary": true, "value": "VIEWER"}])
    );
}
