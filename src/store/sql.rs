//! SQL shared by both backends (`$n` parameters work on SQLite too). Statements that pass a list
//! of values differ per backend (`json_each` on SQLite, `unnest` on PostgreSQL) and live with
//! their backend. Every statement is a constant, so sqlx prepares it once per connection.

/// Select the `rows::ResourceRow` columns of one kind in a tenant from `$from`, then `$rest`.
macro_rules! resource_select {
    ($from:literal, $rest:literal) => {
        concat!(
            "SELECT id, kind, doc, created, last_modified, revision FROM ",
            $from,
            " WHERE tenant = $1 AND kind = $2 ",
            $rest
        )
    };
}

pub(crate) const GET: &str = resource_select!("resources", "AND id = $3");

/// The statements answering `Store::list`, with the lookup value bound as `$3`.
pub(crate) struct ListSql {
    pub all: &'static str,
    pub by_id: &'static str,
    pub by_user_name: &'static str,
    pub by_external_id: &'static str,
    pub by_display_name: &'static str,
}

impl ListSql {
    pub fn for_lookup(&self, lookup: Option<&super::IndexedLookup>) -> &'static str {
        use super::IndexedLookup::*;
        match lookup {
            None => self.all,
            Some(Id(_)) => self.by_id,
            Some(UserName(_)) => self.by_user_name,
            Some(ExternalId(_)) => self.by_external_id,
            Some(DisplayName(_)) => self.by_display_name,
            Some(EmailValue(_)) => LIST_BY_EMAIL,
        }
    }
}

pub(crate) const POSTGRES_LISTS: ListSql = ListSql {
    all: resource_select!("resources", "ORDER BY seq"),
    by_id: resource_select!("resources", "AND id = $3 ORDER BY seq"),
    by_user_name: resource_select!("resources", "AND user_name_lower = $3 ORDER BY seq"),
    by_external_id: resource_select!("resources", "AND external_id = $3 ORDER BY seq"),
    by_display_name: resource_select!("resources", "AND display_name_lower = $3 ORDER BY seq"),
};

// Without statistics SQLite's planner rates every two-column equality alike and prefers the
// (tenant, kind, seq) index because it yields `ORDER BY seq` for free; that would scan every
// resource of the tenant. INDEXED BY pins each lookup to its own index.
pub(crate) const SQLITE_LISTS: ListSql = ListSql {
    all: resource_select!("resources INDEXED BY resources_list_idx", "ORDER BY seq"),
    by_id: resource_select!("resources", "AND id = $3 ORDER BY seq"),
    by_user_name: resource_select!(
        "resources INDEXED BY resources_user_name_uq",
        "AND user_name_lower = $3 ORDER BY seq"
    ),
    by_external_id: resource_select!(
        "resources INDEXED BY resources_external_id_idx",
        "AND external_id = $3 ORDER BY seq"
    ),
    by_display_name: resource_select!(
        "resources INDEXED BY resources_display_name_idx",
        "AND display_name_lower = $3 ORDER BY seq"
    ),
};

/// From the e-mail index to the resources. `CROSS JOIN` makes SQLite keep `resource_emails` as
/// the outer loop (PostgreSQL treats it as a plain join and plans it by statistics).
const LIST_BY_EMAIL: &str = "SELECT r.id, r.kind, r.doc, r.created, r.last_modified, r.revision \
     FROM resource_emails AS e CROSS JOIN resources AS r \
     WHERE e.tenant = $1 AND e.value_lower = $3 \
     AND r.tenant = e.tenant AND r.id = e.resource_id AND r.kind = $2 ORDER BY r.seq";

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
