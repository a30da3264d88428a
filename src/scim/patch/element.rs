//! Elements of multi-valued attributes: which element a value denotes, which element a value
//! filter would create, and the `primary` rule.

use super::value::coerce_attribute;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::schema::{AttrType, AttributeDef};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Does `candidate` (a coerced element) denote the already stored `existing` element?
///
/// For complex attributes with a `value` sub-attribute, the `value` is the identity (a member
/// id, an e-mail address) compared per its `caseExact`, and a `type` given on both sides must
/// agree: `{"value":"u1"}` denotes the stored `{"value":"u1","type":"User"}`. Otherwise the
/// candidate denotes an element when all its sub-attributes are equal there (a subset).
pub(crate) fn denotes(def: &AttributeDef, existing: &Value, candidate: &Value) -> bool {
    let (Value::Object(e), Value::Object(c)) = (existing, candidate) else {
        return existing == candidate;
    };
    if let Some(value_def) = def.sub_attribute("value")
        && let Some(cv) = c.get(&value_def.name)
    {
        let same_value = e
            .get(&value_def.name)
            .is_some_and(|ev| same_scalar(value_def, ev, cv));
        let type_conflict = match (e.get("type"), c.get("type")) {
            (Some(Value::String(a)), Some(Value::String(b))) => !a.eq_ignore_ascii_case(b),
            _ => false,
        };
        return same_value && !type_conflict;
    }
    c.iter().all(|(k, v)| e.get(k) == Some(v))
}

/// A hashable form of an element's `value`, consistent with [`denotes`]: elements that one
/// denotes by value have the same key. `None` when the element has no `value` to index by.
fn identity_key(def: &AttributeDef, element: &Value) -> Option<String> {
    let value_def = def.sub_attribute("value")?;
    let v = element.as_object()?.get(&value_def.name)?;
    Some(match v {
        Value::String(s) if !value_def.case_exact => s.to_ascii_lowercase(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Finds the stored element a value denotes without scanning the whole list: a group with
/// tens of thousands of members gets members added and removed by the thousand.
pub(crate) struct ElementIndex<'d> {
    def: &'d AttributeDef,
    by_key: HashMap<String, Vec<usize>>,
}

impl<'d> ElementIndex<'d> {
    pub(crate) fn new(def: &'d AttributeDef, list: &[Value]) -> Self {
        let mut index = Self {
            def,
            by_key: HashMap::with_capacity(list.len()),
        };
        for (i, e) in list.iter().enumerate() {
            index.insert(i, e);
        }
        index
    }

    pub(crate) fn insert(&mut self, i: usize, element: &Value) {
        if let Some(k) = identity_key(self.def, element) {
            self.by_key.entry(k).or_default().push(i);
        }
    }

    /// The first element of `list` (the list this index was built over) that `candidate`
    /// denotes.
    pub(crate) fn find(&self, list: &[Value], candidate: &Value) -> Option<usize> {
        match identity_key(self.def, candidate) {
            Some(k) => self
                .by_key
                .get(&k)?
                .iter()
                .copied()
                .find(|&i| list.get(i).is_some_and(|e| denotes(self.def, e, candidate))),
            None => list.iter().position(|e| denotes(self.def, e, candidate)),
        }
    }
}

/// Remove from `list` every element some value of `listed` denotes.
pub(crate) fn remove_denoted(def: &AttributeDef, list: &mut Vec<Value>, listed: &[Value]) {
    let mut keyed: HashMap<String, Vec<&Value>> = HashMap::new();
    let mut unkeyed: Vec<&Value> = Vec::new();
    for l in listed {
        match identity_key(def, l) {
            Some(k) => keyed.entry(k).or_default().push(l),
            None => unkeyed.push(l),
        }
    }
    list.retain(|e| {
        let by_key = identity_key(def, e)
            .and_then(|k| keyed.get(&k))
            .is_some_and(|ls| ls.iter().any(|l| denotes(def, e, l)));
        !(by_key || unkeyed.iter().any(|l| denotes(def, e, l)))
    });
}

/// Remove the elements at `indices` (any order, duplicates allowed) in one pass.
pub(crate) fn remove_indices(list: &mut Vec<Value>, indices: &[usize]) {
    if indices.is_empty() {
        return;
    }
    let mut doomed = vec![false; list.len()];
    for &i in indices {
        if let Some(d) = doomed.get_mut(i) {
            *d = true;
        }
    }
    let mut position = 0;
    list.retain(|_| {
        let keep = !doomed[position];
        position += 1;
        keep
    });
}

fn same_scalar(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !def.case_exact => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// The element a value filter describes, when it is a conjunction of `sub eq literal` on
/// known sub-attributes (`type eq "work"`, `type eq "work" and primary eq true`). Entra relies
/// on `Add`/`Replace` of `emails[type eq "work"].value` creating that element when it is
/// missing. `None` for any other filter shape: then the caller answers `noTarget`.
pub(crate) fn element_from_filter(
    filter: &Filter,
    def: &AttributeDef,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    collect_eq(filter, def, &mut out)?;
    Some(out)
}

fn collect_eq(filter: &Filter, def: &AttributeDef, out: &mut Map<String, Value>) -> Option<()> {
    match filter {
        Filter::And(a, b) => {
            collect_eq(a, def, out)?;
            collect_eq(b, def, out)
        }
        Filter::Compare(path, CompareOp::Eq, literal) => {
            // Inside a value filter, paths are relative to the element: `type`. Accept the
            // fully written `emails.type` as well.
            let sub_name = match &path.sub {
                Some(sub) if path.name.eq_ignore_ascii_case(&def.name) => sub.as_str(),
                Some(_) => return None,
                None => path.name.as_str(),
            };
            let sub = def.sub_attribute(sub_name)?;
            if sub.attr_type == AttrType::Complex {
                return None;
            }
            let value = coerce_attribute(sub, literal).ok()??;
            match out.get(&sub.name) {
                // `type eq "a" and type eq "b"`: no element can satisfy it.
                Some(existing) if *existing != value => None,
                _ => {
                    out.insert(sub.name.clone(), value);
                    Some(())
                }
            }
        }
        _ => None,
    }
}

/// RFC 7643 §2.4: `primary: true` appears at most once. When an operation leaves several, the
/// first one among the elements it just wrote wins (the newly set value), else the first one.
pub(crate) fn enforce_single_primary(def: &AttributeDef, list: &mut [Value], touched: &[usize]) {
    let Some(primary) = def.sub_attribute("primary") else {
        return;
    };
    let key = primary.name.as_str();
    let is_primary = |v: &Value| v.get(key) == Some(&Value::Bool(true));
    let primaries: Vec<usize> = (0..list.len()).filter(|&i| is_primary(&list[i])).collect();
    if primaries.len() <= 1 {
        return;
    }
    let winner = touched
        .iter()
        .copied()
        .find(|i| primaries.binary_search(i).is_ok())
        .unwrap_or(primaries[0]);
    for i in primaries {
        if i != winner
            && let Some(obj) = list[i].as_object_mut()
        {
            obj.insert(primary.name.clone(), Value::Bool(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::AttrPath;
    use crate::scim::schema::SchemaRegistry;
    use serde_json::json;

    fn emails() -> &'static AttributeDef {
        SchemaRegistry::builtin()
            .user
            .resolve(None, "emails")
            .unwrap()
            .def
    }

    fn eq(name: &str, v: Value) -> Filter {
        Filter::Compare(AttrPath::new(name), CompareOp::Eq, v)
    }

    #[test]
    fn value_identity_ignores_case_for_case_insensitive_values() {
        let e = json!({"value": "A@x.com", "type": "work", "primary": true});
        assert!(denotes(emails(), &e, &json!({"value": "a@x.com"})));
        assert!(denotes(
            emails(),
            &e,
            &json!({"value": "a@x.com", "type": "WORK"})
        ));
        assert!(!denotes(
            emails(),
            &e,
            &json!({"value": "a@x.com", "type": "home"})
        ));
        assert!(!denotes(emails(), &e, &json!({"value": "b@x.com"})));
    }

    #[test]
    fn element_from_eq_conjunction() {
        let f = Filter::And(
            Box::new(eq("Type", json!("work"))),
            Box::new(eq("primary", json!("True"))),
        );
        assert_eq!(
            element_from_filter(&f, emails()),
            json!({"type": "work", "primary": true})
                .as_object()
                .cloned()
        );
        let ne = Filter::Compare(AttrPath::new("type"), CompareOp::Ne, json!("work"));
        assert_eq!(element_from_filter(&ne, emails()), None);
        let or = Filter::Or(
            Box::new(eq("type", json!("work"))),
            Box::new(eq("type", json!("home"))),
        );
        assert_eq!(element_from_filter(&or, emails()), None);
        let contradiction = Filter::And(
            Box::new(eq("type", json!("work"))),
            Box::new(eq("type", json!("home"))),
        );
        assert_eq!(element_from_filter(&contradiction, emails()), None);
        assert_eq!(
            element_from_filter(&eq("nosuch", json!("x")), emails()),
            None
        );
    }

    #[test]
    fn newly_set_primary_wins() {
        let mut list = vec![
            json!({"value": "a", "primary": true}),
            json!({"value": "b", "primary": true}),
            json!({"value": "c", "primary": true}),
        ];
        enforce_single_primary(emails(), &mut list, &[2]);
        assert_eq!(list[0]["primary"], json!(false));
        assert_eq!(list[1]["primary"], json!(false));
        assert_eq!(list[2]["primary"], json!(true));
        let mut list = vec![
            json!({"value": "a", "primary": true}),
            json!({"value": "b", "primary": true}),
        ];
        enforce_single_primary(emails(), &mut list, &[]);
        assert_eq!(list[0]["primary"], json!(true));
        assert_eq!(list[1]["primary"], json!(false));
    }
}
