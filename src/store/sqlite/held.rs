//! SQLite's side of the journal calls of the mass-removal guard (`Store::hold_operation` and
//! the rest) and of dry-run (`Store::plan_operation`, `planned_operations`,
//! `converge_planned`): each write one transaction on the single writer.

use super::exec::{Values, atomically, execute, row};
use super::reads;
use super::writes::apply;
use crate::store::columns::now_timestamp;
use crate::store::journal::{Applied, status_column};
use crate::store::{OperationState, ResourceCommit, ResourceKind, StoreError, StoreResult, sql};
use rusqlite::Connection;
use rusqlite::types::ToSql;

/// Hold a running operation (`sql::HOLD`) or finish it as planned (`sql::PLAN_ONLY`), and
/// apply its commit, in one transaction.
pub(super) fn finish_committed(
    db: &Connection,
    statement: &str,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Applied> {
    atomically(db, |db| {
        let values: &Values<'_> = &[&tenant, &op_id, &status_column(status), &now_timestamp()];
        if execute(db, statement, values)? == 0 {
            return Err(StoreError::NotFound);
        }
        apply(db, tenant, commit)
    })
}

/// Held → running, unless another operation runs on the resource (the single writer makes the
/// look and the change one step).
pub(super) fn release(db: &Connection, tenant: &str, op_id: &str) -> StoreResult<()> {
    atomically(db, |db| {
        let op = match reads::operation(db, sql::OPERATION, &[&tenant, &op_id])? {
            Some(op) if op.state == OperationState::Held => op,
            _ => return Err(StoreError::NotFound),
        };
        let on = [&tenant as &dyn ToSql, &op.resource_kind, &op.resource_id];
        if let Some(busy) = reads::operation(db, sql::RUNNING_ON, &on)? {
            return Err(StoreError::Conflict {
                attribute: "operation",
                value: busy.id,
            });
        }
        if execute(db, sql::RELEASE, &[&tenant, &op_id, &now_timestamp()])? == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    })
}

pub(super) fn discard(db: &Connection, tenant: &str, op_id: &str, note: &str) -> StoreResult<()> {
    if execute(
        db,
        sql::DISCARD,
        &[&tenant, &op_id, &note, &now_timestamp()],
    )? == 0
    {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn discard_on(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    resource_id: &str,
    note: &str,
) -> StoreResult<u64> {
    let values: &Values<'_> = &[&tenant, &kind, &resource_id, &note, &now_timestamp()];
    Ok(execute(db, sql::DISCARD_HELD_ON, values)? as u64)
}

pub(super) fn has_held_on(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    resource_id: &str,
) -> StoreResult<bool> {
    let values: &Values<'_> = &[&tenant, &kind, &resource_id];
    Ok(row(db, sql::HELD_ON, values, |r| r.flag(0))?.unwrap_or(false))
}

pub(super) fn removals_since(db: &Connection, tenant: &str, since: &str) -> StoreResult<i64> {
    Ok(row(db, sql::REMOVALS_SINCE, &[&tenant, &since], |r| r.int(0))?.unwrap_or(0))
}

pub(super) fn planned(db: &Connection, tenant: &str) -> StoreResult<(i64, i64)> {
    Ok(row(db, sql::PLANNED, &[&tenant], |r| Ok((r.int(0)?, r.int(1)?)))?.unwrap_or((0, 0)))
}

pub(super) fn converge(
    db: &Connection,
    tenant: &str,
    up_to_seq: i64,
    note: &str,
) -> StoreResult<u64> {
    let values: &Values<'_> = &[&tenant, &up_to_seq, &note, &now_timestamp()];
    Ok(execute(db, sql::CONVERGE, values)? as u64)
}
