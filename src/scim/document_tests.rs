//! Tests of `prepare_document` with the POST/PUT bodies Okta and Entra send (reference §1.3 O1,
//! O2, O8; §2.3 E1, E9) and of the case-insensitive map helpers.

use super::*;
use crate::scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SchemaRegistry, TABLEAU_USER_SCHEMA, USER_SCHEMA,
};
use serde_json::json;

fn user(body: Value) -> Value {
    match prepare_document(&body, &SchemaRegistry::builtin().user) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("prepare failed: {e:?}"),
    }
}

fn group(body: Value) -> Value {
    match prepare_document(&body, &SchemaRegistry::builtin().group) {
        Ok(doc) => Value::Object(doc),
        Err(e) => panic!("prepare failed: {e:?}"),
    }
}

fn user_err(body: Value) -> &'static str {
    match prepare_document(&body, &SchemaRegistry::builtin().user) {
        Ok(doc) => panic!("unexpectedly accepted: {}", Value::Object(doc)),
        Err(e) => e.scim_type().unwrap_or("none"),
    }
}

#[test]
fn okta_o1_create_body() {
    let doc = user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    }));
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        })
    );
}

#[test]
fn okta_o2_put_echo_drops_read_only_fields() {
    let doc = user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
        "active": true,
        "groups": [],
        "password": "TkdFNVdIVkxhM2c9",
        "meta": {"resourceType": "User", "created": "04-12-2018 00:00:00"}
    }));
    assert!(doc.get("id").is_none());
    assert!(doc.get("meta").is_none(), "incoming meta is never parsed");
    assert!(doc.get("groups").is_none());
    assert!(doc.get("password").is_none());
    assert_eq!(doc["name"]["middleName"], json!("Excited"));
    assert_eq!(doc["emails"][0]["display"], json!("test.user@okta.local"));
}

#[test]
fn entra_e1_create_with_meta_and_empty_roles() {
    let doc = user(json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    }));
    assert!(
        doc.get("roles").is_none(),
        "an empty multi-valued attribute is unassigned"
    );
    assert_eq!(
        doc["schemas"],
        json!([USER_SCHEMA]),
        "no enterprise data, no enterprise URN"
    );
}

#[test]
fn entra_e1_example_2_nulls_and_typo_schema() {
    let doc = user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jyoung",
        "userName": "jyoung@testuser.com",
        "active": true,
        "addresses": null,
        "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "Young", "givenName": "Joy"},
        "phoneNumbers": null,
        "preferredLanguage": null,
        "title": null,
        "department": null,
        "manager": null
    }));
    for absent in [
        "addresses",
        "phoneNumbers",
        "preferredLanguage",
        "title",
        "department",
        "manager",
    ] {
        assert!(doc.get(absent).is_none(), "{absent}");
    }
    assert!(doc.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn entra_enterprise_and_custom_extension() {
    let custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    let doc = user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", custom],
        "userName": "bjensen@testuser.com",
        "id": "48af03ac28ad4fb88478",
        "externalId": "bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "123456", "office": "B12"},
        custom: {"tag": "701984"},
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"}
    }));
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"manager": {"value": "123456"}, "office": "B12"}),
        "manager becomes an object; unknown attributes of a known extension are kept"
    );
    assert_eq!(doc[custom], json!({"tag": "701984"}));
    assert_eq!(
        doc["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA, custom])
    );
}

#[test]
fn string_booleans_and_canonical_names() {
    let doc = user(json!({
        "USERNAME": "a@b.c",
        "Active": "True",
        "Emails": [{"VALUE": "a@b.c", "Primary": "false"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}
    }));
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a@b.c",
            "active": true,
            "emails": [{"value": "a@b.c", "primary": false}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7"}
        })
    );
}

#[test]
fn dotted_and_urn_keys_in_a_body() {
    let doc = user(json!({
        "userName": "a",
        "name.givenName": "G",
        "urn:ietf:params:scim:schemas:extension:tableau:3.0:User:siteRoles": [{"value": "Viewer"}],
        "department": "Ops"
    }));
    assert_eq!(doc["name"], json!({"givenName": "G"}));
    assert_eq!(
        doc[TABLEAU_USER_SCHEMA]["siteRoles"],
        json!([{"value": "Viewer"}])
    );
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA]["department"],
        json!("Ops"),
        "Entra docs put it at the top level"
    );
}

#[test]
fn read_only_extension_attribute_is_dropped() {
    let doc =
        user(json!({"userName": "a", TABLEAU_USER_SCHEMA: {"luid": "x", "authSetting": "SAML"}}));
    assert_eq!(doc[TABLEAU_USER_SCHEMA], json!({"authSetting": "SAML"}));
}

#[test]
fn okta_o8_group_bodies() {
    let doc = group(
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": []}),
    );
    assert_eq!(
        doc,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2"})
    );
    let doc = group(
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Example Group",
      "members": [ { "value": "85467bb36e1c4f8991750501bf491962", "display": "steve@ad.oktatest.com" },
                   { "value": "2fabb15c24a2440c93a0214599603bcb", "display": "bob@ad.oktatest.com" } ] }),
    );
    assert_eq!(
        doc["members"],
        json!([{"value": "85467bb36e1c4f8991750501bf491962"}, {"value": "2fabb15c24a2440c93a0214599603bcb"}])
    );
}

#[test]
fn entra_e9_group_with_foreign_schema_uri() {
    let doc = group(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"}
    }));
    assert_eq!(
        doc,
        json!({"schemas": [GROUP_SCHEMA], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName"})
    );
}

#[test]
fn required_attributes() {
    assert_eq!(user_err(json!({"displayName": "x"})), "invalidValue");
    assert_eq!(user_err(json!({"userName": ""})), "invalidValue");
    let e = prepare_document(&json!({"members": []}), &SchemaRegistry::builtin().group);
    assert_eq!(e.err().and_then(|e| e.scim_type()), Some("invalidValue"));
}

#[test]
fn wrong_types() {
    assert_eq!(user_err(json!({"userName": 5})), "invalidValue");
    assert_eq!(
        user_err(json!({"userName": "a", "active": 1})),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!({"userName": "a", "name": "Babs"})),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "x"})),
        "invalidValue"
    );
}

#[test]
fn non_object_body_is_invalid_syntax() {
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        assert_eq!(user_err(body), "invalidSyntax");
    }
}

#[test]
fn two_primaries_keep_the_first() {
    let doc = user(json!({"userName": "a", "emails": [
        {"value": "1", "primary": true}, {"value": "2", "primary": "True"}]}));
    assert_eq!(doc["emails"][1]["primary"], json!(false));
}

#[test]
fn prepare_is_idempotent() {
    let once = user(json!({
        "userName": "a", "Active": "false", "manager": "m",
        "emails": {"value": "x@y", "type": "work"}, "name.familyName": "F"
    }));
    assert_eq!(user(once.clone()), once);
}

#[test]
fn case_insensitive_helpers() {
    let mut m = Map::new();
    m.insert("UserName".into(), json!("a"));
    m.insert("x".into(), json!(1));
    assert_eq!(get_ci(&m, "username"), Some(&json!("a")));
    insert_canonical(&mut m, "userName", json!("b"));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["x", "userName"]);
    insert_canonical(&mut m, "userName", json!("c"));
    assert_eq!(
        m.keys().collect::<Vec<_>>(),
        ["x", "userName"],
        "same spelling keeps its place"
    );
    if let Some(v) = get_ci_mut(&mut m, "USERNAME") {
        *v = json!("d");
    }
    assert_eq!(m["userName"], json!("d"));
    m.insert("USERNAME".into(), json!("e"));
    assert!(remove_ci(&mut m, "username").is_some());
    assert!(get_ci(&m, "userName").is_none());
}

#[test]
fn site_roles_given_as_a_bare_string() {
    // Okta profile mappings send a single string for the Tableau extension's siteRoles.
    let schema = &crate::scim::schema::SchemaRegistry::builtin().user;
    let doc = prepare_document(
        &serde_json::json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:tableau:3.0:User": {"siteRoles": "Creator"}}),
        schema,
    )
    .expect("accepted");
    assert_eq!(
        doc["urn:ietf:params:scim:schemas:extension:tableau:3.0:User"]["siteRoles"],
        serde_json::json!([{"value": "Creator"}])
    );
}

#[test]
fn password_of_the_wrong_type_is_invalid_value_and_never_stored() {
    assert_eq!(
        user_err(json!({"userName": "a", "password": {"nested": {"deep": 1}}})),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!({"userName": "a", "password": ["x", "y"]})),
        "invalidValue"
    );
    assert_eq!(
        user_err(json!({"userName": "a", "password": 12})),
        "invalidValue"
    );
    let doc = user(json!({"userName": "a", "password": "s3cret"}));
    assert!(doc.get("password").is_none());
    // Entra's old `{"value": x}` wrapping of a simple attribute is still accepted.
    let doc = user(json!({"userName": "a", "password": {"value": "s3cret"}}));
    assert!(doc.get("password").is_none());
}
