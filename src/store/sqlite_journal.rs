//! The operation journal on SQLite: its statements (plans and step lists passed as JSON), and
//! the reads expanded from `journal_ops!`. The writes run these statements in `sqlite_writes`,
//! group-committed.

use super::journal_ops::journal_ops;
use super::journal_rows::{OperationRow, StepRow, attach_steps, into_operations};
use super::journal_sql::{self as jsql, insert_operation, step_columns};
use super::*;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

pub(super) const INSERT_OPERATION: &str = concat!(insert_operation!(), " RETURNING seq");

/// The plan comes as one JSON array of `[idx, kind, description]` (see `PlanColumns::json`).
pub(super) const INSERT_STEPS: &str = "INSERT INTO operation_steps \
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

pub(super) const RECORD_STEP: &str = jsql::record_step!();

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

journal_ops!(SqliteConnection, SqlitePool);
