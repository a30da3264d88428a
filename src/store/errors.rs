//! Mapping database errors of a write onto [`StoreError`]. Uniqueness is enforced by unique
//! indexes, never by a prior read alone (two writers could both pass the read), so the unique
//! violation itself says which attribute clashed: PostgreSQL names the index, SQLite names the
//! indexed columns in its message; both contain `user_name` or `display_name`/`group_name`.
//!
//! Errors come from sqlx (both backends) or from rusqlite (SQLite's group-commit writer, see
//! `sqlite_direct`); each is first classified into a [`Violation`], then mapped once.

use super::StoreError;
use super::columns::Columns;

/// What a failed write violated, with the index name or message that says which one.
pub(crate) enum Violation {
    Unique(String),
    ForeignKey(String),
    Other,
}

impl Violation {
    pub(crate) fn of_sqlx(err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Violation::Unique(db.constraint().unwrap_or_else(|| db.message()).to_owned())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                Violation::ForeignKey(db.message().to_owned())
            }
            _ => Violation::Other,
        }
    }

    pub(crate) fn of_sqlite(err: &rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match err {
            rusqlite::Error::SqliteFailure(e, message) => {
                let message = message.clone().unwrap_or_else(|| e.to_string());
                match e.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        Violation::Unique(message)
                    }
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Violation::ForeignKey(message),
                    _ => Violation::Other,
                }
            }
            _ => Violation::Other,
        }
    }
}

/// Errors of a resource write; `other` is the error as it came, for anything else.
pub(crate) fn write_violation(
    violation: Violation,
    id: &str,
    cols: &Columns,
    other: StoreError,
) -> StoreError {
    match violation {
        Violation::Unique(what) if what.contains("user_name") => StoreError::Conflict {
            attribute: "userName",
            value: cols.user_name.clone().unwrap_or_default(),
        },
        Violation::Unique(what) if what.contains("display_name") || what.contains("group_name") => {
            StoreError::Conflict {
                attribute: "displayName",
                value: cols.display_name.clone().unwrap_or_default(),
            }
        }
        Violation::Unique(_) => StoreError::Conflict {
            attribute: "id",
            value: id.to_owned(),
        },
        // Members are inserted by joining with `resources`, so this only happens when a member
        // is deleted concurrently with the insert.
        Violation::ForeignKey(message) => StoreError::UnknownMember(message),
        Violation::Other => other,
    }
}

pub(crate) fn write_error(err: sqlx::Error, id: &str, cols: &Columns) -> StoreError {
    write_violation(
        Violation::of_sqlx(&err),
        id,
        cols,
        StoreError::Database(err),
    )
}

/// Errors of a membership insert: see the note on foreign keys above.
pub(crate) fn membership_violation(violation: Violation, other: StoreError) -> StoreError {
    match violation {
        Violation::ForeignKey(message) => StoreError::UnknownMember(message),
        _ => other,
    }
}

pub(crate) fn membership_error(err: sqlx::Error) -> StoreError {
    membership_violation(Violation::of_sqlx(&err), StoreError::Database(err))
}

/// Errors of inserting a plan: a step index already taken by a recorded step, or an operation
/// that does not exist (the steps' foreign key).
pub(crate) fn plan_violation(violation: Violation, other: StoreError) -> StoreError {
    match violation {
        Violation::Unique(message) => StoreError::Conflict {
            attribute: "step",
            value: message,
        },
        Violation::ForeignKey(_) => StoreError::NotFound,
        Violation::Other => other,
    }
}

pub(crate) fn plan_error(err: sqlx::Error) -> StoreError {
    plan_violation(Violation::of_sqlx(&err), StoreError::Database(err))
}
