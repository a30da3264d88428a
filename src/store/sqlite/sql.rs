//! SQLite's own statements: those passing a list, which SQLite takes as one JSON array text and
//! expands with `json_each` (the rest is shared: `store::sql`).

use crate::store::sql::{insert_operation, record_step, step_columns};

pub(super) const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1, $2, value FROM json_each($3) WHERE true ON CONFLICT DO NOTHING";

// `WHERE true` resolves SQLite's parsing ambiguity between a join's ON and ON CONFLICT;
// `ORDER BY j.key` makes the assigned rowids (`seq`) follow the order the members were given.
pub(super) const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1, $2, r.id, r.kind FROM json_each($3) AS j \
     JOIN resources AS r ON r.tenant = $1 AND r.id = j.value \
     WHERE true ORDER BY j.key ON CONFLICT DO NOTHING";

pub(super) const FIRST_UNKNOWN: &str = "SELECT j.value FROM json_each($2) AS j WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = j.value) LIMIT 1";

pub(super) const REMOVE_MEMBERS: &str = "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 \
     AND member_id IN (SELECT value FROM json_each($3))";

/// Members of the groups whose ids are in the JSON array `$2` (`rows::relation`).
pub(super) const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name \
     FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.group_id = j.value \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     ORDER BY m.seq";

/// Groups of the users whose ids are in the JSON array `$2` (`rows::relation`).
pub(super) const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name \
     FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.member_id = j.value \
     JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
     ORDER BY m.seq";

/// A user, by `id` or by lower-cased `userName` (`$3`; `$2` is the kind, `User`), with its
/// groups in one statement, so in one read transaction: the columns `rows::resource` reads,
/// then the groups as one JSON array of `[seq, id, displayName]` (`rows::groups_column` puts
/// them in membership order, `seq`: ordering the aggregate in SQL would build a temporary
/// b-tree per read). The reads a user gets most (Okta's and Entra's `userName eq`, and
/// `GET /Users/{id}` before a change) cost one statement instead of a transaction of two.
macro_rules! user_with_groups {
    ($key:literal) => {
        concat!(
            "SELECT r.id, r.kind, r.doc, r.created, r.last_modified, r.revision, r.tableau_luid, \
             (SELECT json_group_array(json_array(m.seq, g.id, g.display_name)) \
              FROM memberships AS m JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
              WHERE m.tenant = r.tenant AND m.member_id = r.id) \
             FROM resources AS r WHERE r.tenant = $1 AND r.kind = $2 AND r.",
            $key,
            " = $3"
        )
    };
}

pub(super) const USER_BY_ID_WITH_GROUPS: &str = user_with_groups!("id");
pub(super) const USER_BY_NAME_WITH_GROUPS: &str = user_with_groups!("user_name_lower");

/// A new running operation; its `seq`, or no row when a unique index refused it.
pub(super) const INSERT_OPERATION: &str = concat!(insert_operation!("$17"), " RETURNING seq");

/// The plan comes as one JSON array of `[idx, kind, description]` (see `PlanColumns::json`).
pub(super) const INSERT_STEPS: &str = "INSERT INTO operation_steps \
     (tenant, operation_id, idx, kind, description, state) \
     SELECT $1, $2, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), \
     json_extract(j.value, '$[2]'), 'pending' FROM json_each($3) AS j";

/// Steps of the operations whose `seq` (the rowid) is in the JSON array `$1`, in order.
pub(super) const STEPS_OF: &str = concat!(
    "SELECT ",
    step_columns!(),
    " FROM json_each($1) AS j JOIN operations AS o ON o.seq = j.value \
     JOIN operation_steps AS s ON s.tenant = o.tenant AND s.operation_id = o.id \
     ORDER BY o.seq, s.idx"
);

/// One statement: the trigger `operation_steps_progress` marks the operation's progress.
pub(super) const RECORD_STEP: &str = record_step!();
