//! Mapping database errors of a write onto [`StoreError`]. Uniqueness is enforced by unique
//! indexes, never by a prior read alone (two writers could both pass the read), so the unique
//! violation itself says which attribute clashed: PostgreSQL names the index, SQLite names the
//! indexed columns in its message; both contain `user_name` or `display_name`/`group_name`.
//!
//! Errors come from sqlx (PostgreSQL) or rusqlite (SQLite); each driver's error says what it
//! violated ([`DriverError::violation`]), and the mapping below is written once for both.

use super::StoreError;
use super::columns::ResourceValues;

/// What a failed write violated, with the index name or message that says which one.
pub(crate) enum Violation {
    Unique(String),
    ForeignKey(String),
    Other,
}

/// An error of either driver.
pub(crate) trait DriverError: Into<StoreError> {
    fn violation(&self) -> Violation;
}

impl DriverError for sqlx::Error {
    fn violation(&self) -> Violation {
        match self {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Violation::Unique(db.constraint().unwrap_or_else(|| db.message()).to_owned())
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                Violation::ForeignKey(db.message().to_owned())
            }
            _ => Violation::Other,
        }
    }
}

impl DriverError for rusqlite::Error {
    fn violation(&self) -> Violation {
        use rusqlite::ffi;
        match self {
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

/// An error already mapped (a driver error it wraps is looked into).
impl DriverError for StoreError {
    fn violation(&self) -> Violation {
        match self {
            StoreError::Database(e) => e.violation(),
            StoreError::Sqlite(e) => e.violation(),
            _ => Violation::Other,
        }
    }
}

/// Errors of inserting or updating a resource row.
pub(crate) fn resource_write<E: DriverError>(
    values: &ResourceValues<'_>,
) -> impl FnOnce(E) -> StoreError {
    move |err| match err.violation() {
        Violation::Unique(what) if what.contains("tableau_luid") => StoreError::Conflict {
            attribute: "tableauLuid",
            value: values.tableau_luid.unwrap_or_default().to_owned(),
        },
        Violation::Unique(what) if what.contains("user_name") => StoreError::Conflict {
            attribute: "userName",
            value: values.cols.user_name.clone().unwrap_or_default(),
        },
        Violation::Unique(what) if what.contains("display_name") || what.contains("group_name") => {
            StoreError::Conflict {
                attribute: "displayName",
                value: values.cols.display_name.clone().unwrap_or_default(),
            }
        }
        Violation::Unique(_) => StoreError::Conflict {
            attribute: "id",
            value: values.id.to_owned(),
        },
        // Members are inserted by joining with `resources`, so this only happens when a member
        // is deleted concurrently with the insert.
        Violation::ForeignKey(message) => StoreError::UnknownMember(message),
        Violation::Other => err.into(),
    }
}

/// Errors of setting a resource's Tableau LUID: one LUID belongs to at most one resource.
pub(crate) fn set_luid<E: DriverError>(luid: Option<&str>) -> impl FnOnce(E) -> StoreError + '_ {
    move |err| match err.violation() {
        Violation::Unique(_) => StoreError::Conflict {
            attribute: "tableauLuid",
            value: luid.unwrap_or_default().to_owned(),
        },
        _ => err.into(),
    }
}

/// Errors of a membership insert: see the note on foreign keys above.
pub(crate) fn membership<E: DriverError>(err: E) -> StoreError {
    match err.violation() {
        Violation::ForeignKey(message) => StoreError::UnknownMember(message),
        _ => err.into(),
    }
}

/// Errors of inserting a plan: a step index already taken by a recorded step, or an operation
/// that does not exist (the steps' foreign key).
pub(crate) fn plan<E: DriverError>(err: E) -> StoreError {
    match err.violation() {
        Violation::Unique(message) => StoreError::Conflict {
            attribute: "step",
            value: message,
        },
        Violation::ForeignKey(_) => StoreError::NotFound,
        Violation::Other => err.into(),
    }
}
