//! SCIM User document → the Tableau user fields the bridge sets (DESIGN.md, "Tableau mapping").
//! Documents are in canonical form (the `scim` layer has fixed attribute-name case and coerced
//! booleans), but these readers still treat every shape they do not expect as "absent": a
//! stored document must never make the planner panic.

use crate::scim::schema::{TABLEAU_NATIVE_SCHEMA, TABLEAU_USER_SCHEMA};
use serde_json::{Map, Value};

/// The Tableau user `name`: the SCIM `userName`.
pub fn user_name(user: &Map<String, Value>) -> Option<&str> {
    user.get("userName").and_then(Value::as_str)
}

/// Tableau `fullName`: `displayName`, else `name.formatted`, else "givenName familyName".
/// Trimmed; `None` when nothing non-blank is there.
pub fn full_name(user: &Map<String, Value>) -> Option<String> {
    let name = user.get("name").and_then(Value::as_object);
    let part = |key: &str| name.and_then(|n| n.get(key)).and_then(non_blank);
    if let Some(display) = user.get("displayName").and_then(non_blank) {
        return Some(display);
    }
    if let Some(formatted) = part("formatted") {
        return Some(formatted);
    }
    let joined = [part("givenName"), part("familyName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    (!joined.is_empty()).then(|| joined.join(" "))
}

/// Tableau `email`: the `primary` e-mail's value, else the first of type "work", else the first.
/// Entries without a non-blank string `value` are skipped.
pub fn email(user: &Map<String, Value>) -> Option<String> {
    let emails: Vec<(&Map<String, Value>, String)> = user
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.as_object()?;
            Some((e, e.get("value").and_then(non_blank)?))
        })
        .collect();
    let is_primary =
        |e: &Map<String, Value>| e.get("primary").and_then(Value::as_bool) == Some(true);
    let is_work = |e: &Map<String, Value>| {
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
    };
    let pick = emails
        .iter()
        .find(|(e, _)| is_primary(e))
        .or_else(|| emails.iter().find(|(e, _)| is_work(e)))
        .or_else(|| emails.first());
    pick.map(|(_, v)| v.clone())
}

/// The Tableau extension objects the document has, in the order they are read: ours
/// (`urn:…:tableau:3.0:User`), then Tableau's own (`urn:…:tableau:3.0`), so that an IdP app
/// made for Tableau's native SCIM works unchanged. Keys are matched case-insensitively: stored
/// documents are canonical, but these readers never depend on it.
pub fn tableau_extensions(user: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    [TABLEAU_USER_SCHEMA, TABLEAU_NATIVE_SCHEMA]
        .into_iter()
        .filter_map(|urn| {
            user.get(urn).or_else(|| {
                user.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(urn))
                    .map(|(_, v)| v)
            })
        })
        .filter_map(Value::as_object)
}

/// A string attribute of the Tableau extensions (`authSetting`, `idpConfigurationId`),
/// trimmed: the first non-blank one.
pub fn extension_string(user: &Map<String, Value>, attribute: &str) -> Option<String> {
    tableau_extensions(user).find_map(|x| x.get(attribute).and_then(non_blank))
}

/// `active`, which SCIM defaults to true when absent (RFC 7643 §4.1.1 leaves it to the
/// provider; every IdP that deactivates sends `false` explicitly).
pub fn is_active(user: &Map<String, Value>) -> bool {
    match user.get("active") {
        Some(Value::Bool(b)) => *b,
        // The scim layer coerces Entra's "False"; a stored document from before that is read
        // the same way rather than treated as active.
        Some(Value::String(s)) => !s.trim().eq_ignore_ascii_case("false"),
        _ => true,
    }
}

fn non_blank(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
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
        let d = doc(
            json!({"displayName": "  ", "name": {"formatted": "Ms Alice Doe", "givenName": "A"}}),
        );
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
        let d =
            doc(json!({"emails": [{"value": "home@x.com", "type": "home"}, {"value": "b@x.com"}]}));
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
        let d =
            doc(json!({TABLEAU_USER_SCHEMA: {"authSetting": " SAML ", "idpConfigurationId": ""}}));
        assert_eq!(extension_string(&d, "authSetting").as_deref(), Some("SAML"));
        assert_eq!(extension_string(&d, "idpConfigurationId"), None);
        assert_eq!(extension_string(&doc(json!({})), "authSetting"), None);
    }
}
