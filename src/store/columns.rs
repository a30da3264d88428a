//! The indexed columns derived from a document on every write. The SCIM layer stores canonical
//! attribute names (`userName`, `externalId`, `displayName`, `emails[].value`), so these are
//! read by exact key. Lower-casing happens here, in Rust, so that both databases index exactly
//! the same strings (SQL `lower()` differs between SQLite and PostgreSQL outside ASCII).

use super::{StoreError, StoreResult};
use crate::model::{Resource, ResourceKind};
use serde_json::{Map, Value};
use std::collections::HashSet;
use time::OffsetDateTime;
use time::macros::format_description;

/// The values of a resource row as `sql::INSERT` and `sql::UPDATE` take them, `$1` to `$11` in
/// field order (each backend binds them in one function).
pub(crate) struct ResourceValues<'a> {
    pub tenant: &'a str,
    pub kind: ResourceKind,
    pub id: &'a str,
    pub cols: Columns,
    /// Creation time (INSERT) or modification time (UPDATE).
    pub now: String,
    /// INSERT: the LUID, if known; UPDATE: a new LUID, or `None` to keep the stored one.
    pub tableau_luid: Option<&'a str>,
}

impl<'a> ResourceValues<'a> {
    pub fn new(
        tenant: &'a str,
        kind: ResourceKind,
        id: &'a str,
        doc: &Map<String, Value>,
        tableau_luid: Option<&'a str>,
    ) -> StoreResult<Self> {
        Ok(ResourceValues {
            tenant,
            kind,
            id,
            cols: Columns::derive(kind, doc)?,
            now: now_timestamp(),
            tableau_luid,
        })
    }

    /// The resource as this write stored it (relations not loaded yet).
    pub fn stored(
        &self,
        doc: &Map<String, Value>,
        created: String,
        revision: i64,
        tableau_luid: Option<String>,
    ) -> Resource {
        Resource::written(
            self.id,
            self.kind,
            doc,
            created,
            self.now.clone(),
            revision,
            tableau_luid,
        )
    }
}

/// Everything a write stores besides the ids: the serialised document and its derived columns.
pub(crate) struct Columns {
    pub doc: String,
    /// Users only: groups keep NULL so the unique index on it concerns users alone.
    pub user_name: Option<String>,
    pub user_name_lower: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub display_name_lower: Option<String>,
    /// Distinct lower-cased `emails[].value`.
    pub emails_lower: Vec<String>,
}

impl Columns {
    pub fn derive(kind: ResourceKind, doc: &Map<String, Value>) -> StoreResult<Self> {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
        let user_name = match kind {
            ResourceKind::User => text("userName"),
            ResourceKind::Group => None,
        };
        let display_name = text("displayName");
        let mut emails_lower: Vec<String> = doc
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|email| email.get("value")?.as_str())
            .map(str::to_lowercase)
            .collect();
        emails_lower.sort_unstable();
        emails_lower.dedup();
        Ok(Columns {
            doc: serde_json::to_string(doc).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            user_name_lower: user_name.as_deref().map(str::to_lowercase),
            user_name,
            external_id: text("externalId"),
            display_name_lower: display_name.as_deref().map(str::to_lowercase),
            display_name,
            emails_lower,
        })
    }
}

/// The lookup value as stored in the column the lookup reads (lower-cased where the attribute
/// is case-insensitive).
pub(crate) fn lookup_value(lookup: &super::Lookup) -> String {
    use super::Lookup::*;
    match lookup {
        Id(v) | ExternalId(v) => v.clone(),
        UserName(v) | DisplayName(v) | EmailValue(v) => v.to_lowercase(),
    }
}

/// Now, as stored: RFC 3339, UTC, millisecond precision, e.g. `2026-11-28T04:22:54.123Z`.
/// Fixed width, so the strings also sort chronologically.
pub(crate) fn now_timestamp() -> String {
    timestamp(OffsetDateTime::now_utc())
}

/// A UTC instant as stored (see [`now_timestamp`]).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    // Formatting a UTC date with this description cannot fail (4-digit years until 9999).
    at.format(&format)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000Z"))
}

/// An RFC 3339 instant (any offset) as stored, so that it compares with stored timestamps as
/// text; `Invalid` if it is not one.
pub(crate) fn cutoff(instant: &str) -> StoreResult<String> {
    let at = OffsetDateTime::parse(instant, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Invalid(format!("'{instant}' is not an RFC 3339 time: {e}")))?;
    Ok(timestamp(at.to_offset(time::UtcOffset::UTC)))
}

pub(crate) fn kind_from_str(kind: &str) -> StoreResult<ResourceKind> {
    match kind {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        other => Err(StoreError::Corrupt(format!(
            "unknown resource kind '{other}'"
        ))),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_stored_timestamps() {
        let cut = |s: &str| cutoff(s).ok();
        let stored = Some("2026-01-01T00:00:00.000Z".to_owned());
        assert_eq!(cut("2026-01-01T00:00:00Z"), stored);
        assert_eq!(cut("2026-01-01T01:00:00+01:00"), stored);
        assert_eq!(cut("2026-01-01T00:00:00.000Z"), stored);
        assert!(matches!(cutoff("yesterday"), Err(StoreError::Invalid(_))));
    }
}
