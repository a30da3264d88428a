//! SCIM User document → the Tableau user fields the bridge sets (DESIGN.md, "Tableau mapping").
//! Documents are in canonical form (the `scim` layer has fixed attribute-name case and coerced
//! booleans), but these readers still treat every shape they do not expect as "absent": a
//! stored document must never make the planner panic.

use crate::scim::schema::TABLEAU_USER_SCHEMA;
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

/// The URN under which Tableau's own SCIM service takes `siteRoles` (reference §8.3), without
/// our schema's `:User` suffix. The scim layer keeps it as an unknown extension, verbatim.
pub const TABLEAU_NATIVE_EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0";

/// The Tableau extension object, if the document has one: ours, else Tableau's own URN, so an
/// IdP app mapped for Tableau's native SCIM works unchanged.
pub fn tableau_extension(user: &Map<String, Value>) -> Option<&Map<String, Value>> {
    user.get(TABLEAU_USER_SCHEMA)
        .or_else(|| {
            user.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(TABLEAU_NATIVE_EXTENSION))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_object)
}

/// A string attribute of the Tableau extension (`authSetting`, `idpConfigurationId`), trimmed.
pub fn extension_string(user: &Map<String, Value>, attribute: &str) -> Option<String> {
    tableau_extension(user)
        .and_then(|x| x.get(attribute))
        .and_then(non_blank)
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
#[path = "mapping_tests.rs"]
mod tests;
