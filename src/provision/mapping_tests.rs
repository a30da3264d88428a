use super::*;
use serde_json::json;

fn doc(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("test document must be an object, got {other}"),
    }
}

#[test]
fn user_name_is_the_user_name() {
    assert_eq!(
        user_name(&doc(json!({"userName": "a@x.com"}))),
        Some("a@x.com")
    );
    assert_eq!(user_name(&doc(json!({}))), None);
    assert_eq!(user_name(&doc(json!({"userName": 7}))), None);
}

#[test]
fn full_name_prefers_display_name() {
    let d = doc(json!({
        "displayName": " Alice Doe ",
        "name": {"formatted": "Ms Alice Doe", "givenName": "Alice", "familyName": "Doe"}
    }));
    assert_eq!(full_name(&d).as_deref(), Some("Alice Doe"));
}

#[test]
fn full_name_falls_back_to_formatted_then_parts() {
    let d =
        doc(json!({"displayName": "  ", "name": {"formatted": "Ms Alice Doe", "givenName": "A"}}));
    assert_eq!(full_name(&d).as_deref(), Some("Ms Alice Doe"));
    let d = doc(json!({"name": {"givenName": " Alice ", "familyName": "Doe"}}));
    assert_eq!(full_name(&d).as_deref(), Some("Alice Doe"));
    let d = doc(json!({"name": {"familyName": "Doe"}}));
    assert_eq!(full_name(&d).as_deref(), Some("Doe"));
    let d = doc(json!({"name": {"givenName": "", "familyName": " "}}));
    assert_eq!(full_name(&d), None);
    assert_eq!(full_name(&doc(json!({"name": "not an object"}))), None);
}

#[test]
fn email_prefers_primary_then_work_then_first() {
    let d = doc(json!({"emails": [
        {"value": "home@x.com", "type": "home"},
        {"value": "work@x.com", "type": "work"},
        {"value": "main@x.com", "type": "other", "primary": true}
    ]}));
    assert_eq!(email(&d).as_deref(), Some("main@x.com"));
    let d = doc(json!({"emails": [
        {"value": "home@x.com", "type": "home", "primary": false},
        {"value": "work@x.com", "type": "Work"}
    ]}));
    assert_eq!(email(&d).as_deref(), Some("work@x.com"));
    let d = doc(json!({"emails": [{"value": "home@x.com", "type": "home"}, {"value": "b@x.com"}]}));
    assert_eq!(email(&d).as_deref(), Some("home@x.com"));
}

#[test]
fn email_skips_entries_without_a_value() {
    let d = doc(
        json!({"emails": [{"type": "work", "primary": true}, {"value": ""}, 3, {"value": "x@y.z"}]}),
    );
    assert_eq!(email(&d).as_deref(), Some("x@y.z"));
    assert_eq!(email(&doc(json!({"emails": []}))), None);
    assert_eq!(email(&doc(json!({"emails": "a@b.c"}))), None);
}

#[test]
fn active_defaults_to_true() {
    assert!(is_active(&doc(json!({}))));
    assert!(is_active(&doc(json!({"active": true}))));
    assert!(!is_active(&doc(json!({"active": false}))));
    assert!(!is_active(&doc(json!({"active": "False"}))));
    assert!(is_active(&doc(json!({"active": null}))));
}

#[test]
fn extension_strings_are_read_from_the_tableau_extension() {
    let d = doc(json!({TABLEAU_USER_SCHEMA: {"authSetting": " SAML ", "idpConfigurationId": ""}}));
    assert_eq!(extension_string(&d, "authSetting").as_deref(), Some("SAML"));
    assert_eq!(extension_string(&d, "idpConfigurationId"), None);
    assert_eq!(extension_string(&doc(json!({})), "authSetting"), None);
}
