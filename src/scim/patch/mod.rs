//! PATCH (RFC 7644 §3.5.2) as a pure function from (document, PatchOp body) to a new document,
//! with the leniencies Okta and Entra ID need (see `../shared/reference/scim-okta-entra.md`
//! §3.3 and §5).
//!
//! Semantics chosen where the RFC leaves room or the IdPs deviate:
//! - **Atomic**: operations apply to a copy; any error returns `Err` and the caller keeps the
//!   original.
//! - **Envelope** (see [`request`]): `schemas` may be missing, but if present must name PatchOp;
//!   `op` is case-insensitive; `value` is required for add/replace.
//! - **No path**: add/replace take an object of attributes (dotted and URN-qualified keys
//!   allowed, `{"urn:…:enterprise:2.0:User": {...}}` too). Read-only and write-only keys (`id`,
//!   `meta`, `schemas`, `groups`, `password`), unknown core keys are ignored; unknown keys of a
//!   known extension and keys under an unknown URN are kept verbatim. Remove without path →
//!   `noTarget`.
//! - **Explicit paths**: unknown attribute or sub-attribute → `invalidPath`; a readOnly target
//!   (`id`, `meta.*`, `groups`, `members[…].display`) → `mutability`; removing a required
//!   attribute (`userName`, group `displayName`) → `mutability`; changing an immutable
//!   sub-attribute once set (`members[…].value`) → `mutability`; `password` is accepted and
//!   never stored. A path equal to an extension URN targets that whole extension object.
//! - **add**: single-valued → set (as replace; Entra deprovisions with `Add active`);
//!   multi-valued → append, where a value denoting an existing element (same `value`, see
//!   `element::denotes`) is merged into it, so repeating an add changes nothing; complex →
//!   merge sub-attributes.
//! - **replace**: multi-valued → all values replaced; complex → merge, except a value carrying
//!   `value` (a reference like `manager`) which replaces the whole object.
//! - **null / "" / []** as a value unassigns the target (Entra's null-update test).
//! - **remove** on a multi-valued attribute with a `value` removes only the listed elements
//!   (Entra `members`); without a value it removes all.
//! - **Value filters**: elements matching the filter are changed (with `.sub`, only that
//!   sub-attribute; without, replace swaps the element but keeps the filter's `eq` constraints,
//!   add merges). When nothing matches, add/replace create the element from the filter's `eq`
//!   constraints plus the value (Entra: `emails[type eq "work"].value`), so several ops on
//!   `addresses[type eq "work"].*` build one element; a filter that is not a conjunction of
//!   `eq` → `noTarget`. Remove with no match succeeds.
//! - **primary**: after every operation at most one element per attribute has `primary: true`;
//!   the one the operation just wrote wins.
//! - The result is normalised like `document::prepare_document` (canonical names, `schemas`
//!   recomputed, required attributes present → `invalidValue` otherwise); keys the PATCH cannot
//!   touch (`id`, `meta`, …) are kept as they were in the stored document.

mod apply;
mod element;
pub mod request;
mod target;
pub(crate) mod value;

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;

pub(crate) use apply::apply_value_object;
pub use request::{OpKind, PATCH_OP_SCHEMA, PatchOperation, parse_patch_request};

use crate::scim::document::finish_document;
use crate::scim::error::ScimError;
use crate::scim::schema::ResourceSchema;
use serde_json::{Map, Value};

/// Apply a PatchOp request body to a resource document (the full document as the server keeps
/// it for the purpose: for a Group this includes "members": [{"value","type"}...]; for a User,
/// no "groups"). Atomic: on any error returns Err and the caller keeps the original. Returns
/// the new document, normalised as prepare_document would.
pub fn apply_patch(
    doc: &Map<String, Value>,
    body: &Value,
    schema: &ResourceSchema,
) -> Result<Map<String, Value>, ScimError> {
    let operations = parse_patch_request(body)?;
    let mut work = doc.clone();
    for (i, op) in operations.iter().enumerate() {
        apply::apply_operation(&mut work, op, schema).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    finish_document(work, schema)
}
