//! Journal SQL shared by both backends. Statements passing a list (the plan, the operations
//! whose steps to load) differ per backend and live with it, as for resources (see `sql`).

/// Select the `journal_rows::OperationRow` columns, then `$rest`.
macro_rules! operation_select {
    ($rest:literal) => {
        concat!(
            "SELECT seq, tenant, id, idem_key, explicit_key, principal, method, path, digest, ",
            "resource_kind, resource_id, intent, state, attempts, response_status, error_body, ",
            "created, updated, finished FROM operations ",
            $rest
        )
    };
}

pub(crate) const OPERATION: &str = operation_select!("WHERE tenant = $1 AND id = $2");
pub(crate) const BY_KEY: &str = operation_select!("WHERE tenant = $1 AND idem_key = $2");
pub(crate) const RUNNING_ON: &str = operation_select!(
    "WHERE tenant = $1 AND resource_kind = $2 AND resource_id = $3 AND state = 'running'"
);
pub(crate) const UNFINISHED: &str =
    operation_select!("WHERE state = 'running' ORDER BY seq LIMIT $1");
pub(crate) const LIST: &str = operation_select!("WHERE tenant = $1 ORDER BY seq DESC LIMIT $2");
pub(crate) const LIST_FOR_RESOURCE: &str =
    operation_select!("WHERE tenant = $1 AND resource_id = $2 ORDER BY seq DESC LIMIT $3");

/// The columns of `journal_rows::StepRow`, from `operation_steps AS s`.
macro_rules! step_columns {
    () => {
        "s.tenant, s.operation_id, s.idx, s.kind, s.description, s.state, s.method, s.path, \
         s.request_body, s.http_status, s.tableau_code, s.duration_ms, s.luid, s.error, \
         s.started, s.finished"
    };
}
pub(crate) use step_columns;

/// A new running operation; `$12` is both timestamps. `ON CONFLICT DO NOTHING` without a target
/// covers every unique index, so a taken key, a busy resource (the partial indexes) or a taken
/// id all insert nothing, and the caller then looks which one it was.
macro_rules! insert_operation {
    () => {
        "INSERT INTO operations (tenant, id, idem_key, explicit_key, principal, method, path, \
         digest, resource_kind, resource_id, intent, state, attempts, created, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', 1, $12, $12) \
         ON CONFLICT DO NOTHING"
    };
}
pub(crate) use insert_operation;

/// Record a step's outcome (`$4..$14`); `$14` is the time it was recorded.
macro_rules! record_step {
    () => {
        "UPDATE operation_steps SET state = $4, method = $5, path = $6, request_body = $7, \
         http_status = $8, tableau_code = $9, duration_ms = $10, luid = $11, error = $12, \
         started = $13, finished = $14 WHERE tenant = $1 AND operation_id = $2 AND idx = $3"
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

pub(crate) const TOUCH: &str = "UPDATE operations SET attempts = attempts + 1, updated = $3 \
     WHERE tenant = $1 AND id = $2 AND state = 'running' RETURNING attempts";

/// Recorded steps stay: they are what happened in Tableau.
pub(crate) const DELETE_PENDING_STEPS: &str = "DELETE FROM operation_steps \
     WHERE tenant = $1 AND operation_id = $2 AND idx >= $3 AND state = 'pending'";
