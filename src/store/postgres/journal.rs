//! The operation journal on PostgreSQL. Opening an operation (its row and its whole plan) and
//! recording a step (with the operation's progress) are one statement each, so the hot path
//! pays no BEGIN/COMMIT round trips; completing is one transaction with the resource change
//! (`writes::apply`).

use super::sql::{INSERT_STEPS, OPEN, RECORD_STEP, STEPS_OF};
use super::writes::apply;
use crate::store::columns::now_timestamp;
use crate::store::errors;
use crate::store::journal::{
    Applied, PlanColumns, id_taken, json_text, opened, status_column, step_times, unexplained,
};
use crate::store::rows::{self, Row};
use crate::store::{
    NewOperation, Opened, Operation, OperationState, PlannedStep, ResourceCommit, StepOutcome,
    StoreError, StoreResult, sql,
};
use sqlx::postgres::{PgConnection, PgRow};

/// How often `open` tries again when the operation that refused it finished before it could be
/// read (a race between servers; once is nearly always enough).
const OPEN_ATTEMPTS: usize = 5;

/// Operations from their rows, with their steps (one more query, whatever their number).
pub(super) async fn with_steps(
    conn: &mut PgConnection,
    rows: Vec<PgRow>,
) -> StoreResult<Vec<Operation>> {
    let mut operations: Vec<Operation> = rows
        .iter()
        .map(|row| rows::operation(row))
        .collect::<StoreResult<_>>()?;
    if operations.is_empty() {
        return Ok(operations);
    }
    let tenants: Vec<&str> = operations.iter().map(|op| op.tenant.as_str()).collect();
    let ids: Vec<&str> = operations.iter().map(|op| op.id.as_str()).collect();
    let steps = sqlx::query(STEPS_OF)
        .bind(&tenants)
        .bind(&ids)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| rows::step(row))
        .collect::<StoreResult<_>>()?;
    rows::attach_steps(&mut operations, steps);
    Ok(operations)
}

/// The operation of a row, if any, with its steps.
async fn first_with_steps(
    conn: &mut PgConnection,
    row: Option<PgRow>,
) -> StoreResult<Option<Operation>> {
    Ok(with_steps(conn, row.into_iter().collect())
        .await?
        .into_iter()
        .next())
}

/// One operation by id, or by key (`sql::OPERATION`, `sql::BY_KEY`: tenant and id or key).
pub(super) async fn one(
    conn: &mut PgConnection,
    sql: &'static str,
    tenant: &str,
    id_or_key: &str,
) -> StoreResult<Option<Operation>> {
    let row = sqlx::query(sql)
        .bind(tenant)
        .bind(id_or_key)
        .fetch_optional(&mut *conn)
        .await?;
    first_with_steps(conn, row).await
}

pub(super) async fn open(
    conn: &mut PgConnection,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Opened> {
    let intent = json_text(&op.intent)?;
    let request_body = op.request_body.as_ref().map(json_text).transpose()?;
    let columns = PlanColumns::new(plan)?;
    for _ in 0..OPEN_ATTEMPTS {
        let now = now_timestamp();
        let seq = sqlx::query(OPEN)
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
            .bind(&op.claimed_name)
            .bind(&op.request_id)
            .bind(&request_body)
            .bind(&op.resource_name)
            .bind(&columns.idx)
            .bind(&columns.kind)
            .bind(&columns.description)
            .bind(op.removals)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(seq) = seq {
            return Ok(Opened::Created(opened(op, seq.int(0)?, &now, plan)));
        }
        if let Some(refused) = refusal(conn, op).await? {
            return refused;
        }
    }
    Err(unexplained(op))
}

/// Which unique index refused a new operation, in the order `Store::open_operation` gives;
/// `None` when the operation that refused it has finished since (another server): try again.
async fn refusal(
    conn: &mut PgConnection,
    op: &NewOperation,
) -> StoreResult<Option<StoreResult<Opened>>> {
    if let Some(found) = one(conn, sql::BY_KEY, &op.tenant, &op.idem_key).await? {
        return Ok(Some(Ok(Opened::SameKey(found))));
    }
    let busy = sqlx::query(sql::RUNNING_ON)
        .bind(&op.tenant)
        .bind(op.resource_kind.as_str())
        .bind(&op.resource_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(found) = first_with_steps(conn, busy).await? {
        return Ok(Some(Ok(Opened::ResourceBusy(found))));
    }
    if let Some(name) = &op.claimed_name {
        let claim = sqlx::query(sql::RUNNING_CLAIM)
            .bind(&op.tenant)
            .bind(op.resource_kind.as_str())
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(found) = first_with_steps(conn, claim).await? {
            return Ok(Some(Ok(Opened::ResourceBusy(found))));
        }
    }
    let taken = sqlx::query(sql::OPERATION_TAKEN)
        .bind(&op.tenant)
        .bind(&op.id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(taken.map(|_| Err(id_taken(op))))
}

pub(super) async fn record_step(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    idx: i64,
    outcome: &StepOutcome,
) -> StoreResult<()> {
    let (started, finished) = step_times(outcome);
    let calls = outcome.calls.as_ref().map(json_text).transpose()?;
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
        .bind(calls)
        .execute(conn)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replace the steps still pending from `from_idx` on, in one transaction (`conn` is one).
pub(super) async fn replace_plan(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    from_idx: i64,
    steps: &[PlannedStep],
) -> StoreResult<()> {
    sqlx::query(sql::DELETE_PENDING_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(from_idx)
        .execute(&mut *conn)
        .await?;
    if steps.is_empty() {
        return Ok(());
    }
    let columns = PlanColumns::new(steps)?;
    sqlx::query(INSERT_STEPS)
        .bind(tenant)
        .bind(op_id)
        .bind(&columns.idx)
        .bind(&columns.kind)
        .bind(&columns.description)
        .execute(conn)
        .await
        .map_err(errors::plan)?;
    Ok(())
}

/// End a running operation as succeeded and apply its resource change, in one transaction
/// (`conn` is one). The UPDATE of the operation also row-locks it, so two servers cannot both
/// complete it.
pub(super) async fn complete(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Applied> {
    finish(conn, tenant, op_id, OperationState::Succeeded, status, None).await?;
    apply(conn, tenant, commit).await
}

/// End a running operation (see `sql::FINISH`); `NotFound` unless it was running.
pub(super) async fn finish(
    conn: &mut PgConnection,
    tenant: &str,
    op_id: &str,
    state: OperationState,
    status: u16,
    error_body: Option<String>,
) -> StoreResult<()> {
    let finished = sqlx::query(sql::FINISH)
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

/// Count one more attempt of a running operation; its new count, or `NotFound`.
pub(super) async fn touch(conn: &mut PgConnection, tenant: &str, op_id: &str) -> StoreResult<i64> {
    let attempts = sqlx::query(sql::TOUCH)
        .bind(tenant)
        .bind(op_id)
        .bind(now_timestamp())
        .fetch_optional(conn)
        .await?;
    attempts.ok_or(StoreError::NotFound)?.int(0)
}
