//! SQLite's migrations: the files of `migrations/sqlite`, compiled in, applied in version order,
//! each in a transaction of its own together with its record in `schema_migrations` (version,
//! description, SHA-384 checksum of its text, when it was applied). A migration already applied
//! must have the checksum recorded for it, and a database that records a version this build
//! does not know (migrated by a newer version) is refused.
//!
//! Databases created by earlier versions were migrated by sqlx, which recorded the same files
//! (same versions, same checksums) in `_sqlx_migrations`: the first time such a database is
//! opened, its successful versions are carried over into `schema_migrations` (sqlx's table is
//! left as it was). A migration sqlx recorded as failed stops the start-up.

use crate::store::columns::now_timestamp;
use crate::store::{MigrationState, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha384};

struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// Every file of `migrations/sqlite`, in version order (a test checks that none is missing).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "resources",
        sql: include_str!("../../../migrations/sqlite/0001_resources.sql"),
    },
    Migration {
        version: 2,
        description: "journal",
        sql: include_str!("../../../migrations/sqlite/0002_journal.sql"),
    },
    Migration {
        version: 3,
        description: "journal retention",
        sql: include_str!("../../../migrations/sqlite/0003_journal_retention.sql"),
    },
    Migration {
        version: 5,
        description: "unique luid",
        sql: include_str!("../../../migrations/sqlite/0005_unique_luid.sql"),
    },
    Migration {
        version: 6,
        description: "name claim",
        sql: include_str!("../../../migrations/sqlite/0006_name_claim.sql"),
    },
    Migration {
        version: 7,
        description: "resource counts",
        sql: include_str!("../../../migrations/sqlite/0007_resource_counts.sql"),
    },
    Migration {
        version: 8,
        description: "request id",
        sql: include_str!("../../../migrations/sqlite/0008_request_id.sql"),
    },
    Migration {
        version: 9,
        description: "mass removal guard",
        sql: include_str!("../../../migrations/sqlite/0009_mass_removal_guard.sql"),
    },
    Migration {
        version: 10,
        description: "dry run",
        sql: include_str!("../../../migrations/sqlite/0010_dry_run.sql"),
    },
    Migration {
        version: 11,
        description: "console",
        sql: include_str!("../../../migrations/sqlite/0011_console.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE schema_migrations (\
     version INTEGER PRIMARY KEY, description TEXT NOT NULL, checksum BLOB NOT NULL, \
     applied TEXT NOT NULL)";

/// The versions sqlx applied successfully, as `schema_migrations` rows.
const CARRY_OVER: &str = "INSERT INTO schema_migrations (version, description, checksum, applied) \
     SELECT version, description, checksum, CAST(installed_on AS TEXT) FROM _sqlx_migrations \
     WHERE success";

fn failed(version: i64, why: impl std::fmt::Display) -> StoreError {
    StoreError::Migration(format!("SQLite migration {version}: {why}").into())
}

fn checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql).to_vec()
}

/// What this build's migrations find in the database at `path`; the file is opened read-only and
/// nothing is changed (for `tableau-scim check`).
pub(crate) fn pending(path: &std::path::Path) -> StoreResult<MigrationState> {
    let db = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let table = if table_exists(&db, "schema_migrations")? {
        "SELECT version, checksum FROM schema_migrations"
    } else if table_exists(&db, "_sqlx_migrations")? {
        "SELECT version, checksum FROM _sqlx_migrations WHERE success"
    } else {
        return Ok(MigrationState::compare(
            MIGRATIONS.iter().map(|m| (m.version, checksum(m.sql))),
            Vec::new(),
        ));
    };
    let mut stmt = db.prepare(table)?;
    let applied: Vec<(i64, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(MigrationState::compare(
        MIGRATIONS.iter().map(|m| (m.version, checksum(m.sql))),
        applied,
    ))
}

/// Bring the database up to date. Two servers starting on one file at once migrate it once:
/// each step takes the write lock (`BEGIN IMMEDIATE`) and looks again inside it.
pub(super) fn run(db: &mut Connection) -> StoreResult<()> {
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !table_exists(&tx, "schema_migrations")? {
        tx.execute_batch(CREATE_TABLE)?;
        if table_exists(&tx, "_sqlx_migrations")? {
            carry_over(&tx)?;
        }
    }
    tx.commit()?;
    refuse_unknown(db)?;
    for migration in MIGRATIONS {
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded: Option<Vec<u8>> = tx
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |r| r.get(0),
            )
            .optional()?;
        match recorded {
            Some(recorded) if recorded == checksum(migration.sql) => continue,
            Some(_) => {
                return Err(failed(
                    migration.version,
                    "was applied from a different text than this version's \
                     (its file was edited after release)",
                ));
            }
            None => {}
        }
        tx.execute_batch(migration.sql)
            .map_err(|e| failed(migration.version, e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, checksum, applied) \
             VALUES (?1, ?2, ?3, ?4)",
            (
                migration.version,
                migration.description,
                checksum(migration.sql),
                now_timestamp(),
            ),
        )?;
        tx.commit()?;
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "SQLite migration applied"
        );
    }
    Ok(())
}

fn table_exists(db: &Connection, name: &str) -> StoreResult<bool> {
    let found: Option<i64> = db
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Carry sqlx's record over (see the module's note), refusing a migration it left failed.
fn carry_over(db: &Connection) -> StoreResult<()> {
    let dirty: Option<i64> = db
        .query_row(
            "SELECT version FROM _sqlx_migrations WHERE NOT success ORDER BY version LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(version) = dirty {
        return Err(failed(
            version,
            "an earlier version recorded it as failed (in `_sqlx_migrations`); restore the \
             database from a backup",
        ));
    }
    let carried = db.execute(CARRY_OVER, [])?;
    tracing::info!(
        migrations = carried,
        "SQLite migrations recorded by an earlier version carried over"
    );
    Ok(())
}

/// A recorded version this build does not know: the database was migrated by a newer version.
fn refuse_unknown(db: &Connection) -> StoreResult<()> {
    let mut stmt = db.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let recorded = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    for version in recorded {
        let version = version?;
        if !MIGRATIONS.iter().any(|m| m.version == version) {
            return Err(failed(
                version,
                "is recorded in this database but unknown to this version of tableau-scim \
                 (a newer version migrated it)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(db: &Connection) -> Vec<i64> {
        let mut stmt = db
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("versions")
    }

    /// Migration 5 on a database whose earlier version linked one LUID to two resources: the
    /// first keeps it, the other is unlinked, and the index then refuses a second holder.
    #[test]
    fn duplicate_luids_are_cut_before_the_unique_index() {
        let mut db = Connection::open_in_memory().expect("db");
        db.execute_batch(CREATE_TABLE).expect("table");
        for m in MIGRATIONS.iter().filter(|m| m.version < 5) {
            db.execute_batch(m.sql).expect("old migration");
            db.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, ?3, 'then')",
                (m.version, m.description, checksum(m.sql)),
            )
            .expect("record");
        }
        let insert = "INSERT INTO resources (tenant, id, kind, doc, user_name, user_name_lower, \
             created, last_modified, revision, tableau_luid) \
             VALUES (?1, ?2, 'User', '{}', ?2, ?2, 'now', 'now', 1, ?3)";
        for (tenant, id, luid) in [
            ("t", "first", "L"),
            ("t", "second", "L"),
            ("t", "third", "M"),
            ("u", "other-tenant", "L"),
        ] {
            db.execute(insert, (tenant, id, luid)).expect("row");
        }
        run(&mut db).expect("migrated");
        let luid = |tenant: &str, id: &str| -> Option<String> {
            db.query_row(
                "SELECT tableau_luid FROM resources WHERE tenant = ?1 AND id = ?2",
                [tenant, id],
                |r| r.get(0),
            )
            .expect("row")
        };
        assert_eq!(luid("t", "first").as_deref(), Some("L"));
        assert_eq!(luid("t", "second"), None);
        assert_eq!(luid("t", "third").as_deref(), Some("M"));
        assert_eq!(luid("u", "other-tenant").as_deref(), Some("L"));
        let again = db.execute(
            "UPDATE resources SET tableau_luid = 'L' WHERE tenant = 't' AND id = 'second'",
            [],
        );
        assert!(again.is_err(), "the unique index refuses a second holder");
    }

    /// Migration 9 rebuilds the journal's tables (a new CHECK on `state`): operations and
    /// their steps survive, the foreign key still cascades, and `seq` is never reused.
    #[test]
    fn the_journal_rebuild_keeps_operations_steps_and_seq() {
        let mut db = Connection::open_in_memory().expect("db");
        db.pragma_update(None, "foreign_keys", "ON").expect("fk");
        db.execute_batch(CREATE_TABLE).expect("table");
        for m in MIGRATIONS.iter().filter(|m| m.version < 9) {
            db.execute_batch(m.sql).expect("old migration");
            db.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, ?3, 'then')",
                (m.version, m.description, checksum(m.sql)),
            )
            .expect("record");
        }
        let op = "INSERT INTO operations (tenant, id, explicit_key, principal, method, path, \
             digest, resource_kind, resource_id, intent, state, attempts, created, updated) \
             VALUES ('t', ?1, 0, 'p', 'PATCH', '/x', 'd', 'User', ?1, '{}', 'succeeded', 1, \
             'now', 'now')";
        for id in ["kept", "pruned"] {
            db.execute(op, [id]).expect("operation");
            db.execute(
                "INSERT INTO operation_steps (tenant, operation_id, idx, kind, description, \
                 state) VALUES ('t', ?1, 0, 'RemoveUser', '{}', 'done')",
                [id],
            )
            .expect("step");
        }
        db.execute("DELETE FROM operations WHERE id = 'pruned'", [])
            .expect("prune");
        run(&mut db).expect("migrated");
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect("count") };
        assert_eq!(count("SELECT count(*) FROM operation_steps"), 1);
        db.execute(op, ["new"]).expect("a new operation");
        assert_eq!(count("SELECT seq FROM operations WHERE id = 'new'"), 3);
        db.execute(
            "UPDATE operations SET state = 'held', removals = 1 WHERE id = 'new'",
            [],
        )
        .expect("the new state is allowed");
        db.execute("DELETE FROM operations WHERE id = 'kept'", [])
            .expect("delete");
        assert_eq!(
            count("SELECT count(*) FROM operation_steps"),
            0,
            "the cascade"
        );
        let fk: Vec<String> = db
            .prepare("PRAGMA foreign_key_check")
            .expect("check")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("fk rows");
        assert!(fk.is_empty(), "{fk:?}");
    }

    fn all_versions() -> Vec<i64> {
        MIGRATIONS.iter().map(|m| m.version).collect()
    }

    /// sqlx's table, as it creates it on SQLite.
    const SQLX_TABLE: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
         description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)";

    #[test]
    fn every_file_is_a_migration_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let named: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_")))
            .collect();
        assert_eq!(files, named);
    }

    #[test]
    fn a_new_database_gets_every_migration_once() {
        let mut db = Connection::open_in_memory().expect("db");
        run(&mut db).expect("first run");
        run(&mut db).expect("second run");
        assert_eq!(versions(&db), all_versions());
    }

    #[test]
    fn an_edited_migration_is_refused() {
        let mut db = Connection::open_in_memory().expect("db");
        run(&mut db).expect("migrate");
        db.execute(
            "UPDATE schema_migrations SET checksum = x'00' WHERE version = 1",
            [],
        )
        .expect("tamper");
        let refused = run(&mut db);
        assert!(
            matches!(refused, Err(StoreError::Migration(_))),
            "{refused:?}"
        );
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let mut db = Connection::open_in_memory().expect("db");
        run(&mut db).expect("migrate");
        db.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'future', x'00', 'later')",
            [],
        )
        .expect("newer");
        let refused = run(&mut db);
        assert!(
            matches!(&refused, Err(e @ StoreError::Migration(_)) if e.to_string().contains("9999")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_migration_sqlx_left_failed_is_refused() {
        let mut db = Connection::open_in_memory().expect("db");
        db.execute_batch(SQLX_TABLE).expect("sqlx table");
        db.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (1, 'resources', false, ?1, 0)",
            [checksum(MIGRATIONS[0].sql)],
        )
        .expect("failed migration");
        let refused = run(&mut db);
        assert!(
            matches!(refused, Err(StoreError::Migration(_))),
            "{refused:?}"
        );
        // Nothing was recorded: the next start refuses again.
        assert!(!table_exists(&db, "schema_migrations").expect("lookup"));
    }
}
