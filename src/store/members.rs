//! Backend-independent preparation of membership changes.

use crate::model::ResourceKind;
use std::collections::HashSet;

/// Member ids to add, first occurrence kept, in the order given (which becomes the members'
/// order). The kind that came with each id is not needed: the member's own row is
/// authoritative, and the insert copies its kind from there.
pub(crate) fn distinct_ids<'a>(
    add: impl IntoIterator<Item = &'a (String, ResourceKind)>,
) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    add.into_iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Ids as a JSON array, the form SQLite's `json_each` takes a list in.
pub(crate) fn json_array<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    // Serialising strings cannot fail.
    serde_json::to_string(&items).unwrap_or_else(|_| String::from("[]"))
}
