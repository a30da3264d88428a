//! The operation journal on SQLite. Writes go through the single write connection like every
//! other write (see `sqlite`), each call one short transaction (or one statement), so journaled
//! requests cost few round trips on the one writer.

use super::columns::now_timestamp;
use super::errors::plan_error;
use super::journal::json_text;
use super::journal_rows::{
    OperationRow, PlanColumns, StepRow, attach_steps, into_operations, opened, status_column,
    step_times,
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

async fn first_with_steps(
    conn: &mut SqliteConnection,
    row: Option<OperationRow>,
) -> StoreResult<Option<Operation>> {
    Ok(with_steps(conn, row.into_iter().collect())
        .await?
        .into_iter()
        .next())
}

pub(super) async fn open(
    write: &SqlitePool,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Opened> {
    let intent = json_text(&op.intent)?;
    let now = now_timestamp();
    let mut tx = write.begin().await?;
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
        .fetch_optional(&mut *tx)
        .await?;
    let Some(seq) = seq else {
        // Nothing inserted: find out why on the write connection, which nobody else can change
        // meanwhile (SQLite's single writer), so the answer is exact.
        let found = conflicting(&mut tx, op).await;
        tx.rollback().await?;
        return found;
    };
    insert_plan(&mut tx, &op.tenant, &op.id, plan).await?;
    tx.commit().await?;
    Ok(Opened::Created(opened(op, seq, &now, plan)))
}

/// Which unique index refused a new operation: the key first (a retried request attaches to its
/// own operation even though that one also holds the resource), then the resource.
async fn conflicting(conn: &mut SqliteConnection, op: &NewOperation) -> StoreResult<Opened> {
    let same_key: Option<OperationRow> = sqlx::query_as(jsql::BY_KEY)
        .bind(&op.tenant)
        .bind(&op.idem_key)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(found) = first_with_steps(conn, same_key).await? {
        return Ok(Opened::SameKey(found));
    }
    let busy: Option<OperationRow> = sqlx::query_as(jsql::RUNNING_ON)
        .bind(&op.tenant)
        .bind(op.resource_kind.as_str())
        .bind(&op.resource_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(found) = first_with_steps(conn, busy).await? {
        return Ok(Opened::ResourceBusy(found));
    }
    Err(StoreError::Conflict {
        attribute: "id",
        value: op.id.clone(),
    })
}

pub(super) async fn record_step(
    write: &SqlitePool,
    tenant: &str,
    op_id: &str,
    idx: i64,
    outcome: &StepOutcome,
) -> StoreResult<()> {
    let (started, finished) = step_times(outcome);
    // The trigger `operation_steps_progress` sets the operation's `updated` in the same
    // statement.
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
        .execute(write)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn replace_plan(
    write: &SqlitePool,
    tenant: &str,
    op_id: &str,
    from_idx: i64,
    steps: &[PlannedStep],
) -> StoreResult<()> {
    let mut tx = write.begin().await?;
    sqlx::query(jsql::DELETE_PENDING_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(from_idx)
        .execute(&mut *tx)
        .await?;
    insert_plan(&mut tx, tenant, op_id, steps).await?;
    tx.commit().await?;
    Ok(())
}

/// End a running operation on `conn`; `NotFound` unless it was running.
async fn finish(
    conn: &mut SqliteConnection,
    tenant: &str,
    op_id: &str,
    state: OperationState,
    status: u16,
    error_body: Option<String>,
) -> StoreResult<()> {
    let finished = sqlx::query(jsql::FINISH)
        .bind(tenant)
        .bind(op_id)
        .bind(state.as_str())
        .bind(status_column(status))
        .bind(error_body)
        .bind(now_timestamp())
        .execute(conn)
        .await?
        .rows_affected();
    if finished == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Apply a commit inside the caller's transaction, with the very code `create`, `update` and
/// `delete` use.
async fn apply(
    conn: &mut SqliteConnection,
    tenant: &str,
    commit: &ResourceCommit,
) -> StoreResult<Option<StoredResource>> {
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

pub(super) async fn complete(
    write: &SqlitePool,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Option<StoredResource>> {
    let mut tx = write.begin().await?;
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

pub(super) async fn fail(
    write: &SqlitePool,
    tenant: &str,
    op_id: &str,
    status: u16,
    error_body: &Value,
) -> StoreResult<()> {
    let body = json_text(error_body)?;
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

pub(super) async fn get(
    conn: &mut SqliteConnection,
    tenant: &str,
    op_id: &str,
) -> StoreResult<Option<Operation>> {
    let row: Option<OperationRow> = sqlx::query_as(jsql::OPERATION)
        .bind(tenant)
        .bind(op_id)
        .fetch_optional(&mut *conn)
        .await?;
    first_with_steps(conn, row).await
}

pub(super) async fn by_key(
    conn: &mut SqliteConnection,
    tenant: &str,
    idem_key: &str,
) -> StoreResult<Option<Operation>> {
    let row: Option<OperationRow> = sqlx::query_as(jsql::BY_KEY)
        .bind(tenant)
        .bind(idem_key)
        .fetch_optional(&mut *conn)
        .await?;
    first_with_steps(conn, row).await
}

pub(super) async fn unfinished(read: &SqlitePool, limit: i64) -> StoreResult<Vec<Operation>> {
    let mut conn = read.acquire().await?;
    let rows: Vec<OperationRow> = sqlx::query_as(jsql::UNFINISHED)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    with_steps(&mut conn, rows).await
}

pub(super) async fn touch(write: &SqlitePool, tenant: &str, op_id: &str) -> StoreResult<i64> {
    let attempts: Option<i64> = sqlx::query_scalar(jsql::TOUCH)
        .bind(tenant)
        .bind(op_id)
        .bind(now_timestamp())
        .fetch_optional(write)
        .await?;
    attempts.ok_or(StoreError::NotFound)
}

pub(super) async fn list(
    read: &SqlitePool,
    tenant: &str,
    resource_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Operation>> {
    let mut conn = read.acquire().await?;
    let rows: Vec<OperationRow> = match resource_id {
        Some(resource_id) => {
            sqlx::query_as(jsql::LIST_FOR_RESOURCE)
                .bind(tenant)
                .bind(resource_id)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query_as(jsql::LIST)
                .bind(tenant)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    with_steps(&mut conn, rows).await
}
