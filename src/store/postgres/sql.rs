//! PostgreSQL's own statements: lists passed as one array parameter and expanded with `unnest`
//! or `ANY` (so a membership change is one statement whatever its size), and the hot-path
//! writes made one statement each with data-modifying CTEs (the rest is shared:
//! `store::sql`).

use crate::store::sql::{insert_operation, insert_resource, record_step, step_columns};

/// A create in one statement (atomic by itself): the e-mail rows (`$12`) come from a
/// data-modifying CTE, which saves a user create the BEGIN/COMMIT and e-mail round trips.
pub(super) const INSERT_WITH_EMAILS: &str = concat!(
    "WITH r AS (",
    insert_resource!(),
    " RETURNING tenant, id) \
     INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT r.tenant, r.id, e.value FROM r CROSS JOIN unnest($12::text[]) AS e(value) \
     ON CONFLICT DO NOTHING"
);

pub(super) const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1::text, $2::text, unnest($3::text[]) ON CONFLICT DO NOTHING";

// `ORDER BY u.ord` makes `seq` follow the order the members were given.
pub(super) const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1::text, $2::text, r.id, r.kind \
     FROM unnest($3::text[]) WITH ORDINALITY AS u(id, ord) \
     JOIN resources AS r ON r.tenant = $1 AND r.id = u.id \
     ORDER BY u.ord ON CONFLICT DO NOTHING";

pub(super) const FIRST_UNKNOWN: &str = "SELECT u.id FROM unnest($2::text[]) AS u(id) WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = u.id) LIMIT 1";

pub(super) const REMOVE_MEMBERS: &str =
    "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3::text[])";

/// Members of the groups whose ids are in `$2` (`rows::relation`).
pub(super) const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name \
     FROM memberships AS m \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     WHERE m.tenant = $1 AND m.group_id = ANY($2::text[]) \
     ORDER BY m.seq";

/// Groups of the users whose ids are in `$2` (`rows::relation`).
pub(super) const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name \
     FROM memberships AS m \
     JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
     WHERE m.tenant = $1 AND m.member_id = ANY($2::text[]) \
     ORDER BY m.seq";

/// The operation (its removals `$20`) and its plan (`$17`..`$19`, see `PlanColumns`) in one atomic statement;
/// returns the operation's `seq`, or no row when a unique index refused it (then no step is
/// inserted either).
pub(super) const OPEN: &str = concat!(
    "WITH op AS (",
    insert_operation!("$20"),
    " RETURNING tenant, id, seq), \
     steps AS (INSERT INTO operation_steps (tenant, operation_id, idx, kind, description, state) \
     SELECT op.tenant, op.id, p.idx, p.kind, p.description, 'pending' FROM op \
     CROSS JOIN unnest($17::bigint[], $18::text[], $19::text[]) AS p(idx, kind, description)) \
     SELECT seq FROM op"
);

pub(super) const INSERT_STEPS: &str = "INSERT INTO operation_steps \
     (tenant, operation_id, idx, kind, description, state) \
     SELECT $1::text, $2::text, p.idx, p.kind, p.description, 'pending' \
     FROM unnest($3::bigint[], $4::text[], $5::text[]) AS p(idx, kind, description)";

/// Record the step and mark the operation's progress in one statement.
pub(super) const RECORD_STEP: &str = concat!(
    "WITH s AS (",
    record_step!(),
    " RETURNING 1) UPDATE operations SET updated = $14 \
     WHERE tenant = $1 AND id = $2 AND EXISTS (SELECT 1 FROM s)"
);

/// Steps of the operations named by the parallel arrays (tenants `$1`, ids `$2`).
pub(super) const STEPS_OF: &str = concat!(
    "SELECT ",
    step_columns!(),
    " FROM unnest($1::text[], $2::text[]) AS u(tenant, id) \
     JOIN operation_steps AS s ON s.tenant = u.tenant AND s.operation_id = u.id \
     ORDER BY s.tenant, s.operation_id, s.idx"
);
