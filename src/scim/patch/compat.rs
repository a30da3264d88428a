//! Temporary stand-ins for `crate::scim::filter::{parse_patch_path, matches_element}` until the
//! `filter` branch is merged: just enough grammar (`[urn:]attr[.sub]`, `attr[a eq "x" and …].sub`)
//! for this module's tests. Replaced by a re-export after the merge.

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{AttrPath, CompareOp, Filter, PatchPath};
use crate::scim::schema::AttributeDef;
use serde_json::Value;

pub(crate) fn parse_patch_path(path: &str) -> ScimResult<PatchPath> {
    let (head, filter, sub) = match path.find('[') {
        Some(open) => {
            let close = path
                .rfind(']')
                .filter(|c| *c > open)
                .ok_or_else(|| ScimError::invalid_path("unclosed '['"))?;
            let inner = &path[open + 1..close];
            let rest = &path[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(s) if !s.is_empty() => Some(s.to_string()),
                None if rest.is_empty() => None,
                _ => return Err(ScimError::invalid_path("bad text after ']'")),
            };
            (&path[..open], Some(parse_conjunction(inner)?), sub)
        }
        None => (path, None, None),
    };
    let (urn, local) = match head.rfind(':') {
        Some(i) => (Some(head[..i].to_string()), &head[i + 1..]),
        None => (None, head),
    };
    let (name, attr_sub) = match local.split_once('.') {
        Some((n, s)) => (n.to_string(), Some(s.to_string())),
        None => (local.to_string(), None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_')
    {
        return Err(ScimError::invalid_path(format!(
            "bad attribute name in '{path}'"
        )));
    }
    Ok(PatchPath {
        attr: AttrPath {
            urn,
            name,
            sub: attr_sub,
        },
        filter,
        sub,
    })
}

fn parse_conjunction(text: &str) -> ScimResult<Filter> {
    let mut parts = text.split(" and ").map(parse_compare);
    let first = parts
        .next()
        .ok_or_else(|| ScimError::invalid_filter("empty filter"))??;
    parts.try_fold(first, |acc, next| {
        Ok(Filter::And(Box::new(acc), Box::new(next?)))
    })
}

fn parse_compare(text: &str) -> ScimResult<Filter> {
    let mut it = text.trim().splitn(3, ' ');
    let (Some(attr), Some(op), Some(lit)) = (it.next(), it.next(), it.next()) else {
        return Err(ScimError::invalid_filter(format!("bad filter '{text}'")));
    };
    let op = match op.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        _ => return Err(ScimError::invalid_filter(format!("bad operator '{op}'"))),
    };
    let value: Value = serde_json::from_str(lit.trim())
        .map_err(|_| ScimError::invalid_filter(format!("bad literal '{lit}'")))?;
    Ok(Filter::Compare(AttrPath::new(attr), op, value))
}

pub(crate) fn matches_element(
    filter: &Filter,
    element: &Value,
    attr: &AttributeDef,
) -> ScimResult<bool> {
    Ok(match filter {
        Filter::And(a, b) => {
            matches_element(a, element, attr)? && matches_element(b, element, attr)?
        }
        Filter::Or(a, b) => {
            matches_element(a, element, attr)? || matches_element(b, element, attr)?
        }
        Filter::Not(a) => !matches_element(a, element, attr)?,
        Filter::Present(p) => element
            .as_object()
            .and_then(|o| crate::scim::document::get_ci(o, &p.name))
            .is_some_and(|v| !v.is_null()),
        Filter::Compare(p, op, lit) => {
            let actual = element
                .as_object()
                .and_then(|o| crate::scim::document::get_ci(o, &p.name));
            let case_exact = attr.sub_attribute(&p.name).is_some_and(|d| d.case_exact);
            let eq = |a: &Value| match (a, lit) {
                (Value::String(x), Value::String(y)) if !case_exact => x.eq_ignore_ascii_case(y),
                (Value::Bool(x), Value::String(y)) => y.eq_ignore_ascii_case(&x.to_string()),
                (x, y) => x == y,
            };
            match op {
                CompareOp::Eq => actual.is_some_and(eq),
                CompareOp::Ne => !actual.is_some_and(eq),
                CompareOp::Co | CompareOp::Sw => match (actual, lit) {
                    (Some(Value::String(a)), Value::String(b)) => {
                        let (a, b) = (a.to_lowercase(), b.to_lowercase());
                        if *op == CompareOp::Co {
                            a.contains(&b)
                        } else {
                            a.starts_with(&b)
                        }
                    }
                    _ => false,
                },
                _ => false,
            }
        }
        Filter::ValuePath(..) => false,
    })
}
