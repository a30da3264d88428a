//! SQLite's side of the admin console's reads and the refused requests (`store::console`).

use super::exec::{execute, rows};
use crate::store::console::{
    COUNTS_SINCE, FilterValues, INSERT_REFUSAL, PRUNE_REFUSALS, Refusal, SEARCH_OPERATIONS,
    SEARCH_REFUSALS, count, refusal,
};
use crate::store::journal::json_text;
use crate::store::{NewRefusal, Operation, StoreResult, rows as map};
use rusqlite::Connection;
use rusqlite::types::ToSql;

fn bound(v: &FilterValues) -> [&dyn ToSql; 9] {
    [
        &v.tenant,
        &v.state,
        &v.kind,
        &v.pattern,
        &v.since,
        &v.until,
        &v.text,
        &v.before_seq,
        &v.limit,
    ]
}

pub(super) fn search_operations(db: &Connection, v: &FilterValues) -> StoreResult<Vec<Operation>> {
    rows(db, SEARCH_OPERATIONS, &bound(v), map::operation)
}

pub(super) fn search_refusals(db: &Connection, v: &FilterValues) -> StoreResult<Vec<Refusal>> {
    rows(db, SEARCH_REFUSALS, &bound(v), refusal)
}

pub(super) fn counts_since(
    db: &Connection,
    tenant: &str,
    since: &str,
) -> StoreResult<Vec<(String, i64)>> {
    rows(db, COUNTS_SINCE, &[&tenant, &since], count)
}

pub(super) fn record_refusal(db: &Connection, r: &NewRefusal, now: &str) -> StoreResult<()> {
    let body = r.request_body.as_ref().map(json_text).transpose()?;
    let error = json_text(&r.error_body)?;
    let kind = r.resource_kind.map(|k| k.as_str());
    execute(
        db,
        INSERT_REFUSAL,
        &[
            &r.tenant,
            &now,
            &r.request_id,
            &r.principal,
            &r.method,
            &r.path,
            &kind,
            &r.resource_name,
            &body,
            &i64::from(r.status),
            &error,
        ],
    )?;
    Ok(())
}

pub(super) fn prune_refusals(db: &Connection, before: &str, limit: i64) -> StoreResult<u64> {
    Ok(execute(db, PRUNE_REFUSALS, &[&before, &limit])? as u64)
}
