//! The operation journal on PostgreSQL. Opening an operation (its row and its whole plan) and
//! recording a step (with the operation's progress) are one statement each, so the hot path
//! pays no BEGIN/COMMIT round trips; completing is one transaction with the resource change.
//!
//! Only what is PostgreSQL's own lives here (opening an operation, plans and step lists as
//! arrays, the one-statement step record, completing); the reads and the rarer writes are
//! expanded from `journal_ops!`. SQLite's hot-path writes are in `sqlite_writes`.

use super::columns::now_timestamp;
use super::errors::plan_error;
use super::journal::json_text;
use super::journal_ops::journal_ops;
use super::journal_rows::{
    OperationRow, PlanColumns, StepRow, attach_steps, into_operations, opened,
};
use super::journal_sql::{self as jsql, insert_operation, record_step, step_columns};
use super::postgres_writes::{create_in, delete_in, update_in};
use super::*;
use sqlx::postgres::{PgConnection, PgPool};

/// The operation and its plan in one atomic statement; returns the operation's `seq`, or no
/// row when a unique index refused it (then no step is inserted either).
const OPEN: &str = concat!(
    "WITH op AS (",
    insert_operation!(),
    " RETURNING tenant, id, seq), \
     steps AS (INSERT INTO operation_steps (tenant, operation_id, idx, kind, description, state) \
     SELECT op.tenant, op.id, p.idx, p.kind, p.description, 'pending' FROM op \
     CROSS JOIN unnest($13::bigint[], $14::text[], $15::text[]) AS p(idx, kind, description)) \
     SELECT seq FROM op"
);

const INSERT_STEPS: &str = "INSERT INTO operation_steps \
     (tenant, operation_id, idx, kind, description, state) \
     SELECT $1::text, $2::text, p.idx, p.kind, p.description, 'pending' \
     FROM unnest($3::bigint[], $4::text[], $5::text[]) AS p(idx, kind, description)";

/// Record the step and mark the operation's progress in one statement.
const RECORD_STEP: &str = concat!(
    "WITH s AS (",
    record_step!(),
    " RETURNING 1) UPDATE operations SET updated = $14 \
     WHERE tenant = $1 AND id = $2 AND EXISTS (SELECT 1 FROM s)"
);

/// Steps of the operations named by the parallel arrays (tenants `$1`, ids `$2`).
const STEPS_OF: &str = concat!(
    "SELECT ",
    step_columns!(),
    " FROM unnest($1::text[], $2::text[]) AS u(tenant, id) \
     JOIN operation_steps AS s ON s.tenant = u.tenant AND s.operation_id = u.id \
     ORDER BY s.tenant, s.operation_id, s.idx"
);

/// How often `open` tries again when the operation that refused it finished before it could be
/// read back (a race between servers; once is nearly always enough).
const OPEN_ATTEMPTS: usize = 5;

/// Operations with their steps (one more query, whatever the number of operations).
async fn with_steps(
    conn: &mut PgConnection,
    rows: Vec<OperationRow>,
) -> StoreResult<Vec<Operation>> {
    let mut operations = into_operations(rows)?;
    if operations.is_empty() {
        return Ok(operations);
    }
    let tenants: Vec<&str> = operations.iter().map(|op| op.tenant.as_str()).collect();
    let ids: Vec<&str> = operations.iter().map(|op| op.id.as_str()).collect();
    let steps: Vec<StepRow> = sqlx::query_as(STEPS_OF)
        .bind(&tenants)
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    attach_steps(&mut operations, steps)?;
    Ok(operations)
}

pub(super) async fn open(
    pool: &PgPool,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Opened> {
    let intent = json_text(&op.intent)?;
    let columns = PlanColumns::new(plan)?;
    let mut conn = pool.acquire().await?;
    for _ in 0..OPEN_ATTEMPTS {
        let now = now_timestamp();
        let seq: Option<i64> = sqlx::query_scalar(OPEN)
            .bind(&op.tenant)
            .bind(&op.id)
            .bind(&op.idem_key)
            .bind(op.explicit_key)
            .bind(&op.principal)
            .bind(&op.method)
            .bind(&op.path)
            .bind(&op.digest)
            .bind(op.resource_kind.as_str())
            .bind(&op.resource_id)
            .bind(&intent)
            .bind(&now)
            .bind(&columns.idx)
            .bind(&columns.kind)
            .bind(&columns.description)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(seq) = seq {
            return Ok(Opened::Created(opened(op, seq, &now, plan)));
        }
        if let Some(found) = conflicting(&mut conn, op).await? {
            return Ok(found);
        }
    }
    Err(StoreError::Conflict {
        attribute: "operation",
        value: op.id.clone(),
    })
}

/// Which unique index refused a new operation: a running operation (see `refused_by`), then the
/// id. `None` when the refusing operation has finished since (another server): try again.
async fn conflicting(conn: &mut PgConnection, op: &NewOperation) -> StoreResult<Option<Opened>> {
    if let Some(found) = refused_by(conn, op).await? {
        return Ok(Some(found));
    }
    let same_id: Option<OperationRow> = sqlx::query_as(jsql::OPERATION)
        .bind(&op.tenant)
        .bind(&op.id)
        .fetch_optional(&mut *conn)
        .await?;
    if same_id.is_some() {
        return Err(StoreError::Conflict {
            attribute: "id",
            value: op.id.clone(),
        });
    }
    Ok(None)
}

/// Insert pending steps (used by `replace_plan`; `open` inserts its plan in its own statement).
async fn insert_plan(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    plan: &[PlannedStep],
) -> StoreResult<()> {
    if plan.is_empty() {
        return Ok(());
    }
    let columns = PlanColumns::new(plan)?;
    sqlx::query(INSERT_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(&columns.idx)
        .bind(&columns.kind)
        .bind(&columns.description)
        .execute(conn)
        .await
        .map_err(plan_error)?;
    Ok(())
}

journal_ops!(PgConnection, PgPool);

pub(super) async fn record_step(
    write: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    idx: i64,
    outcome: &StepOutcome,
) -> StoreResult<()> {
    let (started, finished) = crate::store::journal_rows::step_times(outcome);
    let updated = sqlx::query(RECORD_STEP)
        .bind(tenant)
        .bind(op_id)
        .bind(idx)
        .bind(outcome.state.as_str())
        .bind(&outcome.method)
        .bind(&outcome.path)
        .bind(&outcome.request_body)
        .bind(outcome.http_status)
        .bind(&outcome.tableau_code)
        .bind(outcome.duration_ms)
        .bind(&outcome.luid)
        .bind(&outcome.error)
        .bind(started)
        .bind(finished)
        .execute(&mut *write)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Apply a commit inside the caller's transaction, with the very code `create`,
/// `update` and `delete` use.
async fn apply(
    conn: &mut PgConnection,
    tenant: &str,
    commit: &ResourceCommit,
) -> StoreResult<Option<Resource>> {
    match commit {
        ResourceCommit::Create {
            kind,
            id,
            doc,
            members,
            tableau_luid,
        } => create_in(
            conn,
            tenant,
            *kind,
            id,
            doc,
            members,
            tableau_luid.as_deref(),
        )
        .await
        .map(Some),
        ResourceCommit::Update {
            kind,
            id,
            revision,
            doc,
            members,
            tableau_luid,
        } => update_in(
            conn,
            tenant,
            *kind,
            id,
            *revision,
            doc,
            members,
            tableau_luid.as_deref(),
        )
        .await
        .map(Some),
        ResourceCommit::Delete { kind, id } => {
            delete_in(conn, tenant, *kind, id).await?;
            Ok(None)
        }
        ResourceCommit::Nothing => Ok(None),
    }
}

/// End a running operation as succeeded and apply its resource change, in one transaction
/// (a savepoint if `write` is already in one).
pub(super) async fn complete(
    write: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Option<Resource>> {
    let mut tx = sqlx::Connection::begin(write).await?;
    // Dropping `tx` on an error rolls both back: the operation stays running.
    finish(
        &mut tx,
        tenant,
        op_id,
        OperationState::Succeeded,
        status,
        None,
    )
    .await?;
    let resource = apply(&mut tx, tenant, commit).await?;
    tx.commit().await?;
    Ok(resource)
}

pub(super) async fn replace_plan(
    write: &PgPool,
    tenant: &str,
    op_id: &str,
    from_idx: i64,
    steps: &[PlannedStep],
) -> StoreResult<()> {
    let mut tx = write.begin().await?;
    sqlx::query(crate::store::journal_sql::DELETE_PENDING_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(from_idx)
        .execute(&mut *tx)
        .await?;
    insert_plan(&mut tx, tenant, op_id, steps).await?;
    tx.commit().await?;
    Ok(())
}

/// End a running operation on `conn`; `NotFound` unless it was running. Inside
/// `complete` on PostgreSQL, the UPDATE also row-locks the operation, so two servers
/// cannot both complete it.
async fn finish(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    state: OperationState,
    status: u16,
    error_body: Option<String>,
) -> StoreResult<()> {
    let finished = sqlx::query(crate::store::journal_sql::FINISH)
        .bind(tenant)
        .bind(op_id)
        .bind(state.as_str())
        .bind(crate::store::journal_rows::status_column(status))
        .bind(error_body)
        .bind(crate::store::columns::now_timestamp())
        .execute(conn)
        .await?
        .rows_affected();
    if finished == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn fail(
    write: &PgPool,
    tenant: &str,
    op_id: &str,
    status: u16,
    error_body: &Value,
) -> StoreResult<()> {
    let body = crate::store::journal::json_text(error_body)?;
    let mut conn = write.acquire().await?;
    finish(
        &mut conn,
        tenant,
        op_id,
        OperationState::Failed,
        status,
        Some(body),
    )
    .await
}

pub(super) async fn touch(write: &PgPool, tenant: &str, op_id: &str) -> StoreResult<i64> {
    let attempts: Option<i64> = sqlx::query_scalar(crate::store::journal_sql::TOUCH)
        .bind(tenant)
        .bind(op_id)
        .bind(crate::store::columns::now_timestamp())
        .fetch_optional(write)
        .await?;
    attempts.ok_or(StoreError::NotFound)
}
