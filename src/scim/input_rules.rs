//! The input rules every written document obeys, checked before anything is journaled or sent
//! to Tableau, the same whatever the store: what Tableau or a database would refuse (or store
//! differently) never gets that far. docs/scim.md has the table for admins.
//!
//! - `userName` and a group's `displayName` (Tableau's user and group names): 1 to
//!   [`MAX_NAME_CHARS`] characters, no control characters (NUL, tab, CR, LF, …), no line or
//!   paragraph separators (U+2028, U+2029), no bidirectional formatting characters (U+061C,
//!   U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), no leading or trailing whitespace; a group
//!   cannot be called "All Users" (Tableau's built-in group) in any case.
//! - A user's `displayName` and `externalId`: at most [`MAX_NAME_CHARS`] characters (both are
//!   indexed columns).
//! - `emails[].value`: an e-mail address Tableau accepts (see [`email_problem`]), at most
//!   [`MAX_EMAIL_CHARS`] characters.
//! - Every other string value, and every object key: at most [`MAX_STRING_CHARS`] characters.
//! - NUL (U+0000) nowhere, in no value and no key (PostgreSQL cannot store it).
//!
//! On an update only attributes that change are checked, so a resource stored before a rule
//! existed can still be changed (deactivated, deleted) as long as the change does not touch it.

use crate::model::ResourceKind;
use crate::scim::error::{ScimError, ScimResult};
use serde_json::{Map, Value};

/// `userName`, `displayName`, `externalId`: Tableau user and group names, indexed columns.
pub const MAX_NAME_CHARS: usize = 255;
/// An e-mail address (RFC 5321's limit on a forward path).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Any other string value or object key.
pub const MAX_STRING_CHARS: usize = 1024;

/// The name of Tableau's built-in group of every user.
const ALL_USERS: &str = "all users";

/// Check a document about to be written. `old` is the stored document of an update: an
/// attribute equal to its stored value is not checked again.
pub fn check_document(
    kind: ResourceKind,
    new: &Map<String, Value>,
    old: Option<&Map<String, Value>>,
) -> ScimResult<()> {
    for (key, value) in new {
        let stored = old.and_then(|o| o.get(key));
        if stored == Some(value) {
            continue;
        }
        check_key(key, key)?;
        match (value, is_urn(key)) {
            // An extension: its attributes one by one, each compared with its stored value.
            (Value::Object(attrs), true) => {
                let stored = stored.and_then(Value::as_object);
                for (name, v) in attrs {
                    if stored.and_then(|s| s.get(name)) == Some(v) {
                        continue;
                    }
                    let path = format!("{key}:{name}");
                    check_key(name, &path)?;
                    check_value(v, &path)?;
                }
            }
            _ => check_attribute(kind, key, value)?,
        }
    }
    Ok(())
}

fn is_urn(key: &str) -> bool {
    key.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"urn:"))
}

/// One core (or common) attribute: its own rule, then the rule of every string in it.
fn check_attribute(kind: ResourceKind, name: &str, value: &Value) -> ScimResult<()> {
    match (kind, name, value) {
        (ResourceKind::User, "userName", Value::String(s)) => check_name("userName", s)?,
        (ResourceKind::Group, "displayName", Value::String(s)) => {
            check_name("displayName", s)?;
            if s.trim().to_lowercase() == ALL_USERS {
                return Err(ScimError::invalid_value(format!(
                    "displayName {}: \"All Users\" is Tableau's built-in group of every user \
                     and cannot be a SCIM group; choose another name",
                    shown(s)
                )));
            }
        }
        (_, "displayName" | "externalId", Value::String(s)) => {
            check_length(name, s, MAX_NAME_CHARS)?
        }
        (_, "emails", Value::Array(items)) => {
            for item in items {
                if let Some(Value::String(address)) = item.get("value") {
                    check_length("emails.value", address, MAX_EMAIL_CHARS)?;
                    if let Some(why) = email_problem(address) {
                        return Err(ScimError::invalid_value(format!(
                            "emails.value {} is not an e-mail address Tableau accepts: {why}",
                            shown(address)
                        )));
                    }
                }
            }
        }
        _ => {}
    }
    check_value(value, name)
}

/// The rules of every string: no NUL, bounded length; keys of nested objects too.
fn check_value(value: &Value, path: &str) -> ScimResult<()> {
    match value {
        Value::String(s) => {
            check_no_nul(path, s)?;
            check_length(path, s, MAX_STRING_CHARS)
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, path)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let sub = format!("{path}.{k}");
            check_key(k, &sub)?;
            check_value(v, &sub)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_key(key: &str, path: &str) -> ScimResult<()> {
    if key.contains('\0') {
        return Err(ScimError::invalid_value(format!(
            "attribute name {} contains NUL (U+0000), which cannot be stored",
            shown(path)
        )));
    }
    if key.chars().count() > MAX_STRING_CHARS {
        return Err(ScimError::invalid_value(format!(
            "attribute name {} is longer than {MAX_STRING_CHARS} characters",
            shown(path)
        )));
    }
    Ok(())
}

fn check_no_nul(attribute: &str, s: &str) -> ScimResult<()> {
    if s.contains('\0') {
        return Err(ScimError::invalid_value(format!(
            "{attribute} contains NUL (U+0000), which cannot be stored; remove it"
        )));
    }
    Ok(())
}

fn check_length(attribute: &str, s: &str, max: usize) -> ScimResult<()> {
    let n = s.chars().count();
    if n > max {
        return Err(ScimError::invalid_value(format!(
            "{attribute} is {n} characters long; at most {max} are allowed"
        )));
    }
    Ok(())
}

/// The rules of a Tableau user or group name.
fn check_name(attribute: &str, s: &str) -> ScimResult<()> {
    check_length(attribute, s, MAX_NAME_CHARS)?;
    if let Some(c) = s.chars().find(|&c| forbidden_in_name(c)) {
        return Err(ScimError::invalid_value(format!(
            "{attribute} {} contains {}, which a name cannot contain (control characters, \
             line separators and bidirectional formatting characters are refused)",
            shown(s),
            describe(c)
        )));
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(ScimError::invalid_value(format!(
            "{attribute} {} starts or ends with whitespace; remove it",
            shown(s)
        )));
    }
    Ok(())
}

/// Control characters (Unicode Cc: NUL, tab, CR, LF, DEL, …), the line and paragraph
/// separators, and the bidirectional marks, embeddings, overrides and isolates.
pub fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Why Tableau would refuse this e-mail address, if it would. Stricter than Tableau's own
/// check (an `@` and no whitespace) so that no address it refuses reaches it: exactly one `@`,
/// a local part of 1 to 64 characters and a domain of 1 to 253, no whitespace, no control or
/// bidirectional characters, none of `"(),:;<>[\]`, no dot at either end of either part and no
/// two dots in a row, domain labels that do not start or end with `-`.
pub fn email_problem(address: &str) -> Option<&'static str> {
    if address.chars().any(char::is_whitespace) {
        return Some("it contains whitespace");
    }
    if address.chars().any(forbidden_in_name) {
        return Some("it contains a control or bidirectional formatting character");
    }
    if address.chars().any(|c| {
        matches!(
            c,
            '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
        )
    }) {
        return Some("it contains one of \"(),:;<>[\\]");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Some("it has no '@'");
    };
    if domain.contains('@') {
        return Some("it has more than one '@'");
    }
    if local.is_empty() || local.chars().count() > 64 {
        return Some("the part before '@' must be 1 to 64 characters");
    }
    if domain.is_empty() || domain.chars().count() > 253 {
        return Some("the domain must be 1 to 253 characters");
    }
    for part in [local, domain] {
        if part.starts_with('.') || part.ends_with('.') || part.contains("..") {
            return Some("a dot at the start or end of a part, or two dots in a row");
        }
    }
    if domain
        .split('.')
        .any(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Some("a domain label starts or ends with '-'");
    }
    None
}

/// A value for an error detail: quoted with its special characters escaped, and cut short.
fn shown(s: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
#[path = "input_rules_tests.rs"]
mod tests;
