//! Filter evaluation against resource documents (RFC 7644 §3.4.2.2). The index lookup a filter
//! allows is in `lookup.rs`, `sortBy` ordering in `sort.rs`; both are re-exported here.
//!
//! Semantics chosen where the RFC leaves room (each is tested):
//! - An attribute the schema does not define (or a sub-attribute its parent does not have)
//!   matches nothing: every expression on it is false, `ne` and `pr` included. The RFC allows
//!   either this or an error; answering "no results" is what IdPs cope with best, and a
//!   syntactically broken filter is still rejected by the parser.
//! - `ne` is the negation of `eq`: true when the attribute is missing, and for a multi-valued
//!   attribute true when no value equals the operand ("the attribute and operator values are
//!   not identical").
//! - `eq null` is true when the attribute is absent or null, `ne null` when it is present;
//!   any other operator with `null` is `invalidFilter`.
//! - `gt`/`ge`/`lt`/`le` on boolean or binary attributes is `invalidFilter` (RFC), as is an
//!   ordering operand of the wrong type (`meta.created gt 5`, `userName lt true`, a dateTime
//!   operand that is not RFC 3339). These checks depend only on the filter and the schema and
//!   run before any resource is looked at, so an invalid filter fails the same way whatever
//!   the data (and even when `and`/`or` would short-circuit past it).
//! - A complex attribute without a sub-attribute compares its `value` sub-attribute when it
//!   has one (`emails co "example.com"`, `manager eq "26118915"`); otherwise (`name eq "x"`)
//!   it matches nothing. `pr` on a complex attribute tests the attribute itself.
//! - `pr` means present and non-empty: not null, not `""`, not `[]`, not `{}` (nor an array or
//!   object holding only such values).
//! - Strings compare by the attribute's `caseExact`; case-insensitive comparison folds with
//!   Unicode lower-casing. dateTime values compare as instants (`...34Z` equals `...34.000Z`
//!   and `...34+00:00`), numbers numerically, and a boolean attribute also accepts the
//!   operands `"true"`/`"false"` (any case), as some IdPs quote them.
//! - Keys of the resource JSON are matched case-insensitively.

use super::ast::{AttrPath, CompareOp, Filter};
use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

// Part of this module's API as specified; they live in files of their own.
pub use super::lookup::{equality_lookup, exact_lookup};
pub use super::sort::compare_for_sort;

/// Does `resource` (the document as rendered to clients) match `filter`?
pub fn matches(
    filter: &Filter,
    resource: &Value,
    schema: &ResourceSchema,
) -> Result<bool, ScimError> {
    let scope = Scope::Resource(schema);
    validate(filter, scope)?;
    Ok(eval(filter, resource, scope))
}

/// The schema-only checks `matches` performs (operand types, ordering on boolean/binary,
/// nested value paths), for callers that must reject an invalid filter even when there is no
/// resource to evaluate it on: a list over an empty store must still answer 400, not 200.
pub fn validate_filter(filter: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    validate(filter, Scope::Resource(schema))
}

/// Does one element of the multi-valued (or single complex) attribute `attr` match the inner
/// filter of a value path? Paths in `filter` are sub-attribute names of `attr`; for a
/// multi-valued simple attribute the element itself is called `value`.
pub fn matches_element(
    filter: &Filter,
    element: &Value,
    attr: &AttributeDef,
) -> Result<bool, ScimError> {
    let scope = Scope::Element(attr);
    validate(filter, scope)?;
    Ok(eval(filter, element, scope))
}

/// Where the paths of a filter are resolved: at the top of a resource, or inside one element
/// of a value path.
#[derive(Clone, Copy)]
pub(super) enum Scope<'s> {
    Resource(&'s ResourceSchema),
    Element(&'s AttributeDef),
}

/// The definition an attribute path's first name refers to in `scope`, if any.
fn resolve_def<'s>(path: &AttrPath, scope: Scope<'s>) -> Option<&'s AttributeDef> {
    match scope {
        Scope::Resource(schema) => schema
            .resolve(path.urn.as_deref(), &path.name)
            .map(|r| r.def),
        Scope::Element(attr) => element_def(path, attr),
    }
}

fn element_def<'s>(path: &AttrPath, attr: &'s AttributeDef) -> Option<&'s AttributeDef> {
    if path.urn.is_some() {
        return None;
    }
    if attr.attr_type == AttrType::Complex {
        attr.sub_attribute(&path.name)
    } else if path.name.eq_ignore_ascii_case("value") {
        Some(attr)
    } else {
        None
    }
}

/// Resolve a path to its definition and the JSON node holding its value (None when absent).
pub(super) fn locate<'s, 'v>(
    path: &AttrPath,
    doc: &'v Value,
    scope: Scope<'s>,
) -> Option<(&'s AttributeDef, Option<&'v Value>)> {
    match scope {
        Scope::Resource(schema) => {
            let r = schema.resolve(path.urn.as_deref(), &path.name)?;
            let node = if r.in_extension {
                get_ci(doc, r.schema).and_then(|ext| get_ci(ext, &r.def.name))
            } else {
                get_ci(doc, &r.def.name)
            };
            Some((r.def, node))
        }
        Scope::Element(attr) => {
            let def = element_def(path, attr)?;
            let node = if attr.attr_type == AttrType::Complex {
                get_ci(doc, &def.name)
            } else {
                Some(doc)
            };
            Some((def, node))
        }
    }
}

/// Object member by key, exact match first (the common case), then ASCII case-insensitively:
/// schema attribute names are ASCII and clients do not always keep their case.
pub(crate) fn get_ci<'v>(doc: &'v Value, key: &str) -> Option<&'v Value> {
    let map = doc.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// How to get from an attribute's node to the values an operator compares.
pub(super) struct Access<'s> {
    /// The definition of the compared values (the sub-attribute's, when there is one).
    pub(super) leaf: &'s AttributeDef,
    /// The sub-attribute to read from each element or object.
    pub(super) key: Option<&'s str>,
}

pub(super) fn access<'s>(top: &'s AttributeDef, sub: Option<&str>) -> Option<Access<'s>> {
    match sub {
        Some(sub) => {
            if top.attr_type != AttrType::Complex {
                return None;
            }
            let leaf = top.sub_attribute(sub)?;
            Some(Access {
                leaf,
                key: Some(&leaf.name),
            })
        }
        None if top.attr_type == AttrType::Complex => {
            let leaf = top.sub_attribute("value")?;
            Some(Access {
                leaf,
                key: Some(&leaf.name),
            })
        }
        None => Some(Access {
            leaf: top,
            key: None,
        }),
    }
}

/// Call `f` on each non-null value reached from `node` through `key`, stopping at the first
/// `true`. Arrays are flattened one level at each step (multi-valued attributes).
fn any_value(node: &Value, key: Option<&str>, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    let mut visit = |v: &Value| -> bool {
        let v = match key {
            Some(k) => match get_ci(v, k) {
                Some(v) => v,
                None => return false,
            },
            None => v,
        };
        match v {
            Value::Null => false,
            Value::Array(items) => items.iter().any(|i| !i.is_null() && f(i)),
            v => f(v),
        }
    };
    match node {
        Value::Array(items) => items.iter().any(&mut visit),
        v => visit(v),
    }
}

/// Present and non-empty (RFC 7644 `pr`).
fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(non_empty),
        Value::Object(map) => map.values().any(non_empty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

/// The schema-only checks described in the module comment. Unknown attributes pass (they
/// simply match nothing).
fn validate(filter: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
    match filter {
        Filter::Present(_) => Ok(()),
        Filter::Compare(path, op, value) => {
            let Some(acc) = resolve_def(path, scope).and_then(|d| access(d, path.sub.as_deref()))
            else {
                return Ok(());
            };
            check_operand(path, *op, value, acc.leaf)
        }
        Filter::ValuePath(path, inner) => match scope {
            Scope::Element(_) => Err(ScimError::invalid_filter(format!(
                "a value filter cannot contain another value filter ('{path}[...]')"
            ))),
            Scope::Resource(_) => match resolve_def(path, scope) {
                Some(def) if path.sub.is_none() => validate(inner, Scope::Element(def)),
                _ => Ok(()),
            },
        },
        Filter::Not(inner) => validate(inner, scope),
        Filter::And(l, r) | Filter::Or(l, r) => {
            validate(l, scope)?;
            validate(r, scope)
        }
    }
}

fn check_operand(
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
    leaf: &AttributeDef,
) -> Result<(), ScimError> {
    let fail = |why: &str| {
        Err(ScimError::invalid_filter(format!(
            "'{path} {op} {value}': {why}"
        )))
    };
    if value.is_null() && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return fail("null can only be compared with eq or ne");
    }
    if !is_ordering(op) {
        return Ok(());
    }
    match leaf.attr_type {
        AttrType::Boolean | AttrType::Binary => fail(&format!(
            "'{op}' cannot be applied to a {} attribute",
            if leaf.attr_type == AttrType::Boolean {
                "boolean"
            } else {
                "binary"
            }
        )),
        AttrType::DateTime => match value.as_str().map(parse_time) {
            Some(Some(_)) => Ok(()),
            _ => fail("a dateTime attribute is compared with an RFC 3339 string"),
        },
        AttrType::Integer | AttrType::Decimal => match value {
            Value::Number(_) => Ok(()),
            _ => fail("a numeric attribute is compared with a number"),
        },
        AttrType::String | AttrType::Reference => match value {
            Value::String(_) => Ok(()),
            _ => fail("a string attribute is compared with a string"),
        },
        AttrType::Complex => Ok(()),
    }
}

/// Evaluate a validated filter. Recursion depth is the filter's, which the parser bounds.
fn eval(filter: &Filter, doc: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, doc, scope) && eval(r, doc, scope),
        Filter::Or(l, r) => eval(l, doc, scope) || eval(r, doc, scope),
        Filter::Not(inner) => !eval(inner, doc, scope),
        Filter::Present(path) => {
            let Some((top, node)) = locate(path, doc, scope) else {
                return false;
            };
            let Some(node) = node else { return false };
            match &path.sub {
                None => non_empty(node),
                Some(sub) => match access(top, Some(sub)) {
                    Some(acc) => any_value(node, acc.key, &mut |v| non_empty(v)),
                    None => false,
                },
            }
        }
        Filter::Compare(path, op, value) => {
            let Some((top, node)) = locate(path, doc, scope) else {
                return false;
            };
            let Some(acc) = access(top, path.sub.as_deref()) else {
                return false;
            };
            compare(node, &acc, *op, value)
        }
        Filter::ValuePath(path, inner) => {
            let Scope::Resource(_) = scope else {
                return false;
            };
            if path.sub.is_some() {
                return false;
            }
            let Some((top, Some(node))) = locate(path, doc, scope) else {
                return false;
            };
            let element_scope = Scope::Element(top);
            match node {
                Value::Array(items) => items.iter().any(|e| eval(inner, e, element_scope)),
                Value::Null => false,
                v => eval(inner, v, element_scope),
            }
        }
    }
}

fn compare(node: Option<&Value>, acc: &Access<'_>, op: CompareOp, operand: &Value) -> bool {
    if operand.is_null() {
        let present = node.is_some_and(|n| any_value(n, acc.key, &mut |_| true));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let Some(operand) = Operand::new(operand, acc.leaf) else {
        // An operand that can never equal a value of this type.
        return op == CompareOp::Ne;
    };
    let Some(node) = node else {
        return op == CompareOp::Ne;
    };
    if op == CompareOp::Ne {
        return !any_value(node, acc.key, &mut |v| {
            operand.test(CompareOp::Eq, v, acc.leaf)
        });
    }
    any_value(node, acc.key, &mut |v| operand.test(op, v, acc.leaf))
}

/// The filter's operand, prepared once per comparison for the attribute's type.
enum Operand<'a> {
    /// Already case-folded when the attribute is not caseExact.
    Str(Cow<'a, str>),
    Bool(bool),
    Num(&'a serde_json::Number),
    /// The instant, unless the operand is not RFC 3339 (then only co/sw/ew can match), and
    /// the text for co/sw/ew.
    Time(Option<OffsetDateTime>, Cow<'a, str>),
}

impl<'a> Operand<'a> {
    fn new(value: &'a Value, leaf: &AttributeDef) -> Option<Self> {
        match (leaf.attr_type, value) {
            (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
                Some(Operand::Str(fold(s, case_exact(leaf))))
            }
            (AttrType::Boolean, Value::Bool(b)) => Some(Operand::Bool(*b)),
            (AttrType::Boolean, Value::String(s)) => parse_bool(s).map(Operand::Bool),
            (AttrType::Integer | AttrType::Decimal, Value::Number(n)) => Some(Operand::Num(n)),
            (AttrType::DateTime, Value::String(s)) => {
                // eq on a non-RFC 3339 string passes validation and simply matches nothing,
                // except through co/sw/ew, which compare text.
                Some(Operand::Time(parse_time(s), fold(s, case_exact(leaf))))
            }
            _ => None,
        }
    }

    fn test(&self, op: CompareOp, stored: &Value, leaf: &AttributeDef) -> bool {
        match self {
            Operand::Str(want) => match stored {
                Value::String(s) if case_exact(leaf) => string_op(op, s, want),
                Value::String(s) => folded_op(op, s, want),
                _ => false,
            },
            Operand::Bool(want) => {
                let got = match stored {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) => parse_bool(s),
                    _ => None,
                };
                op == CompareOp::Eq && got == Some(*want)
            }
            Operand::Num(want) => match stored {
                Value::Number(got) => ordering_op(op, cmp_numbers(got, want)).unwrap_or(false),
                _ => false,
            },
            Operand::Time(want, text) => {
                let Value::String(s) = stored else {
                    return false;
                };
                match op {
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        string_op(op, &fold(s, case_exact(leaf)), text)
                    }
                    _ => match (parse_time(s), want) {
                        (Some(got), Some(want)) => {
                            ordering_op(op, Some(got.cmp(want))).unwrap_or(false)
                        }
                        _ => false,
                    },
                }
            }
        }
    }
}

/// eq/gt/ge/lt/le from an ordering; None for operators that are not orderings (co/sw/ew on a
/// non-string type never match).
fn ordering_op(op: CompareOp, ord: Option<Ordering>) -> Option<bool> {
    let ord = ord?;
    Some(match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
    })
}

fn string_op(op: CompareOp, got: &str, want: &str) -> bool {
    match op {
        CompareOp::Co => got.contains(want),
        CompareOp::Sw => got.starts_with(want),
        CompareOp::Ew => got.ends_with(want),
        // Lexicographic by Unicode scalar value (byte order of UTF-8 is the same).
        _ => ordering_op(op, Some(got.cmp(want))).unwrap_or(false),
    }
}

/// `string_op` on `fold(got)` and an already folded `want`, without allocating for the
/// operators that can stream (eq, sw, orderings): list requests evaluate this on every
/// candidate document. Comparing chars orders like comparing UTF-8 bytes.
fn folded_op(op: CompareOp, got: &str, want: &str) -> bool {
    if op == CompareOp::Eq && got.is_ascii() {
        // ASCII folds to ASCII, and `want` is folded: byte-wise case-insensitive equality.
        return got.eq_ignore_ascii_case(want);
    }
    let mut folded = got.chars().flat_map(char::to_lowercase);
    match op {
        CompareOp::Co | CompareOp::Ew => string_op(op, &fold(got, false), want),
        CompareOp::Sw => want.chars().all(|w| folded.next() == Some(w)),
        _ => ordering_op(op, Some(folded.cmp(want.chars()))).unwrap_or(false),
    }
}

/// Integers compare exactly; anything involving a decimal compares as f64.
fn cmp_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

pub(super) fn case_exact(def: &AttributeDef) -> bool {
    // Binary values are base64 text; case matters whatever the schema says.
    def.case_exact || def.attr_type == AttrType::Binary
}

/// Unicode lower-casing for caseExact=false attributes; borrows when nothing changes (the
/// common all-lower-case ASCII value).
pub(super) fn fold(s: &str, exact: bool) -> Cow<'_, str> {
    if exact || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub(super) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
