//! Running the store's SQL on a rusqlite connection (the writer's or a reader's): statements
//! prepared once per connection and kept (`prepare_cached`; both kinds of connection live as
//! long as the store), rows read through `rows::Row`, savepoints for writes and read
//! transactions for reads of several statements.
//!
//! The statements are those PostgreSQL runs too (`$1`, `$2`, ... parameters). SQLite numbers
//! `$NNN` parameters in order of first appearance, not by their digits, so each parameter is
//! bound by the number in its name.

use crate::store::rows;
use crate::store::{StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{Connection, Statement};

/// Parameter values, `$1` first.
pub(super) type Values<'a> = [&'a dyn ToSql];

/// Bind each `$N` parameter of the statement to `values[N - 1]`; one without a value stays NULL
/// (as with sqlx).
fn bind(stmt: &mut Statement<'_>, values: &Values<'_>) -> rusqlite::Result<()> {
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
pub(super) fn execute(db: &Connection, sql: &str, values: &Values<'_>) -> rusqlite::Result<usize> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

/// Every row a statement returns, each read by `map` (one of the `rows` functions, or a column
/// of `rows::Row`).
pub(super) fn rows<T>(
    db: &Connection,
    sql: &str,
    values: &Values<'_>,
    map: impl Fn(&dyn rows::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(&SqliteRow(row))?);
    }
    Ok(out)
}

/// The first row a statement returns (SELECT, or INSERT/UPDATE ... RETURNING), read as in
/// [`rows`].
pub(super) fn row<T>(
    db: &Connection,
    sql: &str,
    values: &Values<'_>,
    map: impl FnOnce(&dyn rows::Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = db.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    let first = match rows.next()? {
        Some(row) => Some(map(&SqliteRow(row))?),
        None => None,
    };
    // Step a RETURNING statement to its end, so that all its rows are written.
    while rows.next()?.is_some() {}
    Ok(first)
}

/// A rusqlite row as `rows` reads it.
pub(super) struct SqliteRow<'r, 's>(&'r rusqlite::Row<'s>);

impl rows::Row for SqliteRow<'_, '_> {
    fn text(&self, i: usize) -> StoreResult<String> {
        Ok(self.0.get(i)?)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.0.get(i)?)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        Ok(self.0.get(i)?)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.0.get(i)?)
    }
    fn flag(&self, i: usize) -> StoreResult<bool> {
        Ok(self.0.get(i)?)
    }
}

/// Ids as a JSON array, the form SQLite's `json_each` takes a list in.
pub(super) fn json_array<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    // Serialising strings cannot fail.
    serde_json::to_string(&items).unwrap_or_else(|_| String::from("[]"))
}

/// Run `read`, a read of several statements, in a read transaction, so that all of them see
/// one state of the database. On the writer, inside its batch, the batch's transaction is that
/// already.
pub(super) fn snapshot<T>(
    db: &Connection,
    read: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    if !db.is_autocommit() {
        return read(db);
    }
    execute(db, "BEGIN", &[])?;
    let result = read(db);
    // Nothing to commit: ending the transaction is what matters, whatever `read` answered.
    let ended = execute(db, "COMMIT", &[]);
    let value = result?;
    ended?;
    Ok(value)
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
    use crate::store::rows::Row;

    fn db() -> Connection {
        let db = Connection::open_in_memory().expect("in-memory database");
        db.execute_batch("CREATE TABLE t (a TEXT, b TEXT)")
            .expect("table");
        db
    }

    fn pair(r: &dyn Row) -> StoreResult<(Option<String>, Option<String>)> {
        Ok((r.opt_text(0)?, r.opt_text(1)?))
    }

    #[test]
    fn parameters_bind_by_their_number_not_their_position() {
        let db = db();
        // `$2` appears first, so SQLite gives it index 1.
        let got = row(
            &db,
            "SELECT $2 || '-' || $1 || '-' || $2",
            &[&"one", &"two"],
            |r| r.text(0),
        )
        .expect("query");
        assert_eq!(got.as_deref(), Some("two-one-two"));
    }

    #[test]
    fn unused_values_are_ignored_and_missing_ones_are_null() {
        let db = db();
        let got = row(&db, "SELECT $3, $1", &[&"one", &"two"], pair).expect("query");
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
        let rows = rows(&db, "SELECT a, b FROM t", &[], pair).expect("rows");
        assert_eq!(rows, vec![(Some("a".to_string()), Some("b".to_string()))]);
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
        let first = row(
            &db,
            "INSERT INTO t (a) SELECT value FROM json_each($1) RETURNING a",
            &[&r#"["p","q","r"]"#],
            |r| r.text(0),
        )
        .expect("insert");
        assert_eq!(first.as_deref(), Some("p"));
        let n = row(&db, "SELECT count(*) FROM t", &[], |r| r.int(0)).expect("count");
        assert_eq!(n, Some(3));
    }

    #[test]
    fn a_snapshot_ends_its_transaction_whatever_the_read_answers() {
        let db = db();
        let failed: StoreResult<()> = snapshot(&db, |_| Err(StoreError::NotFound));
        assert!(matches!(failed, Err(StoreError::NotFound)));
        assert!(db.is_autocommit());
        let n = snapshot(&db, |db| {
            row(db, "SELECT count(*) FROM t", &[], |r| r.int(0))
        });
        assert_eq!(n.expect("read"), Some(0));
        assert!(db.is_autocommit());
    }
}
