//! Mapping database errors of a write onto [`StoreError`]. Uniqueness is enforced by unique
//! indexes, never by a prior read alone (two writers could both pass the read), so the unique
//! violation itself says which attribute clashed: PostgreSQL names the index, SQLite names the
//! indexed columns in its message; both contain `user_name` or `display_name`/`group_name`.

use super::StoreError;
use super::columns::Columns;

pub(crate) fn write_error(err: sqlx::Error, id: &str, cols: &Columns) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            let what = db.constraint().unwrap_or_else(|| db.message());
            return if what.contains("user_name") {
                StoreError::Conflict {
                    attribute: "userName",
                    value: cols.user_name.clone().unwrap_or_default(),
                }
            } else if what.contains("display_name") || what.contains("group_name") {
                StoreError::Conflict {
                    attribute: "displayName",
                    value: cols.display_name.clone().unwrap_or_default(),
                }
            } else {
                StoreError::Conflict {
                    attribute: "id",
                    value: id.to_owned(),
                }
            };
        }
        // Members are inserted by joining with `resources`, so this only happens when a member
        // is deleted concurrently with the insert.
        if db.is_foreign_key_violation() {
            return StoreError::UnknownMember(db.message().to_owned());
        }
    }
    StoreError::Database(err)
}

/// Errors of a membership insert: see the note on foreign keys above.
pub(crate) fn membership_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::UnknownMember(db.message().to_owned())
        }
        _ => StoreError::Database(err),
    }
}

/// Errors of inserting a plan: a step index already taken by a recorded step, or an operation
/// that does not exist (the steps' foreign key).
pub(crate) fn plan_error(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                attribute: "step",
                value: db.message().to_owned(),
            };
        }
        if db.is_foreign_key_violation() {
            return StoreError::NotFound;
        }
    }
    StoreError::Database(err)
}
