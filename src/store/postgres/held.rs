//! PostgreSQL's side of the journal calls of the mass-removal guard (`Store::hold_operation`
//! and the rest) and of dry-run (`Store::plan_operation`, `planned_operations`,
//! `converge_planned`).

use super::journal;
use super::writes::apply;
use crate::store::columns::now_timestamp;
use crate::store::journal::{Applied, status_column};
use crate::store::rows::Row;
use crate::store::{OperationState, ResourceCommit, ResourceKind, StoreError, StoreResult, sql};
use sqlx::PgPool;
use sqlx::postgres::PgConnection;

/// Hold a running operation (`sql::HOLD`) or finish it as planned (`sql::PLAN_ONLY`), and
/// apply its commit; `conn` is a transaction. The UPDATE row-locks the operation, so two
/// servers cannot both finish it.
pub(super) async fn finish_committed(
    conn: &mut PgConnection,
    statement: &'static str,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Applied> {
    let held = sqlx::query(statement)
        .bind(tenant)
        .bind(op_id)
        .bind(status_column(status))
        .bind(now_timestamp())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if held == 0 {
        return Err(StoreError::NotFound);
    }
    apply(conn, tenant, commit).await
}

/// Held → running. The unique index on running operations decides a race with another server;
/// the look before it names the operation that holds the resource.
pub(super) async fn release(conn: &mut PgConnection, tenant: &str, op_id: &str) -> StoreResult<()> {
    let op = match journal::one(conn, sql::OPERATION, tenant, op_id).await? {
        Some(op) if op.state == OperationState::Held => op,
        _ => return Err(StoreError::NotFound),
    };
    let busy = sqlx::query(sql::RUNNING_ON)
        .bind(tenant)
        .bind(op.resource_kind.as_str())
        .bind(&op.resource_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(busy) = busy {
        return Err(StoreError::Conflict {
            attribute: "operation",
            value: busy.text(2)?,
        });
    }
    let released = sqlx::query(sql::RELEASE)
        .bind(tenant)
        .bind(op_id)
        .bind(now_timestamp())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if released == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn discard(
    pool: &PgPool,
    tenant: &str,
    op_id: &str,
    note: &str,
) -> StoreResult<()> {
    let discarded = sqlx::query(sql::DISCARD)
        .bind(tenant)
        .bind(op_id)
        .bind(note)
        .bind(now_timestamp())
        .execute(pool)
        .await?
        .rows_affected();
    if discarded == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn discard_on(
    pool: &PgPool,
    tenant: &str,
    kind: ResourceKind,
    resource_id: &str,
    note: &str,
) -> StoreResult<u64> {
    Ok(sqlx::query(sql::DISCARD_HELD_ON)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(resource_id)
        .bind(note)
        .bind(now_timestamp())
        .execute(pool)
        .await?
        .rows_affected())
}

pub(super) async fn has_held_on(
    pool: &PgPool,
    tenant: &str,
    kind: ResourceKind,
    resource_id: &str,
) -> StoreResult<bool> {
    let row = sqlx::query(sql::HELD_ON)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(resource_id)
        .fetch_one(pool)
        .await?;
    row.flag(0)
}

pub(super) async fn removals_since(pool: &PgPool, tenant: &str, since: &str) -> StoreResult<i64> {
    let row = sqlx::query(sql::REMOVALS_SINCE)
        .bind(tenant)
        .bind(since)
        .fetch_one(pool)
        .await?;
    row.int(0)
}

pub(super) async fn planned(pool: &PgPool, tenant: &str) -> StoreResult<(i64, i64)> {
    let row = sqlx::query(sql::PLANNED)
        .bind(tenant)
        .fetch_one(pool)
        .await?;
    Ok((row.int(0)?, row.int(1)?))
}

pub(super) async fn converge(
    pool: &PgPool,
    tenant: &str,
    up_to_seq: i64,
    note: &str,
) -> StoreResult<u64> {
    Ok(sqlx::query(sql::CONVERGE)
        .bind(tenant)
        .bind(up_to_seq)
        .bind(note)
        .bind(now_timestamp())
        .execute(pool)
        .await?
        .rows_affected())
}
