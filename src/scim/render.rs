//! Turning a stored resource into the SCIM representation clients see: `schemas`, `id`, the
//! document, computed `members`/`groups`, and a complete `meta` (RFC 7643 §3.1).

use super::schema::{ResourceKind, ResourceSchema, TABLEAU_USER_SCHEMA};
use crate::model::Resource;
use serde_json::{Map, Value, json};

/// The weak ETag of a stored revision. The revision changes on every write of the resource.
pub fn etag(revision: i64) -> String {
    format!("W/\"{revision}\"")
}

/// Absolute URL of a resource: `<base_url>/Users/<id>`.
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base_url}/{}/{id}", kind.endpoint())
}

/// The full representation, before projection. Takes the resource by value: its document's
/// values move into the answer instead of being copied (a list page renders a hundred).
pub fn render(res: Resource, schema: &ResourceSchema, base_url: &str) -> Map<String, Value> {
    let Resource {
        id,
        kind,
        doc,
        members,
        groups,
        tableau_luid,
        created,
        last_modified,
        revision,
        ..
    } = res;
    let mut out = Map::with_capacity(doc.len() + 4);
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for ext in &schema.extensions {
        if doc
            .get(&ext.id)
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    let self_location = location(base_url, kind, &id);
    out.insert("id".into(), Value::String(id));
    for (k, v) in doc {
        if k == "schemas" || k == "id" || k == "meta" || k == "members" || k == "groups" {
            continue;
        }
        if schema.extension(&k).is_some() && v.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        out.insert(k, v);
    }
    // The Tableau LUID is read-only and kept in a column of its own; it is shown in the Tableau
    // extension so that an application can embed Tableau content for the user right away.
    if let (Some(luid), ResourceKind::User) = (tableau_luid, kind) {
        let ext = out
            .entry(TABLEAU_USER_SCHEMA.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(o) = ext {
            o.insert("luid".into(), Value::String(luid));
        }
        if let Some(Value::Array(list)) = out.get_mut("schemas")
            && !list.iter().any(|s| s == TABLEAU_USER_SCHEMA)
        {
            list.push(Value::String(TABLEAU_USER_SCHEMA.to_string()));
        }
    }
    match kind {
        ResourceKind::Group => {
            let members: Vec<Value> = members
                .iter()
                // RFC 7643 §8.7.1 gives members `value`, `$ref` and `type` only; a computed
                // `display` would also make a client's read-back differ from what it wrote.
                .map(|m| {
                    json!({
                        "value": m.id,
                        "$ref": location(base_url, m.kind, &m.id),
                        "type": m.kind.as_str(),
                    })
                })
                .collect();
            out.insert("members".into(), Value::Array(members));
        }
        ResourceKind::User => {
            if !groups.is_empty() {
                let groups: Vec<Value> = groups
                    .into_iter()
                    .map(|g| {
                        let href = location(base_url, ResourceKind::Group, &g.id);
                        json!({
                            "value": g.id,
                            "$ref": href,
                            "display": g.display,
                            "type": "direct",
                        })
                    })
                    .collect();
                out.insert("groups".into(), Value::Array(groups));
            }
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.as_str(),
            "created": created,
            "lastModified": last_modified,
            "location": self_location,
            "version": etag(revision),
        }),
    );
    out
}

/// The document as the PATCH engine works on it: the stored attributes plus, for a group, its
/// members as `{"value", "type"}` (readOnly `display` and `$ref` are not part of the input).
pub fn patchable_document(res: &Resource) -> Map<String, Value> {
    let mut doc = res.doc.clone();
    if res.kind == ResourceKind::Group {
        let members: Vec<Value> = res
            .members
            .iter()
            .map(|m| json!({"value": m.id, "type": m.kind.as_str()}))
            .collect();
        doc.insert("members".into(), Value::Array(members));
    }
    doc
}
