//! The operation journal on SQLite. Writes go through the single write connection like every
//! other write (see `sqlite`), each call one short transaction (or one statement), so journaled
//! requests cost few round trips on the one writer.
//!
//! Only what is SQLite's own lives here (opening an operation, plans and step lists as JSON);
//! the rest is expanded from `journal_ops!`.

use super::columns::now_timestamp;
use super::errors::plan_error;
use super::journal::json_text;
use super::journal_ops::journal_ops;
use super::journal_rows::{
    OperationRow, PlanColumns, StepRow, attach_steps, into_operations, opened,
};
use super::journal_sql::{self as jsql, insert_operation, step_columns};
use super::sqlite::{create_in, delete_in, update_in};
use super::*;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

const INSERT_OPERATION: &str = concat!(insert_operation!(), " RETURNING seq");

/// The plan comes as one JSON array of `[idx, kind, description]` (see `PlanColumns::json`).
const INSERT_STEPS: &str = "INSERT INTO operation_steps \
     (tenant, operation_id, idx, kind, description, state) \
     SELECT $1, $2, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), \
     json_extract(j.value, '$[2]'), 'pending' FROM json_each($3) AS j";

/// Steps of the operations whose `seq` (the rowid) is in the JSON array `$1`, in order.
const STEPS_OF: &str = concat!(
    "SELECT ",
    step_columns!(),
    " FROM json_each($1) AS j JOIN operations AS o ON o.seq = j.value \
     JOIN operation_steps AS s ON s.tenant = o.tenant AND s.operation_id = o.id \
     ORDER BY o.seq, s.idx"
);

const DELETE_OPERATION: &str = "DELETE FROM operations WHERE tenant = $1 AND id = $2";

const RECORD_STEP: &str = jsql::record_step!();

async fn insert_plan(
    conn: &mut SqliteConnection,
    tenant: &str,
    op_id: &str,
    plan: &[PlannedStep],
) -> StoreResult<()> {
    if plan.is_empty() {
        return Ok(());
    }
    sqlx::query(INSERT_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(PlanColumns::new(plan)?.json()?)
        .execute(conn)
        .await
        .map_err(plan_error)?;
    Ok(())
}

/// Operations with their steps (one more query, whatever the number of operations).
async fn with_steps(
    conn: &mut SqliteConnection,
    rows: Vec<OperationRow>,
) -> StoreResult<Vec<Operation>> {
    let mut operations = into_operations(rows)?;
    if operations.is_empty() {
        return Ok(operations);
    }
    let seqs: Vec<i64> = operations.iter().map(|op| op.seq).collect();
    let seqs = serde_json::to_string(&seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let steps: Vec<StepRow> = sqlx::query_as(STEPS_OF).bind(seqs).fetch_all(conn).await?;
    attach_steps(&mut operations, steps)?;
    Ok(operations)
}

/// On the write connection inside a group-commit batch (see `sqlite_batch`), in two statements
/// and without a savepoint of its own: every statement on the single writer is a round trip to
/// SQLite's worker thread. Each statement is atomic by itself, so a plan that cannot be
/// inserted inserted nothing, and taking the operation row back out undoes the open.
pub(super) async fn open(
    write: &mut SqliteConnection,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Opened> {
    let intent = json_text(&op.intent)?;
    let now = now_timestamp();
    let seq: Option<i64> = sqlx::query_scalar(INSERT_OPERATION)
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
        .fetch_optional(&mut *write)
        .await?;
    let Some(seq) = seq else {
        // Nothing inserted: find out why on the write connection, which nobody else can change
        // meanwhile (SQLite's single writer), so the answer is exact.
        return conflicting(write, op).await;
    };
    if let Err(e) = insert_plan(write, &op.tenant, &op.id, plan).await {
        sqlx::query(DELETE_OPERATION)
            .bind(&op.tenant)
            .bind(&op.id)
            .execute(&mut *write)
            .await?;
        return Err(e);
    }
    Ok(Opened::Created(opened(op, seq, &now, plan)))
}

/// Which unique index refused a new operation: a running operation (see `refused_by`), else the
/// id.
async fn conflicting(conn: &mut SqliteConnection, op: &NewOperation) -> StoreResult<Opened> {
    if let Some(found) = refused_by(conn, op).await? {
        return Ok(found);
    }
    Err(StoreError::Conflict {
        attribute: "id",
        value: op.id.clone(),
    })
}

journal_ops!(SqliteConnection, SqlitePool);
