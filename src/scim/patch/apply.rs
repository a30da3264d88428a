//! Applying one PATCH operation to a resource document (RFC 7644 §3.5.2.1-3), in place.
//! The caller works on a copy and discards it on error, which is what makes a request atomic.

use super::element::{
    ElementIndex, element_from_filter, enforce_single_primary, remove_denoted, remove_indices,
};
use super::request::{OpKind, PatchOperation};
use super::target::{KeyTarget, PathTarget, Target, resolve_key, resolve_path};
use super::value::coerce_attribute;
use crate::scim::document::{get_ci, get_ci_mut, insert_canonical, remove_ci};
use crate::scim::error::{ErrorKind, ScimError, ScimResult};
use crate::scim::filter::{Filter, matches_element};
use crate::scim::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef};
use serde_json::{Map, Value};

type Doc = Map<String, Value>;

static NULL: Value = Value::Null;

/// Apply one operation. Errors leave `doc` in an unspecified state.
pub(crate) fn apply_operation(
    doc: &mut Doc,
    op: &PatchOperation,
    schema: &ResourceSchema,
) -> ScimResult<()> {
    let value = op.value.as_ref();
    match (&op.path, op.kind) {
        (None, OpKind::Remove) => Err(ScimError::no_target(
            "remove needs a 'path' naming what to remove",
        )),
        (None, kind) => apply_value_object(doc, kind, value.unwrap_or(&NULL), None, schema),
        (Some(path), kind) => match resolve_path(path, schema)? {
            PathTarget::Extension(ext) => apply_to_extension(doc, kind, ext, value, schema),
            PathTarget::Attribute(target) => {
                check_explicit_mutability(kind, &target)?;
                apply_to_target(doc, kind, &target, value)
            }
        },
    }
}

/// A path-less `value` (or the value of a path naming a whole extension): a set of attributes,
/// each applied as if its key were the path, with the IdP leniencies of [`resolve_key`].
/// Also the way a POST/PUT body becomes a document (see `document::prepare_document`).
pub(crate) fn apply_value_object(
    doc: &mut Doc,
    kind: OpKind,
    value: &Value,
    scope: Option<&SchemaDef>,
    schema: &ResourceSchema,
) -> ScimResult<()> {
    let obj = match value {
        Value::Object(obj) => obj,
        // `[{"active": false}]`: one more wrapping seen from lenient clients.
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            for item in items {
                apply_value_object(doc, kind, item, scope, schema)?;
            }
            return Ok(());
        }
        _ => {
            return Err(ScimError::invalid_value(
                "without a 'path', 'value' must be an object of attributes",
            ));
        }
    };
    for (key, v) in obj {
        if scope.is_none() {
            if key.eq_ignore_ascii_case("schemas") {
                continue; // recomputed from the extension keys present
            }
            if let Some(ext) = schema.extension(key) {
                apply_to_extension(doc, kind, ext, Some(v), schema)?;
                continue;
            }
            if key.eq_ignore_ascii_case(&schema.core.id) {
                // Core attributes nested under the core URN, like an extension's: same thing.
                if v.is_object() {
                    apply_value_object(doc, kind, v, None, schema)?;
                }
                continue;
            }
        }
        match resolve_key(key, scope, schema) {
            KeyTarget::Attribute(target) => apply_to_target(doc, kind, &target, Some(v))?,
            KeyTarget::Verbatim { ext, key } => {
                with_container(doc, ext, |c| {
                    if v.is_null() {
                        remove_ci(c, &key);
                    } else {
                        insert_canonical(c, &key, v.clone());
                    }
                    Ok(())
                })?;
            }
            KeyTarget::Ignored => {}
        }
    }
    Ok(())
}

fn apply_to_extension(
    doc: &mut Doc,
    kind: OpKind,
    ext: &SchemaDef,
    value: Option<&Value>,
    schema: &ResourceSchema,
) -> ScimResult<()> {
    match (kind, value) {
        (OpKind::Remove, _) | (OpKind::Replace, None | Some(Value::Null)) => {
            remove_ci(doc, &ext.id);
            Ok(())
        }
        (OpKind::Add, None | Some(Value::Null)) => Ok(()),
        (_, Some(v @ Value::Object(_))) => apply_value_object(doc, kind, v, Some(ext), schema),
        (_, Some(_)) => Err(ScimError::invalid_value(format!(
            "'{}' must be an object",
            ext.id
        ))),
    }
}

/// RFC 7644 §3.5.2: an explicit path to a readOnly attribute is `mutability`, and so is
/// removing a required attribute. (Inside a path-less value the same keys are ignored.)
fn check_explicit_mutability(kind: OpKind, t: &Target<'_>) -> ScimResult<()> {
    if t.def.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!(
            "'{}' is readOnly",
            t.def.name
        )));
    }
    if let Some(sub) = t.sub
        && sub.mutability == Mutability::ReadOnly
    {
        return Err(ScimError::mutability(format!(
            "'{}.{}' is readOnly",
            t.def.name, sub.name
        )));
    }
    if kind == OpKind::Remove && t.def.required && t.sub.is_none() && t.filter.is_none() {
        return Err(ScimError::mutability(format!(
            "'{}' is required and cannot be removed",
            t.def.name
        )));
    }
    Ok(())
}

fn apply_to_target(
    doc: &mut Doc,
    kind: OpKind,
    t: &Target<'_>,
    value: Option<&Value>,
) -> ScimResult<()> {
    if t.def.mutability == Mutability::WriteOnly {
        // `password`: never stored, but a value of the wrong type is refused like any other.
        if t.filter.is_none()
            && t.sub.is_none()
            && let Some(v) = value
        {
            coerce_attribute(t.def, v)?;
        }
        return Ok(());
    }
    with_container(doc, t.ext, |c| match (&t.filter, t.sub) {
        (None, None) => apply_whole(c, kind, t.def, value),
        (None, Some(sub)) => apply_sub_everywhere(c, kind, t.def, sub, value),
        (Some(filter), sub) => apply_filtered(c, kind, t.def, filter, sub, value),
    })
}

/// Run `f` on the object holding the attribute: the document itself, or an extension's object
/// (created when missing, dropped when left empty).
fn with_container(
    doc: &mut Doc,
    ext: Option<&str>,
    f: impl FnOnce(&mut Doc) -> ScimResult<()>,
) -> ScimResult<()> {
    let Some(urn) = ext else {
        return f(doc);
    };
    let mut inner = match get_ci_mut(doc, urn).map(std::mem::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let result = f(&mut inner);
    if inner.is_empty() {
        remove_ci(doc, urn);
    } else {
        insert_canonical(doc, urn, Value::Object(inner));
    }
    result
}

/// add / replace / remove on a whole attribute (no filter, no sub-attribute).
fn apply_whole(
    c: &mut Doc,
    kind: OpKind,
    def: &AttributeDef,
    value: Option<&Value>,
) -> ScimResult<()> {
    if kind == OpKind::Remove {
        match value.filter(|v| !v.is_null()) {
            // Entra: `{"op":"Remove","path":"members","value":[{"value":"u1"}]}` removes the
            // listed members only, never all of them.
            Some(listed) if def.multi_valued => remove_listed(c, def, listed)?,
            _ => {
                remove_ci(c, &def.name);
            }
        }
        return Ok(());
    }
    let Some(new) = coerce_attribute(def, value.unwrap_or(&NULL))? else {
        // null / "" / []: unassign (replace), nothing to append (add to a multi-valued one).
        if !(kind == OpKind::Add && def.multi_valued) {
            remove_ci(c, &def.name);
        }
        return Ok(());
    };
    if def.multi_valued {
        let items = into_items(new);
        let (list, touched) = if kind == OpKind::Replace || def.add_replaces_values() {
            let touched = (0..items.len()).collect();
            (items, touched)
        } else {
            append_new(def, take_list(c, def), items)
        };
        put_list(c, def, list, &touched);
    } else if def.attr_type == AttrType::Complex {
        merge_complex(c, def, new);
    } else {
        insert_canonical(c, &def.name, new);
    }
    Ok(())
}

/// RFC 7644 §3.5.2.1: adding a value already present changes nothing; a value that denotes an
/// existing element (same `value`) is merged into it, anything else is appended.
fn append_new(
    def: &AttributeDef,
    mut list: Vec<Value>,
    items: Vec<Value>,
) -> (Vec<Value>, Vec<usize>) {
    let mut touched = Vec::new();
    let mut index = ElementIndex::new(def, &list);
    for item in items {
        match index.find(&list, &item) {
            Some(i) => {
                // Merging keeps `value`, so the element's index entry stays right.
                if let Some(e) = list.get_mut(i) {
                    merge_into(e, item);
                }
                touched.push(i);
            }
            None => {
                index.insert(list.len(), &item);
                list.push(item);
                touched.push(list.len() - 1);
            }
        }
    }
    (list, touched)
}

/// Replace on a complex attribute merges sub-attributes (RFC 7644 §3.5.2.3), except for a
/// reference (a value with a `value` sub-attribute, like `manager`) to a different object: its
/// old `$ref` must not survive. The same `value` again (Entra re-sends `manager` every cycle)
/// merges, so that a repeated PATCH changes nothing.
fn merge_complex(c: &mut Doc, def: &AttributeDef, new: Value) {
    let new_value = new.get("value");
    match get_ci_mut(c, &def.name) {
        Some(existing)
            if existing.is_object()
                && (new_value.is_none() || existing.get("value") == new_value) =>
        {
            merge_into(existing, new)
        }
        _ => insert_canonical(c, &def.name, new),
    }
}

fn merge_into(existing: &mut Value, new: Value) {
    match (existing, new) {
        (Value::Object(e), Value::Object(n)) => {
            for (k, v) in n {
                insert_canonical(e, &k, v);
            }
        }
        (e, n) => *e = n,
    }
}

fn remove_listed(c: &mut Doc, def: &AttributeDef, listed: &Value) -> ScimResult<()> {
    let Some(listed) = coerce_attribute(def, listed)? else {
        return Ok(());
    };
    let listed = into_items(listed);
    let mut list = take_list(c, def);
    remove_denoted(def, &mut list, &listed);
    put_list(c, def, list, &[]);
    Ok(())
}

/// A sub-attribute path without a filter: `name.givenName`, `manager.value`; on a
/// multi-valued attribute (`emails.primary`) it applies to every element.
fn apply_sub_everywhere(
    c: &mut Doc,
    kind: OpKind,
    def: &AttributeDef,
    sub: &AttributeDef,
    value: Option<&Value>,
) -> ScimResult<()> {
    if def.multi_valued {
        let mut list = take_list(c, def);
        if list.is_empty() && kind != OpKind::Remove {
            list.push(Value::Object(Map::new()));
        }
        let all: Vec<usize> = (0..list.len()).collect();
        for e in list.iter_mut() {
            set_sub_in(e, kind, sub, value)?;
        }
        drop_hollow(def, &mut list, &all);
        put_list(c, def, list, &all);
        return Ok(());
    }
    let mut obj = match get_ci_mut(c, &def.name).map(std::mem::take) {
        Some(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    };
    set_sub_in(&mut obj, kind, sub, value)?;
    match obj {
        Value::Object(m) if m.is_empty() => {
            remove_ci(c, &def.name);
        }
        other => insert_canonical(c, &def.name, other),
    }
    Ok(())
}

/// `emails[type eq "work"]`, `emails[type eq "work"].value`, `members[value eq "id"]`.
fn apply_filtered(
    c: &mut Doc,
    kind: OpKind,
    def: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let mut list = take_list(c, def);
    let mut matched = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let hit = matches_element(filter, e, def).map_err(|e| match e.kind {
            ErrorKind::InvalidFilter => ScimError::invalid_path(e.detail),
            _ => e,
        })?;
        if hit {
            matched.push(i);
        }
    }
    match (kind, sub) {
        (OpKind::Remove, None) => {
            // No match is success: the state the client asked for already holds.
            remove_indices(&mut list, &matched);
        }
        (_, Some(sub)) if !matched.is_empty() => {
            for &i in &matched {
                set_sub_in(&mut list[i], kind, sub, value)?;
            }
            drop_hollow(def, &mut list, &matched);
        }
        (OpKind::Remove, Some(_)) => {}
        (_, None) if !matched.is_empty() => {
            let new = single_element(def, value)?;
            let constraints = element_from_filter(filter, def).unwrap_or_default();
            match (new, kind) {
                // Replacing matched elements with nothing removes them.
                (None, _) => remove_indices(&mut list, &matched),
                (Some(n), OpKind::Add) => {
                    for &i in &matched {
                        merge_into(&mut list[i], n.clone());
                    }
                }
                (Some(n), _) => {
                    // The replacement keeps what the filter said about the element, so
                    // `addresses[type eq "work"]` stays the work address.
                    let mut replacement = Value::Object(constraints);
                    merge_into(&mut replacement, n);
                    for &i in &matched {
                        list[i] = replacement.clone();
                    }
                }
            }
        }
        (_, sub) => {
            // Nothing matched: create the element the filter describes (Entra), or noTarget.
            let Some(created) = element_from_filter(filter, def) else {
                return Err(ScimError::no_target(format!(
                    "no '{}' value matches the filter, and it does not describe one to create",
                    def.name
                )));
            };
            let mut created = Value::Object(created);
            let has_payload = match sub {
                Some(sub) => {
                    set_sub_in(&mut created, kind, sub, value)?;
                    created.get(&sub.name).is_some()
                }
                None => match single_element(def, value)? {
                    Some(n) => {
                        merge_into(&mut created, n);
                        true
                    }
                    None => false,
                },
            };
            // `Replace emails[type eq "work"].value` with "" asks for no work e-mail: none.
            if has_payload {
                list.push(created);
                matched = vec![list.len() - 1];
            }
        }
    }
    put_list(c, def, list, &matched);
    Ok(())
}

/// Set or remove one sub-attribute of one element (or of a single complex value).
fn set_sub_in(
    element: &mut Value,
    kind: OpKind,
    sub: &AttributeDef,
    value: Option<&Value>,
) -> ScimResult<()> {
    let Value::Object(obj) = element else {
        return Ok(()); // a scalar element has no sub-attributes to change
    };
    let new = match kind {
        OpKind::Remove => None,
        _ => coerce_attribute(sub, value.unwrap_or(&NULL))?,
    };
    if sub.mutability == Mutability::Immutable
        && let Some(old) = get_ci(obj, &sub.name)
        && new.as_ref() != Some(old)
    {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable once set",
            sub.name
        )));
    }
    match new {
        Some(v) => insert_canonical(obj, &sub.name, v),
        None => {
            remove_ci(obj, &sub.name);
        }
    }
    Ok(())
}

/// After sub-attributes were removed from the elements at `indices`: an element left empty,
/// or without its `value` where the attribute has one, is no element at all.
fn drop_hollow(def: &AttributeDef, list: &mut Vec<Value>, indices: &[usize]) {
    let value_key = def.sub_attribute("value").map(|d| d.name.as_str());
    let hollow: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| match list.get(i) {
            Some(Value::Object(o)) => o.is_empty() || value_key.is_some_and(|k| !o.contains_key(k)),
            _ => false,
        })
        .collect();
    remove_indices(list, &hollow);
}

/// The one element a filtered add/replace without a sub-attribute carries.
fn single_element(def: &AttributeDef, value: Option<&Value>) -> ScimResult<Option<Value>> {
    let items = coerce_attribute(def, value.unwrap_or(&NULL))?.map(into_items);
    match items.as_deref() {
        None | Some([]) => Ok(None),
        Some([one]) => Ok(Some(one.clone())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "a filtered '{}' operation takes one value",
            def.name
        ))),
    }
}

fn into_items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// Take a multi-valued attribute's elements out (leaving its key in place, so that writing it
/// back keeps the document's key order).
fn take_list(c: &mut Doc, def: &AttributeDef) -> Vec<Value> {
    match get_ci_mut(c, &def.name).map(std::mem::take) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Write a multi-valued attribute back; an empty list is unassigned (RFC 7643 §2.4).
fn put_list(c: &mut Doc, def: &AttributeDef, mut list: Vec<Value>, touched: &[usize]) {
    if list.is_empty() {
        remove_ci(c, &def.name);
        return;
    }
    enforce_single_primary(def, &mut list, touched);
    insert_canonical(c, &def.name, Value::Array(list));
}
