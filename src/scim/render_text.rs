//! A list page's resources serialised straight from their stored JSON text: the bytes
//! `render` + the default projection + `serde_json::to_vec` would give, without parsing the
//! document into a tree, rebuilding it and serialising it again (a page of 100 users spent
//! most of its time there).
//!
//! The stored text is serde_json's own compact serialisation of the document (every write
//! goes through `store::columns`), so each top-level value is copied as it is stored and the
//! keys and values around it are written the way serde_json writes them. The document's
//! top-level object is scanned (borrowed, no tree); whenever it holds something the general
//! path treats specially (a LUID to merge into a stored extension, an empty extension object, an
//! attribute the default projection removes, an escaped key), [`render_text`] answers `None`
//! and the caller takes the general path. `render_text_tests.rs` compares both paths.

use super::render::{etag, location};
use super::schema::{ResourceKind, ResourceSchema, Returned, TABLEAU_USER_SCHEMA};
use crate::model::Resource;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// One resource of a page: rendered into a tree (the general path, before projection) or
/// already serialised (`render_text`, default projection applied).
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Document(serde_json::Map<String, serde_json::Value>),
    Json(Vec<u8>),
}

/// Keys `render` writes itself: their stored values (a document keeps the `schemas` it was
/// sent with) are left out.
const RENDERED_KEYS: [&str; 5] = ["schemas", "id", "meta", "members", "groups"];

/// The serialised representation of `res` (whose `doc` is not read; `text` is its stored
/// document) under the default projection, or `None` when the general path must render it.
pub fn render_text(
    res: &Resource,
    text: &str,
    schema: &ResourceSchema,
    base_url: &str,
) -> Option<Vec<u8>> {
    let entries = top_level(text)?;
    let luid = match res.kind {
        ResourceKind::User => res.tableau_luid.as_deref(),
        ResourceKind::Group => None,
    };
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|(key, _)| !RENDERED_KEYS.contains(key))
        .collect();
    for (key, value) in &entries {
        if (luid.is_some() && *key == TABLEAU_USER_SCHEMA) || !kept_whole(schema, key, value)? {
            return None;
        }
    }
    let relation = match res.kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    };
    for key in ["schemas", "id", "meta", relation] {
        if !kept_by_default(schema, key) {
            return None;
        }
    }
    if luid.is_some() && !luid_kept(schema) {
        return None;
    }

    let mut out = Vec::with_capacity(text.len() + 256);
    out.extend_from_slice(b"{\"schemas\":[");
    string(&mut out, &schema.core.id);
    for ext in &schema.extensions {
        if entries.iter().any(|(k, _)| *k == ext.id) {
            out.push(b',');
            string(&mut out, &ext.id);
        }
    }
    if luid.is_some() {
        // Not in the document (checked above), so not listed yet: `render` appends it with
        // the LUID.
        out.push(b',');
        string(&mut out, TABLEAU_USER_SCHEMA);
    }
    out.extend_from_slice(b"],\"id\":");
    string(&mut out, &res.id);
    for (key, value) in &entries {
        out.push(b',');
        string(&mut out, key);
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    if let Some(luid) = luid {
        out.push(b',');
        string(&mut out, TABLEAU_USER_SCHEMA);
        out.extend_from_slice(b":{\"luid\":");
        string(&mut out, luid);
        out.push(b'}');
    }
    match res.kind {
        ResourceKind::Group => {
            out.extend_from_slice(b",\"members\":[");
            for (i, m) in res.members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"value\":");
                string(&mut out, &m.id);
                out.extend_from_slice(b",\"$ref\":");
                string(&mut out, &location(base_url, m.kind, &m.id));
                out.extend_from_slice(b",\"type\":");
                string(&mut out, m.kind.as_str());
                out.push(b'}');
            }
            out.push(b']');
        }
        ResourceKind::User if !res.groups.is_empty() => {
            out.extend_from_slice(b",\"groups\":[");
            for (i, g) in res.groups.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"value\":");
                string(&mut out, &g.id);
                out.extend_from_slice(b",\"$ref\":");
                string(&mut out, &location(base_url, ResourceKind::Group, &g.id));
                out.extend_from_slice(b",\"display\":");
                string(&mut out, &g.display);
                out.extend_from_slice(b",\"type\":\"direct\"}");
            }
            out.push(b']');
        }
        ResourceKind::User => {}
    }
    out.extend_from_slice(b",\"meta\":{\"resourceType\":");
    string(&mut out, res.kind.as_str());
    out.extend_from_slice(b",\"created\":");
    string(&mut out, &res.created);
    out.extend_from_slice(b",\"lastModified\":");
    string(&mut out, &res.last_modified);
    out.extend_from_slice(b",\"location\":");
    string(&mut out, &location(base_url, res.kind, &res.id));
    out.extend_from_slice(b",\"version\":");
    string(&mut out, &etag(res.revision));
    out.extend_from_slice(b"}}");
    Some(out)
}

/// A JSON string as serde_json writes it.
fn string(out: &mut Vec<u8>, s: &str) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether the default projection keeps a top-level attribute of the document whole: `None`
/// when the value is not what `render` copies as it is (an extension that is not a non-empty
/// object, an escaped key inside one).
fn kept_whole(schema: &ResourceSchema, key: &str, value: &RawValue) -> Option<bool> {
    let Some(ext) = schema.extension(key) else {
        return Some(kept_by_default(schema, key));
    };
    // `render` and `schemas` compare the URN exactly, the projection case-insensitively.
    if ext.id != key {
        return None;
    }
    let inner = top_level(value.get())?;
    if inner.is_empty() {
        return None;
    }
    Some(inner.iter().all(|(name, _)| {
        ext.attribute(name)
            .is_none_or(|def| !matches!(def.returned, Returned::Never | Returned::Request))
    }))
}

/// Whether the default projection keeps a core or common attribute (or an unknown one).
fn kept_by_default(schema: &ResourceSchema, key: &str) -> bool {
    match schema.resolve(None, key) {
        Some(r) if !r.in_extension => {
            !matches!(r.def.returned, Returned::Never | Returned::Request)
        }
        _ => true,
    }
}

/// Whether the default projection keeps the LUID `render` adds in the Tableau extension.
fn luid_kept(schema: &ResourceSchema) -> bool {
    match schema.extension(TABLEAU_USER_SCHEMA) {
        Some(ext) => ext
            .attribute("luid")
            .is_none_or(|def| !matches!(def.returned, Returned::Never | Returned::Request)),
        None => kept_by_default(schema, TABLEAU_USER_SCHEMA),
    }
}

/// The members of a JSON object, in order, keys and values borrowed from `text`; `None` when
/// `text` is not an object, a key is escaped (it cannot be borrowed) or comes twice (serde_json
/// keeps the last value at the first position).
fn top_level(text: &str) -> Option<Vec<(&str, &RawValue)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(&'de str, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Self::Value = Vec::with_capacity(map.size_hint().unwrap_or(16));
            while let Some((key, value)) = map.next_entry::<&str, &RawValue>()? {
                if out.iter().any(|(k, _)| *k == key) {
                    return Err(serde::de::Error::custom("a duplicate key"));
                }
                out.push((key, value));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = de.deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

#[cfg(test)]
#[path = "render_text_tests.rs"]
mod tests;
