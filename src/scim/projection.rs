//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) combined with each attribute's
//! `returned` characteristic (RFC 7643 §7): `always` is never removed, `never` is never shown,
//! `request` only when named in `attributes`.

use super::schema::{AttributeDef, ResourceSchema, Returned};
use super::{ScimError, ScimResult};
use serde_json::{Map, Value};

/// One entry of an `attributes` or `excludedAttributes` list, resolved against the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    /// `None` for core (and common) attributes, else the extension URN as the schema spells it.
    extension: Option<String>,
    /// Attribute name as the schema spells it; `None` selects a whole extension object.
    attr: Option<String>,
    sub: Option<String>,
}

/// A parsed projection request.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: Vec<Selector>,
    excluded: Vec<Selector>,
}

impl Projection {
    /// Parse comma-separated lists (as in query parameters). Unknown attribute names are
    /// ignored, as RFC 7644 asks servers to ignore what they do not know.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        schema: &ResourceSchema,
    ) -> ScimResult<Self> {
        let split = |s: Option<&str>| -> Vec<String> {
            s.map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        Self::from_lists(&split(attributes), &split(excluded), schema)
    }

    pub fn from_lists(
        attributes: &[String],
        excluded: &[String],
        schema: &ResourceSchema,
    ) -> ScimResult<Self> {
        let resolve_all = |list: &[String]| -> ScimResult<Vec<Selector>> {
            let mut out = Vec::new();
            for item in list {
                if let Some(sel) = resolve(item, schema)? {
                    out.push(sel);
                }
            }
            Ok(out)
        };
        Ok(Self {
            attributes: resolve_all(attributes)?,
            excluded: resolve_all(excluded)?,
        })
    }

    /// Neither `attributes` nor `excludedAttributes` (once resolved): only the attributes'
    /// `returned` characteristics apply.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether the resource's `members` (or `groups`) must be loaded at all.
    pub fn wants(&self, attr: &str, def: &AttributeDef) -> bool {
        decide(def, None, attr, &self.attributes, &self.excluded) != Decision::Drop
    }

    /// Apply to a rendered resource (top-level keys as the schema spells them, extensions
    /// under their URN).
    pub fn apply(&self, resource: &mut Map<String, Value>, schema: &ResourceSchema) {
        let keys: Vec<String> = resource.keys().cloned().collect();
        for key in keys {
            if let Some(ext) = schema.extension(&key) {
                let ext_id = ext.id.clone();
                let whole_requested = self
                    .attributes
                    .iter()
                    .any(|s| s.extension.as_deref() == Some(&ext_id) && s.attr.is_none());
                let whole_excluded = self
                    .excluded
                    .iter()
                    .any(|s| s.extension.as_deref() == Some(&ext_id) && s.attr.is_none());
                if whole_excluded {
                    resource.remove(&key);
                    continue;
                }
                if let Some(Value::Object(inner)) = resource.get_mut(&key) {
                    let inner_keys: Vec<String> = inner.keys().cloned().collect();
                    for ik in inner_keys {
                        let Some(def) = ext.attribute(&ik) else {
                            continue;
                        };
                        let decision = if whole_requested {
                            decide(def, Some(&ext_id), &ik, &[], &self.excluded)
                        } else {
                            decide(def, Some(&ext_id), &ik, &self.attributes, &self.excluded)
                        };
                        apply_decision(inner, &ik, def, decision);
                    }
                    if inner.is_empty() {
                        resource.remove(&key);
                    }
                }
                continue;
            }
            let Some(resolved) = schema.resolve(None, &key) else {
                continue;
            };
            if resolved.in_extension {
                continue;
            }
            let decision = decide(resolved.def, None, &key, &self.attributes, &self.excluded);
            apply_decision(resource, &key, resolved.def, decision);
        }
        // `schemas` must list only the extensions still present.
        if let Some(Value::Array(list)) = resource.get("schemas").cloned() {
            let kept: Vec<Value> = list
                .into_iter()
                .filter(|s| {
                    s.as_str().is_some_and(|urn| {
                        schema.extension(urn).is_none() || resource.contains_key(urn)
                    })
                })
                .collect();
            resource.insert("schemas".into(), Value::Array(kept));
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Keep,
    Drop,
    /// Keep only these sub-attributes (plus those returned `always`).
    KeepSubs(Vec<String>),
    /// Keep all but these sub-attributes.
    DropSubs(Vec<String>),
}

fn decide(
    def: &AttributeDef,
    ext: Option<&str>,
    name: &str,
    attributes: &[Selector],
    excluded: &[Selector],
) -> Decision {
    let same = |s: &Selector| {
        s.extension.as_deref() == ext
            && s.attr
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
    };
    match def.returned {
        Returned::Always => return Decision::Keep,
        Returned::Never => return Decision::Drop,
        _ => {}
    }
    if !attributes.is_empty() {
        let hits: Vec<&Selector> = attributes.iter().filter(|s| same(s)).collect();
        if hits.is_empty() {
            return Decision::Drop;
        }
        if hits.iter().any(|s| s.sub.is_none()) {
            return Decision::Keep;
        }
        return Decision::KeepSubs(hits.iter().filter_map(|s| s.sub.clone()).collect());
    }
    if def.returned == Returned::Request {
        return Decision::Drop;
    }
    let hits: Vec<&Selector> = excluded.iter().filter(|s| same(s)).collect();
    if hits.iter().any(|s| s.sub.is_none()) {
        Decision::Drop
    } else if hits.is_empty() {
        Decision::Keep
    } else {
        Decision::DropSubs(hits.iter().filter_map(|s| s.sub.clone()).collect())
    }
}

fn apply_decision(map: &mut Map<String, Value>, key: &str, def: &AttributeDef, d: Decision) {
    match d {
        Decision::Keep => {}
        Decision::Drop => {
            map.remove(key);
        }
        Decision::KeepSubs(subs) => {
            let keep = |k: &str| {
                subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                    || def
                        .sub_attribute(k)
                        .is_some_and(|d| d.returned == Returned::Always)
            };
            if let Some(v) = map.get_mut(key) {
                retain_subs(v, &keep);
            }
        }
        Decision::DropSubs(subs) => {
            let keep = |k: &str| !subs.iter().any(|s| s.eq_ignore_ascii_case(k));
            if let Some(v) = map.get_mut(key) {
                retain_subs(v, &keep);
            }
        }
    }
}

fn retain_subs(v: &mut Value, keep: &dyn Fn(&str) -> bool) {
    match v {
        Value::Object(o) => o.retain(|k, _| keep(k)),
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(o) = item {
                    o.retain(|k, _| keep(k));
                }
            }
        }
        _ => {}
    }
}

/// Resolve `name`, `name.sub`, `urn:...:name[.sub]` or a bare extension URN.
fn resolve(item: &str, schema: &ResourceSchema) -> ScimResult<Option<Selector>> {
    if item.len() > 512 {
        return Err(ScimError::invalid_value("attribute name too long"));
    }
    if let Some(ext) = schema.extension(item) {
        return Ok(Some(Selector {
            extension: Some(ext.id.clone()),
            attr: None,
            sub: None,
        }));
    }
    let (urn, rest) = match schema.split_urn(item) {
        Some((urn, rest)) => (Some(urn), rest),
        None => (None, item),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let Some(resolved) = schema.resolve(urn, name) else {
        return Ok(None);
    };
    let sub = match sub {
        Some(s) => match resolved.def.sub_attribute(s) {
            Some(d) => Some(d.name.clone()),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(Selector {
        extension: resolved.in_extension.then(|| resolved.schema.to_string()),
        attr: Some(resolved.def.name.clone()),
        sub,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::SchemaRegistry;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "1", "externalId": "e1", "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x.com", "type": "work", "primary": true}],
            "password": "never-shown",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7", "department": "R&D"},
            "meta": {"resourceType": "User"}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn project(attrs: Option<&str>, excl: Option<&str>) -> Map<String, Value> {
        let schema = &SchemaRegistry::builtin().user;
        let p = Projection::parse(attrs, excl, schema).unwrap();
        let mut u = user();
        p.apply(&mut u, schema);
        u
    }

    #[test]
    fn default_hides_never_attributes() {
        let u = project(None, None);
        assert!(!u.contains_key("password"));
        assert!(u.contains_key("userName") && u.contains_key("meta"));
    }

    #[test]
    fn attributes_keep_only_named_plus_always() {
        let u = project(Some("externalId"), None);
        let keys: Vec<&str> = u.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, vec!["schemas", "id", "externalId"]);
        assert_eq!(
            u["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
    }

    #[test]
    fn sub_attributes_and_extensions() {
        let u = project(
            Some(
                "NAME.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,emails.value",
            ),
            None,
        );
        assert_eq!(u["name"], json!({"givenName": "Barbara"}));
        assert_eq!(u["emails"], json!([{"value": "b@x.com"}]));
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({"department": "R&D"})
        );
    }

    #[test]
    fn excluded_attributes_never_remove_always() {
        let u = project(
            None,
            Some(
                "name,id,emails.primary,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ),
        );
        assert!(!u.contains_key("name"));
        assert!(u.contains_key("id"));
        assert_eq!(u["emails"], json!([{"value": "b@x.com", "type": "work"}]));
        assert!(!u.contains_key("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    }

    #[test]
    fn unknown_names_are_ignored() {
        let u = project(Some("nosuch,userName"), Some("alsonot"));
        assert!(u.contains_key("userName") && !u.contains_key("name"));
    }
}
