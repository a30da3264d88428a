use super::*;
use crate::scim::ErrorKind;
use serde_json::json;

fn doc(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object"),
    }
}

fn user(v: Value) -> ScimResult<()> {
    check_document(ResourceKind::User, &doc(v), None)
}

fn group(v: Value) -> ScimResult<()> {
    check_document(ResourceKind::Group, &doc(v), None)
}

/// The detail of a refusal, which must be a 400 invalidValue.
fn refused(r: ScimResult<()>) -> String {
    let e = r.expect_err("refused");
    assert_eq!(e.kind, ErrorKind::InvalidValue, "{}", e.detail);
    assert_eq!(e.status(), 400);
    e.detail
}

#[test]
fn ordinary_documents_pass() {
    user(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "alice@example.com",
        "displayName": "Alice Ærøskøbing",
        "name": {"givenName": "Alice", "familyName": "O'Neil"},
        "emails": [{"value": "alice.o-neil+tag@sub.example.co.uk", "primary": true}],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
    }))
    .unwrap();
    group(json!({"displayName": "Sales EMEA", "members": [{"value": "u1"}]})).unwrap();
    // Inner whitespace is fine; only the ends are refused.
    user(json!({"userName": "Jane Doe"})).unwrap();
}

#[test]
fn names_refuse_control_separator_and_bidi_characters() {
    for bad in [
        "a\tb",
        "a\nb",
        "a\rb",
        "a\u{0}b",
        "a\u{7f}b",
        "a\u{85}b",
        "a\u{2028}b",
        "a\u{2029}b",
        "a\u{202E}b",
        "a\u{202A}b",
        "a\u{2066}b",
        "a\u{2069}b",
        "a\u{200F}b",
        "a\u{61C}b",
    ] {
        let d = refused(user(json!({ "userName": bad })));
        assert!(d.starts_with("userName"), "{d}");
        assert!(d.contains("U+"), "names the character: {d}");
        let d = refused(group(json!({ "displayName": bad })));
        assert!(d.starts_with("displayName"), "{d}");
    }
}

#[test]
fn names_refuse_leading_and_trailing_whitespace() {
    for bad in [" a", "a ", "\u{a0}a", "a\u{3000}"] {
        let d = refused(user(json!({ "userName": bad })));
        assert!(d.contains("whitespace"), "{d}");
        refused(group(json!({ "displayName": bad })));
    }
}

#[test]
fn name_lengths_are_bounded_in_characters() {
    let ok = "é".repeat(MAX_NAME_CHARS);
    user(json!({ "userName": ok })).unwrap();
    group(json!({ "displayName": ok })).unwrap();
    let long = "é".repeat(MAX_NAME_CHARS + 1);
    let d = refused(user(json!({ "userName": long })));
    assert!(d.contains("256 characters") && d.contains("255"), "{d}");
    refused(group(json!({ "displayName": long })));
    refused(user(json!({ "displayName": long })));
    refused(user(json!({ "externalId": long })));
    // The detail never echoes a huge value.
    let huge = "x".repeat(900_000);
    let d = refused(user(json!({ "userName": huge })));
    assert!(d.len() < 300, "{d}");
}

#[test]
fn all_users_is_not_a_group_name() {
    for name in ["All Users", "all users", "ALL USERS", "aLL uSERS"] {
        let d = refused(group(json!({ "displayName": name })));
        assert!(d.contains("built-in"), "{d}");
    }
    // A user may be called that; a group may contain the words.
    user(json!({"userName": "All Users"})).unwrap();
    group(json!({"displayName": "All Users of Sales"})).unwrap();
}

#[test]
fn nul_is_refused_in_every_string_and_key() {
    let d = refused(user(json!({"userName": "a", "title": "x\u{0}y"})));
    assert!(d.starts_with("title") && d.contains("NUL"), "{d}");
    let d = refused(user(
        json!({"userName": "a", "name": {"givenName": "\u{0}"}}),
    ));
    assert!(d.starts_with("name.givenName"), "{d}");
    let d = refused(user(json!({
        "userName": "a",
        "urn:example:ext": {"custom": ["ok", "n\u{0}"]}
    })));
    assert!(d.starts_with("urn:example:ext:custom"), "{d}");
    let d = refused(user(
        json!({"userName": "a", "urn:example:ext": {"k\u{0}": 1}}),
    ));
    assert!(d.contains("attribute name"), "{d}");
    refused(group(
        json!({"displayName": "g", "members": [{"value": "u\u{0}"}]}),
    ));
}

#[test]
fn other_strings_are_bounded() {
    let ok = "x".repeat(MAX_STRING_CHARS);
    user(json!({"userName": "a", "title": ok})).unwrap();
    let long = "x".repeat(MAX_STRING_CHARS + 1);
    let d = refused(user(json!({"userName": "a", "title": long})));
    assert!(d.starts_with("title is 1025 characters"), "{d}");
    refused(user(
        json!({"userName": "a", "urn:example:ext": {"v": long}}),
    ));
    let mut ext = Map::new();
    ext.insert(long.clone(), json!(1));
    refused(user(json!({"userName": "a", "urn:example:ext": ext})));
}

#[test]
fn emails_must_be_addresses_tableau_accepts() {
    for good in [
        "a@b",
        "first.last@example.com",
        "x+y@sub.example.org",
        "o'neil@example.ie",
        "müller@bücher.example",
    ] {
        assert_eq!(email_problem(good), None, "{good}");
        user(json!({"userName": "u", "emails": [{"value": good}]})).unwrap();
    }
    for bad in [
        "not-an-email",
        "@example.com",
        "a@",
        "a@@b",
        "a@b@c",
        "a b@c",
        "a@b c",
        "a\t@b",
        ".a@b",
        "a.@b",
        "a..b@c",
        "a@b..c",
        "a@.b",
        "a@b.",
        "a@-b.c",
        "a@b-.c",
        "\"a\"@b",
        "a@[1.2.3.4]",
        "a,b@c",
        "a@b\u{202E}",
    ] {
        assert!(email_problem(bad).is_some(), "{bad}");
        let d = refused(user(json!({"userName": "u", "emails": [{"value": bad}]})));
        assert!(d.starts_with("emails.value"), "{d}");
    }
    let local = "l".repeat(65);
    assert!(email_problem(&format!("{local}@b")).is_some());
    let long = format!("a@{}", "b".repeat(MAX_EMAIL_CHARS));
    let d = refused(user(json!({"userName": "u", "emails": [{"value": long}]})));
    assert!(d.contains("at most 254"), "{d}");
}

#[test]
fn an_update_checks_only_what_changes() {
    let old = doc(json!({
        "userName": "legacy\tname",
        "title": "t\u{0}",
        "urn:example:ext": {"a": "x\u{0}", "b": "ok"}
    }));
    // Deactivating a user stored before the rules existed is allowed...
    let mut new = old.clone();
    new.insert("active".into(), json!(false));
    check_document(ResourceKind::User, &new, Some(&old)).unwrap();
    // ...and so is changing another attribute of the same extension...
    let mut ext = new.clone();
    ext["urn:example:ext"]["b"] = json!("changed");
    check_document(ResourceKind::User, &ext, Some(&old)).unwrap();
    // ...but a changed attribute obeys the rules.
    let mut renamed = old.clone();
    renamed.insert("userName".into(), json!("other\tname"));
    refused(check_document(ResourceKind::User, &renamed, Some(&old)));
    let mut ext_bad = old.clone();
    ext_bad["urn:example:ext"]["b"] = json!("n\u{0}");
    refused(check_document(ResourceKind::User, &ext_bad, Some(&old)));
}
