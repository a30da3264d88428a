//! Running the store's SQL directly on SQLite's write connection (rusqlite on the handle sqlx
//! lends out), for the group-commit writer (`sqlite_batch`). Through sqlx every statement is a
//! round trip to the connection's worker thread; with one writer those hand-offs, not SQLite,
//! bounded the journal. Here a whole batch runs on one thread, statement after statement.
//!
//! The statements are the very constants sqlx runs (`$1`, `$2`, ... parameters). SQLite numbers
//! `$NNN` parameters in order of first appearance, not by their digits, so values are bound by
//! name, as sqlx does.

use super::{StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Row, Statement};

/// Bind `values[i]` to `$i+1` wherever the statement uses it.
fn bind(stmt: &mut Statement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for (i, value) in values.iter().enumerate() {
        if let Some(index) = stmt.parameter_index(&format!("${}", i + 1))? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// Run a statement; the number of rows it changed.
pub(super) fn execute(
    db: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> rusqlite::Result<usize> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

/// The first row a statement returns (INSERT/UPDATE ... RETURNING, SELECT), mapped.
pub(super) fn first_row<T>(
    db: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let first = match rows.next()? {
        Some(row) => Some(map(row)?),
        None => None,
    };
    // Step a RETURNING statement to its end, so that all its rows are written.
    while rows.next()?.is_some() {}
    Ok(first)
}

/// Every row a statement returns, mapped.
pub(super) fn all_rows<T>(
    db: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Run `write` in a savepoint: its statements stay only if it succeeds, whatever else the
/// batch's transaction holds.
pub(super) fn atomically<T>(
    db: &Connection,
    write: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    execute(db, "SAVEPOINT write", &[])?;
    match write(db) {
        Ok(value) => {
            execute(db, "RELEASE write", &[])?;
            Ok(value)
        }
        Err(e) => {
            // Undo this write's statements; the savepoint must go whatever happens.
            let undone = execute(db, "ROLLBACK TO write", &[]);
            execute(db, "RELEASE write", &[])?;
            undone.map_err(StoreError::from)?;
            Err(e)
        }
    }
}
