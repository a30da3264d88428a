//! SQL shared by both backends (`$n` parameters work on SQLite too). Statements that pass a list
//! of values differ per backend (`json_each` on SQLite, `unnest` on PostgreSQL) and live with
//! their backend. Every statement is a constant, so sqlx prepares it once per connection.

/// The `resources` columns read into a `rows::ResourceRow`.
macro_rules! resource_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, doc, created, last_modified, revision FROM resources ",
            "WHERE tenant = $1 AND kind = $2 ",
            $rest
        )
    };
}

pub(crate) const GET: &str = resource_select!("AND id = $3");
pub(crate) const LIST_ALL: &str = resource_select!("ORDER BY seq");
pub(crate) const LIST_BY_ID: &str = resource_select!("AND id = $3 ORDER BY seq");
pub(crate) const LIST_BY_USER_NAME: &str =
    resource_select!("AND user_name_lower = $3 ORDER BY seq");
pub(crate) const LIST_BY_EXTERNAL_ID: &str = resource_select!("AND external_id = $3 ORDER BY seq");
pub(crate) const LIST_BY_DISPLAY_NAME: &str =
    resource_select!("AND display_name_lower = $3 ORDER BY seq");
pub(crate) const LIST_BY_EMAIL: &str = resource_select!(
    "AND id IN (SELECT resource_id FROM resource_emails WHERE tenant = $1 AND value_lower = $3) \
     ORDER BY seq"
);

/// The statement answering a lookup (or the whole list), with `lookup_value` bound as `$3`.
pub(crate) fn list_sql(lookup: Option<&super::IndexedLookup>) -> &'static str {
    use super::IndexedLookup::*;
    match lookup {
        None => LIST_ALL,
        Some(Id(_)) => LIST_BY_ID,
        Some(UserName(_)) => LIST_BY_USER_NAME,
        Some(ExternalId(_)) => LIST_BY_EXTERNAL_ID,
        Some(DisplayName(_)) => LIST_BY_DISPLAY_NAME,
        Some(EmailValue(_)) => LIST_BY_EMAIL,
    }
}

pub(crate) const INSERT: &str = "INSERT INTO resources (tenant, kind, id, doc, user_name, \
     user_name_lower, external_id, display_name, display_name_lower, created, last_modified, \
     revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1)";

/// Optimistic concurrency: only the revision that was read may be replaced.
pub(crate) const UPDATE: &str = "UPDATE resources SET doc = $4, user_name = $5, \
     user_name_lower = $6, external_id = $7, display_name = $8, display_name_lower = $9, \
     last_modified = $10, revision = revision + 1 \
     WHERE tenant = $1 AND kind = $2 AND id = $3 AND revision = $11 RETURNING created";

pub(crate) const REVISION: &str =
    "SELECT revision FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3";

pub(crate) const DELETE: &str = "DELETE FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3";

pub(crate) const DELETE_EMAILS: &str =
    "DELETE FROM resource_emails WHERE tenant = $1 AND resource_id = $2";
