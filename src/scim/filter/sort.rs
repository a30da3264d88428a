//! `sortBy` ordering (RFC 7644 §3.4.2.3), reusing the evaluator's path resolution so that a
//! path means the same thing in `filter` and in `sortBy`.

use super::ast::AttrPath;
use super::eval::{Scope, access, case_exact, fold, get_ci, locate, parse_time};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema};
use serde_json::Value;
use std::cmp::Ordering;
use time::OffsetDateTime;

/// `sortBy` order of two resources (RFC 7644 §3.4.2.3) in ascending order: by the value at
/// `path` (for a multi-valued attribute, the primary element's, else the first's), strings by
/// the attribute's caseExact, dateTimes chronologically, numbers numerically. Resources
/// without a value sort after all others; for `descending` the caller reverses the result,
/// which puts them first, as the RFC specifies. An unknown attribute orders everything equal,
/// leaving a stable sort's input order.
pub fn compare_for_sort(
    a: &Value,
    b: &Value,
    path: &AttrPath,
    schema: &ResourceSchema,
) -> Ordering {
    let Some(def) = schema.resolve(path.urn.as_deref(), &path.name) else {
        return Ordering::Equal;
    };
    let Some(acc) = access(def.def, path.sub.as_deref()) else {
        return Ordering::Equal;
    };
    let key = |doc: &Value| -> Option<SortKey> {
        let node = locate(path, doc, Scope::Resource(schema))?.1?;
        let node = match node {
            Value::Array(items) => items
                .iter()
                .find(|e| get_ci(e, "primary").is_some_and(|p| p == &Value::Bool(true)))
                .or_else(|| items.first())?,
            v => v,
        };
        let v = match acc.key {
            Some(k) => get_ci(node, k)?,
            None => node,
        };
        SortKey::new(v, acc.leaf)
    };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Bool(bool),
    Num(f64),
    Time(OffsetDateTime),
    Str(String),
}

impl SortKey {
    fn new(v: &Value, leaf: &AttributeDef) -> Option<Self> {
        Some(match v {
            Value::Bool(b) => SortKey::Bool(*b),
            Value::Number(n) => SortKey::Num(n.as_f64()?),
            Value::String(s) => match leaf.attr_type {
                AttrType::DateTime => match parse_time(s) {
                    Some(t) => SortKey::Time(t),
                    None => SortKey::Str(s.clone()),
                },
                _ => SortKey::Str(fold(s, case_exact(leaf)).into_owned()),
            },
            _ => return None,
        })
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Num(_) => 1,
            SortKey::Time(_) => 2,
            SortKey::Str(_) => 3,
        }
    }

    /// Total order: values of different kinds (a malformed document) order by kind.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Num(x), SortKey::Num(y)) => x.total_cmp(y),
            _ => self
                .partial_cmp(other)
                .unwrap_or_else(|| self.rank().cmp(&other.rank())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse::parse_attr_path;
    use crate::scim::schema::SchemaRegistry;
    use serde_json::json;

    fn user_schema() -> &'static ResourceSchema {
        &SchemaRegistry::builtin().user
    }

    #[test]
    fn sorting() {
        let s = user_schema();
        let key = |p: &str| match parse_attr_path(p) {
            Ok(p) => p,
            Err(e) => panic!("{}", e.detail),
        };
        let a = json!({"userName": "alice", "emails": [{"value": "z@x", "primary": false}, {"value": "b@x", "primary": true}], "meta": {"created": "2020-01-01T10:00:00+02:00"}, "externalId": "B"});
        let b = json!({"userName": "Bob", "emails": [{"value": "c@x"}], "meta": {"created": "2020-01-01T09:00:00Z"}, "externalId": "a"});
        let none = json!({"emails": []});
        assert_eq!(
            compare_for_sort(&a, &b, &key("userName"), s),
            Ordering::Less
        );
        assert_eq!(
            compare_for_sort(&b, &a, &key("USERNAME"), s),
            Ordering::Greater
        );
        // caseExact externalId: "B" < "a" by code point.
        assert_eq!(
            compare_for_sort(&a, &b, &key("externalId"), s),
            Ordering::Less
        );
        // Primary element first, else the first element.
        assert_eq!(
            compare_for_sort(&a, &b, &key("emails.value"), s),
            Ordering::Less
        );
        assert_eq!(compare_for_sort(&a, &b, &key("emails"), s), Ordering::Less);
        // Chronological, not textual: 10:00+02:00 is 08:00Z.
        assert_eq!(
            compare_for_sort(&a, &b, &key("meta.created"), s),
            Ordering::Less
        );
        // Missing values sort last.
        assert_eq!(
            compare_for_sort(&none, &a, &key("userName"), s),
            Ordering::Greater
        );
        assert_eq!(
            compare_for_sort(&a, &none, &key("emails.value"), s),
            Ordering::Less
        );
        assert_eq!(
            compare_for_sort(&none, &none, &key("userName"), s),
            Ordering::Equal
        );
        // Unknown attributes keep the input order.
        assert_eq!(
            compare_for_sort(&a, &b, &key("shoeSize"), s),
            Ordering::Equal
        );
        // A stable sort with it.
        let mut docs = [none.clone(), b.clone(), a.clone()];
        docs.sort_by(|x, y| compare_for_sort(x, y, &key("userName"), s));
        assert_eq!(docs, [a, b, none]);
    }
}
