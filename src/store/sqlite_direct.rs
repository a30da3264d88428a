//! Running the store's SQL directly on SQLite's write connection (rusqlite on the handle sqlx
//! lends out), for the group-commit writer (`sqlite_batch`). Through sqlx every statement is a
//! round trip to the connection's worker thread; with one writer those hand-offs, not SQLite,
//! bounded the journal. Here a whole batch runs on one thread, statement after statement.
//!
//! The statements are the very constants sqlx runs (`$1`, `$2`, ... parameters). SQLite numbers
//! `$NNN` parameters in order of first appearance, not by their digits, so each parameter is
//! bound by the number in its name, as sqlx does.

use super::{StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Row, Statement};

/// Bind each `$N` parameter of the statement to `values[N - 1]`; one without a value stays NULL
/// (as with sqlx).
fn bind(stmt: &mut Statement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or_default();
        let number: usize = name
            .strip_prefix('$')
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?;
        if let Some(value) = number.checked_sub(1).and_then(|i| values.get(i)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let db = Connection::open_in_memory().expect("in-memory database");
        db.execute_batch("CREATE TABLE t (a TEXT, b TEXT)")
            .expect("table");
        db
    }

    #[test]
    fn parameters_bind_by_their_number_not_their_position() {
        let db = db();
        // `$2` appears first, so SQLite gives it index 1.
        let got: Option<String> = first_row(
            &db,
            "SELECT $2 || '-' || $1 || '-' || $2",
            &[&"one", &"two"],
            |r| r.get(0),
        )
        .expect("query");
        assert_eq!(got.as_deref(), Some("two-one-two"));
    }

    #[test]
    fn unused_values_are_ignored_and_missing_ones_are_null() {
        let db = db();
        let got: Option<(Option<String>, Option<String>)> =
            first_row(&db, "SELECT $3, $1", &[&"one", &"two"], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("query");
        assert_eq!(got, Some((None, Some("one".to_string()))));
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_a_good_one_stays() {
        let db = db();
        let failed: StoreResult<()> = atomically(&db, |db| {
            execute(db, "INSERT INTO t (a, b) VALUES ($1, $2)", &[&"x", &"y"])?;
            Err(StoreError::NotFound)
        });
        assert!(matches!(failed, Err(StoreError::NotFound)));
        atomically(&db, |db| {
            execute(db, "INSERT INTO t (a, b) VALUES ($2, $1)", &[&"b", &"a"])?;
            Ok(())
        })
        .expect("write");
        let rows = all_rows(&db, "SELECT a, b FROM t", &[], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .expect("rows");
        assert_eq!(rows, vec![("a".to_string(), "b".to_string())]);
    }

    #[test]
    fn parameters_other_than_numbered_ones_are_refused() {
        let db = db();
        let refused = execute(&db, "INSERT INTO t (a) VALUES (:a)", &[&"x"]);
        assert!(matches!(
            refused,
            Err(rusqlite::Error::InvalidParameterName(name)) if name == ":a"
        ));
    }

    #[test]
    fn returning_statements_run_to_completion() {
        let db = db();
        let first: Option<String> = first_row(
            &db,
            "INSERT INTO t (a) SELECT value FROM json_each($1) RETURNING a",
            &[&r#"["p","q","r"]"#],
            |r| r.get(0),
        )
        .expect("insert");
        assert_eq!(first.as_deref(), Some("p"));
        let n: Option<i64> =
            first_row(&db, "SELECT count(*) FROM t", &[], |r| r.get(0)).expect("count");
        assert_eq!(n, Some(3));
    }
}
