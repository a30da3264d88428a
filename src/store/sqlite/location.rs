//! Where a SQLite store lives, from its URL, and how its connections are opened: the writer's,
//! which creates the file (readable and writable by its owner only) and its directory, and the
//! readers'.

use crate::store::{StoreError, StoreResult};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a connection waits for a lock before failing with `SQLITE_BUSY`. In WAL mode
/// readers and the writer do not wait for each other; this covers other processes (a backup,
/// the `sqlite3` shell) and, in memory, the readers waiting for the writer's batch.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements each connection keeps prepared (rusqlite's default is 16; the writer runs about
/// 25 distinct statements, a reader about 15).
const STATEMENT_CACHE: usize = 64;

/// The WAL size (in pages) at which the writer checkpoints by itself: a backstop, should the
/// checkpoint thread (`checkpointer`) fall behind; SQLite's default is 1,000.
pub(super) const WAL_BACKSTOP_PAGES: i64 = 10_000;

/// Names of in-memory databases, unique in the process.
static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
pub(crate) enum Location {
    File(PathBuf),
    /// A database in memory (SQLite's `memdb` VFS, as the URI it is opened by), shared by the
    /// writer and the readers of one store and gone with the last of them. `memdb` has no WAL:
    /// a reader waits while the writer's batch is open (`BUSY_TIMEOUT`).
    Memory(String),
}

impl Location {
    /// `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:` (also `sqlite://:memory:`); `None` for
    /// another scheme. Parameters (`?mode=...`, as sqlx took them) are refused rather than taken
    /// as part of the file name.
    pub(crate) fn from_url(url: &str) -> StoreResult<Option<Self>> {
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Ok(None);
        };
        if rest == ":memory:" {
            let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
            let uri = format!("file:/tableau-scim-{}-{n}?vfs=memdb", std::process::id());
            return Ok(Some(Location::Memory(uri)));
        }
        if rest.is_empty() {
            return Err(StoreError::Invalid(
                "the SQLite store URL names no file: use sqlite://PATH, sqlite:PATH or \
                 sqlite::memory:"
                    .into(),
            ));
        }
        if rest.contains('?') {
            return Err(StoreError::Invalid(format!(
                "SQLite store URLs take no parameters: use sqlite://PATH (got '{url}')"
            )));
        }
        Ok(Some(Location::File(PathBuf::from(rest))))
    }

    /// The writer's connection: creates the database if missing; WAL (readers do not block the
    /// writer nor it them) and synchronous=NORMAL (a commit is durable once the WAL is
    /// checkpointed; a power loss may lose the last commits but never corrupts the database:
    /// the usual WAL trade-off, and what makes writes fast).
    pub(super) fn open_writer(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = match self {
            Location::File(path) => {
                create_file(path)?;
                let db = Connection::open_with_flags(path, flags)?;
                let mode: String =
                    db.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(
                        path = %path.display(),
                        mode,
                        "SQLite refused WAL mode: readers and the writer will wait for each other"
                    );
                }
                db.pragma_update(None, "synchronous", "NORMAL")?;
                db.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)?;
                db
            }
            Location::Memory(uri) => Connection::open_with_flags(uri, flags)?,
        };
        configure(&db)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        // Savepoint sub-journals in memory: the group commit nests a savepoint per write, and on
        // disk each would spill to a temporary file, a write per page touched.
        db.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(db)
    }

    /// A reader's connection, to the database the writer has created; `query_only`, so that
    /// nothing but the writer ever writes.
    pub(super) fn open_reader(&self) -> StoreResult<Connection> {
        let db = self.open_existing()?;
        db.pragma_update(None, "query_only", "ON")?;
        Ok(db)
    }

    /// The checkpoint thread's connection (`checkpointer`): it runs no statement but the
    /// checkpoint (it copies the WAL into the database file, and writes no row).
    pub(super) fn open_checkpointer(&self) -> StoreResult<Connection> {
        self.open_existing()
    }

    fn open_existing(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = match self {
            Location::File(path) => Connection::open_with_flags(path, flags)?,
            Location::Memory(uri) => Connection::open_with_flags(uri, flags)?,
        };
        configure(&db)?;
        Ok(db)
    }
}

fn configure(db: &Connection) -> StoreResult<()> {
    db.busy_timeout(BUSY_TIMEOUT)?;
    db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans that do not depend on the values bound. Without it, SQLite (3.51) prepares a
    // statement with `LIMIT $N` again each time a value is bound (it plans for the limit's
    // value): every list page and journal listing paid a full parse (the held-operations read
    // each write made then cost ~4 % of a push's CPU).
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Create the database file, and its directory, if missing. On Unix the file is created
/// readable and writable by its owner only (0600; SQLite gives the `-wal` and `-shm` files the
/// database's permissions), a new directory 0700. An existing file keeps its permissions.
fn create_file(path: &Path) -> StoreResult<()> {
    let unavailable = |what: &str, e: std::io::Error| {
        StoreError::Unavailable(format!("cannot create {what}: {e}"))
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| unavailable(&dir.display().to_string(), e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(unavailable(&path.display().to_string(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: &str) -> Option<PathBuf> {
        match Location::from_url(url) {
            Ok(Some(Location::File(path))) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            file("sqlite:///var/db.sqlite"),
            Some("/var/db.sqlite".into())
        );
        assert_eq!(
            file("sqlite://data/db.sqlite"),
            Some("data/db.sqlite".into())
        );
        assert_eq!(file("sqlite:db.sqlite"), Some("db.sqlite".into()));
        for memory in ["sqlite::memory:", "sqlite://:memory:"] {
            assert!(matches!(
                Location::from_url(memory),
                Ok(Some(Location::Memory(_)))
            ));
        }
        assert!(matches!(Location::from_url("postgres://x/y"), Ok(None)));
        assert!(matches!(Location::from_url("/var/db.sqlite"), Ok(None)));
        for refused in ["sqlite://", "sqlite:", "sqlite://db?mode=rwc"] {
            assert!(
                matches!(Location::from_url(refused), Err(StoreError::Invalid(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn each_memory_database_is_its_own() {
        let (Ok(Some(Location::Memory(a))), Ok(Some(Location::Memory(b)))) = (
            Location::from_url("sqlite::memory:"),
            Location::from_url("sqlite::memory:"),
        ) else {
            panic!("memory locations");
        };
        assert_ne!(a, b);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_database_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new/store.db");
        let db = Location::File(path.clone()).open_writer().expect("open");
        db.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&path.with_extension("db-wal")), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
    }

    #[test]
    fn a_statement_with_a_bound_limit_is_prepared_once() {
        use rusqlite::StatementStatus;
        let Ok(Some(location)) = Location::from_url("sqlite::memory:") else {
            panic!("memory location");
        };
        let db = location.open_writer().expect("open");
        db.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .expect("table");
        let sql = "SELECT v FROM t ORDER BY v LIMIT ?1";
        for limit in 1..=3_i64 {
            let mut stmt = db.prepare_cached(sql).expect("prepare");
            let n = stmt
                .query_map([limit], |r| r.get::<_, i64>(0))
                .expect("query")
                .count();
            assert_eq!(n, usize::try_from(limit).expect("small"));
        }
        let stmt = db.prepare_cached(sql).expect("cached");
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}
