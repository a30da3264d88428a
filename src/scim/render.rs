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

/// The full representation, before projection.
pub fn render(res: &Resource, schema: &ResourceSchema, base_url: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for ext in &schema.extensions {
        if res
            .doc
            .get(&ext.id)
            .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(res.id.clone()));
    for (k, v) in &res.doc {
        if k == "schemas" || k == "id" || k == "meta" || k == "members" || k == "groups" {
            continue;
        }
        if schema.extension(k).is_some() && v.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    // The Tableau LUID is read-only and kept in a column of its own; it is shown in the Tableau
    // extension so that an application can embed Tableau content for the user right away.
    if let (Some(luid), ResourceKind::User) = (&res.tableau_luid, res.kind) {
        let ext = out
            .entry(TABLEAU_USER_SCHEMA.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(o) = ext {
            o.insert("luid".into(), Value::String(luid.clone()));
        }
        if let Some(Value::Array(list)) = out.get_mut("schemas")
            && !list.iter().any(|s| s == TABLEAU_USER_SCHEMA)
        {
            list.push(Value::String(TABLEAU_USER_SCHEMA.to_string()));
        }
    }
    match res.kind {
        ResourceKind::Group => {
            let members: Vec<Value> = res
                .members
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
            if !res.groups.is_empty() {
                let groups: Vec<Value> = res
                    .groups
                    .iter()
                    .map(|g| {
                        json!({
                            "value": g.id,
                            "$ref": location(base_url, ResourceKind::Group, &g.id),
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
            "resourceType": res.kind.as_str(),
            "created": res.created,
            "lastModified": res.last_modified,
            "location": location(base_url, res.kind, &res.id),
            "version": etag(res.revision),
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
