//! SQL both backends run as it stands (`$N` parameters work on SQLite too: its executor binds
//! each by the number in its name, see `sqlite::exec`). Statements that pass a list of values
//! differ per backend (`json_each` on SQLite, `unnest` and arrays on PostgreSQL) and live with
//! their backend. Every statement is a constant, so each connection prepares it once and keeps
//! it (sqlx's statement cache, rusqlite's `prepare_cached`).
//!
//! Resource rows are selected as `rows::resource` reads them, operations and steps as
//! `rows::operation` and `rows::step` do: by position, in the column order given here.

/// Select the resource columns (`rows::resource`) of one kind in a tenant, then `$rest`.
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
// `id` and `user_name_lower` are unique in a tenant (`UNIQUE (tenant, id)`,
// `resources_user_name_uq`): equality on both columns of a unique index is the plan either
// database takes, whatever its statistics, and one row needs no order. Without the CTE, SQLite
// opens no ephemeral table per lookup.
const LIST_BY_ID: &str = GET;
const LIST_BY_USER_NAME: &str = resource_select!("AND user_name_lower = $3");
const LIST_BY_EXTERNAL_ID: &str = lookup_select!(column "external_id");
const LIST_BY_DISPLAY_NAME: &str = lookup_select!(column "display_name_lower");
// CROSS JOIN keeps `resource_emails` the outer loop on SQLite (PostgreSQL plans it as a join).
const LIST_BY_EMAIL: &str = lookup_select!(
    "SELECT r.id, r.kind, r.doc, r.created, r.last_modified, r.revision, r.tableau_luid, r.seq \
     FROM resource_emails AS e CROSS JOIN resources AS r \
     WHERE e.tenant = $1 AND e.value_lower = $3 AND r.tenant = e.tenant AND r.id = e.resource_id"
);

/// The statement answering `Store::find`, with the lookup value (if any) bound as `$3`.
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

/// A new resource at revision 1. `$1`..`$11` are the values of `columns::ResourceValues`, bound
/// in that order by each backend (one function each); `$10` is both timestamps, `$11` the
/// Tableau LUID (if known). A macro so that PostgreSQL can embed it in a larger statement.
macro_rules! insert_resource {
    () => {
        "INSERT INTO resources (tenant, kind, id, doc, user_name, user_name_lower, external_id, \
         display_name, display_name_lower, created, last_modified, revision, tableau_luid) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1, $11)"
    };
}
pub(crate) use insert_resource;

pub(crate) const INSERT: &str = insert_resource!();

/// Optimistic concurrency: only the revision that was read (`$12`) may be replaced. `$1`..`$11`
/// as for [`INSERT`]; `$11` is a new Tableau LUID, or NULL to keep the stored one.
pub(crate) const UPDATE: &str = "UPDATE resources SET doc = $4, user_name = $5, \
     user_name_lower = $6, external_id = $7, display_name = $8, display_name_lower = $9, \
     last_modified = $10, revision = revision + 1, tableau_luid = COALESCE($11, tableau_luid) \
     WHERE tenant = $1 AND kind = $2 AND id = $3 AND revision = $12 \
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

// ---- the operation journal ----

/// Select the operation columns (`rows::operation`), then `$rest`.
macro_rules! operation_select {
    ($rest:literal) => {
        concat!(
            "SELECT seq, tenant, id, idem_key, explicit_key, principal, method, path, digest, ",
            "resource_kind, resource_id, intent, state, attempts, response_status, error_body, ",
            "created, updated, finished, request_id, removals, held, note, request_body, resource_name FROM operations ",
            $rest
        )
    };
}

pub(crate) const OPERATION: &str = operation_select!("WHERE tenant = $1 AND id = $2");
/// Whether an operation id is taken (a row, or none).
pub(crate) const OPERATION_TAKEN: &str = "SELECT seq FROM operations WHERE tenant = $1 AND id = $2";
pub(crate) const BY_KEY: &str = operation_select!("WHERE tenant = $1 AND idem_key = $2");
pub(crate) const RUNNING_ON: &str = operation_select!(
    "WHERE tenant = $1 AND resource_kind = $2 AND resource_id = $3 AND state = 'running'"
);
/// The running operation that claims a name (tenant, kind, lower-case name).
pub(crate) const RUNNING_CLAIM: &str = operation_select!(
    "WHERE tenant = $1 AND resource_kind = $2 AND claimed_name = $3 AND state = 'running'"
);
pub(crate) const UNFINISHED: &str =
    operation_select!("WHERE state = 'running' ORDER BY seq LIMIT $1");
pub(crate) const LIST: &str = operation_select!("WHERE tenant = $1 ORDER BY seq DESC LIMIT $2");
pub(crate) const LIST_FOR_RESOURCE: &str =
    operation_select!("WHERE tenant = $1 AND resource_id = $2 ORDER BY seq DESC LIMIT $3");

/// The step columns (`rows::step`), from `operation_steps AS s`.
macro_rules! step_columns {
    () => {
        "s.tenant, s.operation_id, s.idx, s.kind, s.description, s.state, s.method, s.path, \
         s.request_body, s.http_status, s.tableau_code, s.duration_ms, s.luid, s.error, \
         s.started, s.finished, s.calls"
    };
}
pub(crate) use step_columns;

/// A new running operation; `$12` is both timestamps, `$13` the claimed name, `$14` the
/// request id, `$15` the SCIM request body (redacted), `$16` the resource's name, and the
/// parameter named by the macro's argument its removals (PostgreSQL's statement binds the plan
/// as `$17`..`$19`). `ON CONFLICT DO NOTHING` without a target covers every unique index, so a
/// taken key, a busy resource or a claimed name (the partial indexes) or a taken id all insert
/// nothing, and the caller then looks which one it was.
macro_rules! insert_operation {
    ($removals:literal) => {
        concat!(
            "INSERT INTO operations (tenant, id, idem_key, explicit_key, principal, method, \
             path, digest, resource_kind, resource_id, intent, state, attempts, created, \
             updated, claimed_name, request_id, request_body, resource_name, removals) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', 1, $12, $12, \
             $13, $14, $15, $16, ",
            $removals,
            ") ON CONFLICT DO NOTHING"
        )
    };
}
pub(crate) use insert_operation;

/// Record a step's outcome (`$4..$15`); `$14` is the time it was recorded, `$15` its calls.
macro_rules! record_step {
    () => {
        "UPDATE operation_steps SET state = $4, method = $5, path = $6, request_body = $7, \
         http_status = $8, tableau_code = $9, duration_ms = $10, luid = $11, error = $12, \
         started = $13, finished = $14, calls = $15 WHERE tenant = $1 AND operation_id = $2 AND idx = $3"
    };
}
pub(crate) use record_step;

/// End a running operation (state `$3`). The key stays only when the client chose it: then a
/// later request with it is answered from the journal; otherwise an identical later request is
/// a new request (SCIM semantics). `state = 'running'` makes finishing happen exactly once.
pub(crate) const FINISH: &str = "UPDATE operations SET state = $3, response_status = $4, \
     error_body = $5, finished = $6, updated = $6, \
     idem_key = CASE WHEN explicit_key THEN idem_key ELSE NULL END \
     WHERE tenant = $1 AND id = $2 AND state = 'running'";

/// Hold a running operation (the mass-removal guard): like [`FINISH`] for a success (its SCIM
/// side commits in the same transaction), but the state is `held` and `held` records when.
pub(crate) const HOLD: &str = "UPDATE operations SET state = 'held', response_status = $3, \
     held = $4, finished = $4, updated = $4, \
     idem_key = CASE WHEN explicit_key THEN idem_key ELSE NULL END \
     WHERE tenant = $1 AND id = $2 AND state = 'running'";

/// Dry-run: finish a running operation as `planned` (its SCIM side commits in the same
/// transaction, as for a success).
pub(crate) const PLAN_ONLY: &str = "UPDATE operations SET state = 'planned', \
     response_status = $3, finished = $4, updated = $4, \
     idem_key = CASE WHEN explicit_key THEN idem_key ELSE NULL END \
     WHERE tenant = $1 AND id = $2 AND state = 'running'";

/// The planned operations not converged yet: how many, and the newest `seq`.
pub(crate) const PLANNED: &str = "SELECT count(*), CAST(COALESCE(max(seq), 0) AS BIGINT) \
     FROM operations WHERE tenant = $1 AND state = 'planned'";

/// Planned operations up to `seq` `$2` carried out by a live reconcile (note `$3`).
pub(crate) const CONVERGE: &str = "UPDATE operations SET state = 'converged', note = $3, \
     updated = $4 WHERE tenant = $1 AND state = 'planned' AND seq <= $2";

/// A held operation runs again (`ops release`): one more attempt. The unique index on running
/// operations refuses it while another operation runs on the resource.
pub(crate) const RELEASE: &str = "UPDATE operations SET state = 'running', finished = NULL, \
     attempts = attempts + 1, updated = $3 WHERE tenant = $1 AND id = $2 AND state = 'held'";

/// A held operation dropped with a note (`ops discard`).
pub(crate) const DISCARD: &str = "UPDATE operations SET state = 'discarded', note = $3, \
     finished = $4, updated = $4 WHERE tenant = $1 AND id = $2 AND state = 'held'";

/// Every held operation on one resource dropped with a note (a later change supersedes them).
pub(crate) const DISCARD_HELD_ON: &str = "UPDATE operations SET state = 'discarded', note = $4, \
     finished = $5, updated = $5 \
     WHERE tenant = $1 AND resource_kind = $2 AND resource_id = $3 AND state = 'held'";

/// Whether one resource has held operations: what a later change to it supersedes
/// (`operations_resource_idx`; nearly always none).
pub(crate) const HELD_ON: &str = "SELECT EXISTS (SELECT 1 FROM operations \
     WHERE tenant = $1 AND resource_kind = $2 AND resource_id = $3 AND state = 'held')";

/// Held operations of a tenant, oldest first (`operations_held_idx`).
pub(crate) const HELD: &str =
    operation_select!("WHERE tenant = $1 AND state = 'held' ORDER BY seq LIMIT $2");

/// The guard's sum: removals of the operations created since `$2` that were neither
/// discarded nor failed (`operations_removals_idx`).
pub(crate) const REMOVALS_SINCE: &str = "SELECT CAST(COALESCE(SUM(removals), 0) AS BIGINT) \
     FROM operations WHERE tenant = $1 AND removals > 0 AND created >= $2 \
     AND state NOT IN ('discarded', 'failed')";

pub(crate) const TOUCH: &str = "UPDATE operations SET attempts = attempts + 1, updated = $3 \
     WHERE tenant = $1 AND id = $2 AND state = 'running' RETURNING attempts";

/// Recorded steps stay: they are what happened in Tableau.
pub(crate) const DELETE_PENDING_STEPS: &str = "DELETE FROM operation_steps \
     WHERE tenant = $1 AND operation_id = $2 AND idx >= $3 AND state = 'pending'";

/// Journal retention: up to `$2` operations that succeeded and finished before `$1`, oldest
/// finished first (the partial index `operations_prunable_idx`); their steps go by ON DELETE
/// CASCADE, their keys with their rows. Other states are never selected.
pub(crate) const PRUNE: &str = "DELETE FROM operations WHERE (tenant, id) IN \
     (SELECT tenant, id FROM operations WHERE state = 'succeeded' AND finished < $1 \
     ORDER BY finished LIMIT $2)";
