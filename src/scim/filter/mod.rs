//! SCIM filters and PATCH paths: syntax trees, parser, evaluator.

pub mod ast;
pub mod eval;
pub mod lookup;
pub mod parse;
pub mod print;
pub mod sort;

pub use ast::{AttrPath, CompareOp, Filter, PatchPath};
pub use eval::{
    compare_for_sort, equality_lookup, exact_lookup, matches, matches_element, validate_filter,
};
pub use parse::{
    MAX_FILTER_DEPTH, MAX_FILTER_LEN, parse_attr_path, parse_filter, parse_patch_path,
};
