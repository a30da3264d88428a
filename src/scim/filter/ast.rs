//! Typed syntax trees for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).
//! Parsers produce these; the evaluator, the PATCH engine and the store's index lookup consume
//! them. Attribute names keep the case the client wrote; comparisons against schema names are
//! case-insensitive everywhere.

use serde_json::Value;

/// `[URI ":"] ATTRNAME *1subAttr`, e.g. `name.givenName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN prefix, when written (without the trailing `:`).
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: Some(sub.into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter. The Entra form `emails[type eq "work"].value eq "x"` is parsed into
/// `ValuePath(emails, And(type eq "work", value eq "x"))`, which means the same thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath op value`; `value` is a JSON literal: string, number, boolean or null.
    Compare(AttrPath, CompareOp, Value),
    /// `attrPath[filter]`: some element of the multi-valued (or complex) attribute matches the
    /// inner filter, whose paths are relative to the element (sub-attribute names).
    ValuePath(AttrPath, Box<Filter>),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// A PATCH `path`: `attrPath` or `valuePath [subAttr]`.
/// `name.familyName` → attr = name.familyName, no filter;
/// `emails[type eq "work"].value` → attr = emails, filter, sub = value;
/// `members[value eq "x"]` → attr = members, filter, no sub.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`[...].value`).
    pub sub: Option<String>,
}
