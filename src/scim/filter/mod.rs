//! SCIM filters and PATCH paths: syntax trees, parser, evaluator.

pub mod ast;

pub use ast::{AttrPath, CompareOp, Filter, PatchPath};
