//! SQL shared by both backends (`$n` parameters work on SQLite too). Statements that pass a list
//! of values differ per backend (`json_each` on SQLite, `unnest` on PostgreSQL) and live with
//! their backend. Every statement is a constant, so sqlx prepares it once per connection.

/// Select the `rows::ResourceRow` columns of one kind in a tenant, then `$rest`.
macro_rules! resource_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, doc, created, last_modified, revision, tableau_luid FROM resources ",
            "WHERE tenant = $1 AND kind = $2 ",
            $rest
        )
    };
}

pub(crate) const GET: &str = resource_select!("AND id = $3");

/// An indexed lookup: the resources of the tenant whose `$column` equals `$3`, of kind `$2`,
/// in creation order.
///
/// Why the materialised CTE: `kind = $2 ... ORDER BY seq` inside one query lets the planner use
/// the (tenant, kind, seq) list index, which avoids the sort and, when statistics are missing
/// or stale (SQLite keeps none unless ANALYZE runs; PostgreSQL until autoanalyze), looks as
/// selective as the lookup index, so it may scan every resource of the tenant. Inside the CTE
/// only the lookup index matches both conditions; kind and order are applied to its few rows.
macro_rules! lookup_select {
    ($inner:expr) => {
        concat!(
            "WITH found AS MATERIALIZED (",
            $inner,
            ") SELECT id, kind, doc, created, last_modified, revision, tableau_luid FROM found ",
            "WHERE kind = $2 ORDER BY seq"
        )
    };
    (column $column:literal) => {
        lookup_select!(concat!(
            "SELECT id, kind, doc, created, last_modified, revision, tableau_luid, seq FROM resources ",
            "WHERE tenant = $1 AND ",
            $column,
            " = $3"
        ))
    };
}

const LIST_ALL: &str = resource_select!("ORDER BY seq");
const LIST_BY_ID: &str = lookup_select!(column "id");
const LIST_BY_USER_NAME: &str = lookup_select!(column "user_name_lower");
const LIST_BY_EXTERNAL_ID: &str = lookup_select!(column "external_id");
const LIST_BY_DISPLAY_NAME: &str = lookup_select!(column "display_name_lower");
// CROSS JOIN keeps `resource_emails` the outer loop on SQLite (PostgreSQL plans it as a join).
const LIST_BY_EMAIL: &str = lookup_select!(
    "SELECT r.id, r.kind, r.doc, r.created, r.last_modified, r.revision, r.tableau_luid, r.seq \
     FROM resource_emails AS e CROSS JOIN resources AS r \
     WHERE e.tenant = $1 AND e.value_lower = $3 AND r.tenant = e.tenant AND r.id = e.resource_id"
);

/// The statement answering `Store::list`, with the lookup value (if any) bound as `$3`.
pub(crate) fn list_sql(lookup: Option<&super::Lookup>) -> &'static str {
    use super::Lookup::*;
    match lookup {
        None => LIST_ALL,
        Some(Id(_)) => LIST_BY_ID,
        Some(UserName(_)) => LIST_BY_USER_NAME,
        Some(ExternalId(_)) => LIST_BY_EXTERNAL_ID,
        Some(DisplayName(_)) => LIST_BY_DISPLAY_NAME,
        Some(EmailValue(_)) => LIST_BY_EMAIL,
    }
}

/// A new resource at revision 1; `$10` is both timestamps, `$11` the Tableau LUID (if known).
/// A macro so that PostgreSQL can embed it in a larger statement.
macro_rules! insert_resource {
    () => {
        "INSERT INTO resources (tenant, kind, id, doc, user_name, user_name_lower, external_id, \
         display_name, display_name_lower, created, last_modified, revision, tableau_luid) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1, $11)"
    };
}
pub(crate) use insert_resource;

pub(crate) const INSERT: &str = insert_resource!();

/// Optimistic concurrency: only the revision that was read may be replaced. `$12` is a new
/// Tableau LUID, or NULL to keep the stored one.
pub(crate) const UPDATE: &str = "UPDATE resources SET doc = $4, user_name = $5, \
     user_name_lower = $6, external_id = $7, display_name = $8, display_name_lower = $9, \
     last_modified = $10, revision = revision + 1, tableau_luid = COALESCE($12, tableau_luid) \
     WHERE tenant = $1 AND kind = $2 AND id = $3 AND revision = $11 \
     RETURNING created, tableau_luid";

pub(crate) const REVISION: &str =
    "SELECT revision FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3";

pub(crate) const DELETE: &str = "DELETE FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3";

pub(crate) const DELETE_EMAILS: &str =
    "DELETE FROM resource_emails WHERE tenant = $1 AND resource_id = $2";

/// The first resource (in creation order) mirrored to a Tableau LUID; the partial LUID index
/// answers it.
pub(crate) const FIND_BY_LUID: &str =
    resource_select!("AND tableau_luid = $3 ORDER BY seq LIMIT 1");

/// The LUID is not part of the SCIM document, so setting it changes neither revision nor
/// `lastModified`.
pub(crate) const SET_LUID: &str =
    "UPDATE resources SET tableau_luid = $4 WHERE tenant = $1 AND kind = $2 AND id = $3";
