//! SQLite's readers: a small pool of read connections (WAL: they never wait for the writer nor
//! it for them), each keeping its prepared statements for as long as it lives.
//!
//! A small read (a resource by id or by an indexed lookup, an operation) takes microseconds, so
//! it runs right on the calling thread ([`Readers::read`]): handing it to another thread and
//! back would cost more than the read. A read whose size the caller does not bound (every
//! resource of a kind, a group's members, a list of operations) runs on Tokio's blocking pool
//! instead ([`Readers::read_blocking`]), so that it never holds up an async worker; that works
//! on a current-thread runtime (actix's workers) as well as on a multi-thread one.
//!
//! Snapshots kept between reads: beginning and ending a read transaction takes SQLite's WAL
//! read lock (a mutex and an `fcntl` on the `-shm` file, and the database file's own lock),
//! a good part of a lookup. So a reader of a database file keeps its read transaction open
//! for the reads that follow, as long as
//! - the writer of this process has committed nothing since it began ([`Commits`]: a read
//!   that starts after a write was answered sees it), and
//! - it is younger than [`SNAPSHOT_MAX_AGE`] (what another process commits, `tableau-scim
//!   ops` say, is seen at most that late).
//!
//! A snapshot held by an idle reader would hold back the WAL: a checkpoint copies no page
//! newer than the oldest snapshot, and the WAL starts over only when no reader is in it. So
//! the checkpoint thread ends idle readers' snapshots before each checkpoint and, between
//! checkpoints, those too old to be used again; the writer ends them before a batch that is
//! to restart the WAL ([`Readers::end_idle_snapshots`]). An in-memory database has no WAL (a
//! reader in a transaction would block the writer): its readers keep none.

use super::exec::execute;
use super::location::Location;
use super::positions::Positions;
use super::writer::Commits;
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Reads on the blocking pool at once, at most (each holds a connection for its duration).
const BLOCKING_READS: usize = 4;

/// How long a reader reuses its read transaction, at most: the delay with which this process
/// sees what another one commits.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(10);

/// A pooled connection and what it remembers of the database, valid for it alone.
pub(super) struct Reader {
    pub(super) conn: Connection,
    /// Where recent list pages start (see `positions`).
    pub(super) positions: Positions,
    /// The read transaction kept open for the reads that follow, if any.
    snapshot: Option<Snapshot>,
}

/// A read transaction a reader keeps between reads: the writer's count of commits when it
/// began (read before it began, so never newer than what it reads), and when.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    commits: u64,
    began: Instant,
}

impl Reader {
    fn new(conn: Connection) -> Self {
        Reader {
            conn,
            positions: Positions::default(),
            snapshot: None,
        }
    }

    /// End the read transaction, kept or left open by a failed read. An error leaves the
    /// connection in a state nobody should read in: the caller lets it go.
    fn end_transaction(&mut self) -> rusqlite::Result<()> {
        self.snapshot = None;
        match self.conn.is_autocommit() {
            true => Ok(()),
            false => execute(&self.conn, "ROLLBACK", &[]).map(drop),
        }
    }
}

pub(super) struct Readers {
    location: Location,
    /// Connections not in use. A read takes one, or opens one when there is none; it is put
    /// back afterwards unless `max_idle` are there already.
    idle: Mutex<Vec<Reader>>,
    max_idle: usize,
    /// Permits for reads on the blocking pool, each held until its read is done.
    blocking: Arc<Semaphore>,
    /// The writer's count of commits, which ends kept snapshots.
    commits: Arc<Commits>,
    /// How long a snapshot is kept, if at all.
    snapshot_age: Option<Duration>,
}

impl Readers {
    /// A pool for the database at `location`, whose writer counts its commits in `commits`.
    /// No connection is opened yet: the writer creates the database (see [`Readers::check`]).
    pub(super) fn new(location: Location, commits: Arc<Commits>) -> Arc<Self> {
        let age = matches!(location, Location::File(_)).then_some(SNAPSHOT_MAX_AGE);
        Self::keeping_snapshots_for(location, commits, age)
    }

    /// As [`Readers::new`], keeping snapshots for `snapshot_age` (none for `None`).
    pub(super) fn keeping_snapshots_for(
        location: Location,
        commits: Arc<Commits>,
        snapshot_age: Option<Duration>,
    ) -> Arc<Self> {
        // Small reads run on the calling threads: as many at once as threads call the store.
        let threads = std::thread::available_parallelism().map_or(4, usize::from);
        Arc::new(Readers {
            location,
            idle: Mutex::new(Vec::new()),
            max_idle: threads + BLOCKING_READS,
            blocking: Arc::new(Semaphore::new(BLOCKING_READS)),
            commits,
            snapshot_age,
        })
    }

    /// Open a first connection and keep it, so that a database that cannot be read fails now.
    pub(super) fn check(&self) -> StoreResult<()> {
        self.read(|_| Ok(()))
    }

    /// Run a small read on the calling thread, on a pooled connection.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with_reader(|reader| read(&reader.conn))
    }

    /// Run a small read on the calling thread, on a pooled connection and what it remembers.
    fn with_reader<T>(&self, read: impl FnOnce(&mut Reader) -> StoreResult<T>) -> StoreResult<T> {
        let popped = self.lock().pop();
        let mut reader = match popped {
            Some(reader) => reader,
            None => Reader::new(self.location.open_reader()?),
        };
        // On an error the connection is let go (dropped: SQLite ends its transaction).
        self.renew_snapshot(&mut reader)?;
        let result = read(&mut reader);
        // A read that failed may have left its transaction in any state: end it.
        if (result.is_err() || reader.snapshot.is_none()) && reader.end_transaction().is_err() {
            return result;
        }
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(reader);
        }
        result
    }

    /// Keep the reader's snapshot if it may still be read, or begin another (one that the
    /// read's first statement takes), when snapshots are kept at all.
    fn renew_snapshot(&self, reader: &mut Reader) -> StoreResult<()> {
        let Some(max_age) = self.snapshot_age else {
            return Ok(());
        };
        // The count first: a commit made after it makes the snapshot look older than it is,
        // never newer.
        let commits = self.commits.count();
        let now = Instant::now();
        if let Some(kept) = reader.snapshot
            && kept.commits == commits
            && now.duration_since(kept.began) < max_age
        {
            return Ok(());
        }
        reader.end_transaction()?;
        execute(&reader.conn, "BEGIN", &[])?;
        reader.snapshot = Some(Snapshot {
            commits,
            began: now,
        });
        Ok(())
    }

    /// End the snapshots of the readers not in use that are at least `age` old (all of them
    /// for zero), so that they hold back no checkpoint and no restart of the WAL.
    pub(super) fn end_idle_snapshots(&self, age: Duration) {
        let now = Instant::now();
        self.lock().retain_mut(|reader| match reader.snapshot {
            Some(kept) if now.duration_since(kept.began) >= age => reader.end_transaction().is_ok(),
            _ => true,
        });
    }

    /// Run a read of unbounded size on the blocking pool (on the calling thread outside a Tokio
    /// runtime).
    pub(super) async fn read_blocking<T, F>(self: &Arc<Self>, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.read_blocking_with(move |reader: &mut Reader| read(&reader.conn))
            .await
    }

    /// As [`Readers::read_blocking`], with what the connection remembers (list positions).
    pub(super) async fn read_blocking_with<T, F>(self: &Arc<Self>, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Reader) -> StoreResult<T> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.with_reader(read);
        };
        let permit = Arc::clone(&self.blocking)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite readers are closed".into()))?;
        let readers = Arc::clone(self);
        // The permit goes with the read, which runs to its end even if its caller gives up.
        runtime
            .spawn_blocking(move || {
                let _permit = permit;
                readers.with_reader(read)
            })
            .await
            .map_err(|e| StoreError::Unavailable(format!("a SQLite read failed: {e}")))?
    }

    /// The idle list is consistent whatever a panicking holder did (push, pop, retain).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file with a table `t` of one row, its writer's connection, and readers that
    /// keep snapshots for `age`; the count is advanced by the test, as the writer would.
    struct Fixture {
        _dir: tempfile::TempDir,
        writer: Connection,
        commits: Arc<Commits>,
        readers: Arc<Readers>,
    }

    fn fixture(age: Option<Duration>) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let location = Location::File(dir.path().join("store.db"));
        let writer = location.open_writer().expect("writer");
        writer
            .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .expect("table");
        let commits = Arc::new(Commits::default());
        let readers = Readers::keeping_snapshots_for(location, commits.clone(), age);
        readers.check().expect("readable");
        Fixture {
            _dir: dir,
            writer,
            commits,
            readers,
        }
    }

    fn readers() -> (Fixture, Arc<Readers>) {
        let fixture = fixture(Some(SNAPSHOT_MAX_AGE));
        let readers = fixture.readers.clone();
        (fixture, readers)
    }

    fn count(db: &Connection) -> StoreResult<i64> {
        Ok(db.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    }

    fn insert(db: &Connection) {
        db.execute("INSERT INTO t VALUES (2)", []).expect("insert");
    }

    #[test]
    fn connections_are_kept_for_the_next_read() {
        let (_fixture, readers) = readers();
        // `cache_size` belongs to the connection, not to the database.
        readers
            .read(|db| Ok(db.pragma_update(None, "cache_size", -1234)?))
            .expect("first read");
        let kept = readers
            .read(|db| Ok(db.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))?))
            .expect("second read");
        assert_eq!(kept, -1234);
    }

    #[test]
    fn a_snapshot_is_kept_until_the_writer_commits() {
        let f = fixture(Some(Duration::MAX));
        assert_eq!(f.readers.read(count).expect("read"), 1);
        // Committed by a connection this process's writer does not count: the kept snapshot
        // does not see it (which is what keeping it means)...
        insert(&f.writer);
        assert_eq!(f.readers.read(count).expect("read"), 1);
        // ...until the writer counts a commit: the next read begins another snapshot.
        f.commits.add();
        assert_eq!(f.readers.read(count).expect("read"), 2);
    }

    #[test]
    fn a_snapshot_is_not_kept_past_its_age() {
        let f = fixture(Some(Duration::ZERO));
        assert_eq!(f.readers.read(count).expect("read"), 1);
        insert(&f.writer);
        assert_eq!(f.readers.read(count).expect("read"), 2);
    }

    #[test]
    fn a_failed_read_ends_its_snapshot() {
        let f = fixture(Some(Duration::MAX));
        assert_eq!(f.readers.read(count).expect("read"), 1);
        insert(&f.writer);
        let failed: StoreResult<i64> = f.readers.read(|db| {
            count(db)?;
            Err(StoreError::NotFound)
        });
        assert!(matches!(failed, Err(StoreError::NotFound)));
        assert_eq!(f.readers.read(count).expect("read"), 2);
    }

    #[test]
    fn idle_snapshots_are_ended_on_demand() {
        let f = fixture(Some(Duration::MAX));
        f.readers.read(count).expect("read");
        let open = |readers: &Readers| {
            readers
                .lock()
                .iter()
                .filter(|r| !r.conn.is_autocommit())
                .count()
        };
        assert_eq!(open(&f.readers), 1);
        // Younger than asked: kept.
        f.readers.end_idle_snapshots(Duration::from_secs(3600));
        assert_eq!(open(&f.readers), 1);
        f.readers.end_idle_snapshots(Duration::ZERO);
        assert_eq!(open(&f.readers), 0);
        insert(&f.writer);
        assert_eq!(f.readers.read(count).expect("read"), 2);
    }

    #[test]
    fn without_snapshots_a_read_left_inside_a_transaction_is_ended() {
        let f = fixture(None);
        let failed: StoreResult<()> = f.readers.read(|db| {
            db.execute_batch("BEGIN")?;
            count(db)?;
            Err(StoreError::NotFound)
        });
        assert!(matches!(failed, Err(StoreError::NotFound)));
        let clean = f.readers.read(|db| Ok(db.is_autocommit())).expect("read");
        assert!(clean);
        insert(&f.writer);
        assert_eq!(f.readers.read(count).expect("read"), 2);
    }

    #[test]
    fn an_in_memory_database_keeps_no_snapshot() {
        let Ok(Some(location)) = Location::from_url("sqlite::memory:") else {
            panic!("memory location");
        };
        let _writer = location.open_writer().expect("writer");
        let readers = Readers::new(location, Arc::default());
        let in_transaction = readers.read(|db| Ok(!db.is_autocommit())).expect("read");
        assert!(!in_transaction);
    }

    #[test]
    fn readers_cannot_write() {
        let (_fixture, readers) = readers();
        let refused = readers.read(|db| Ok(db.execute("INSERT INTO t VALUES (2)", [])?));
        assert!(matches!(refused, Err(StoreError::Sqlite(_))), "{refused:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn large_reads_run_on_a_current_thread_runtime_too() {
        let (_fixture, readers) = readers();
        assert_eq!(readers.read_blocking(count).await.expect("read"), 1);
    }

    #[test]
    fn large_reads_outside_a_runtime_run_in_place() {
        let (_fixture, readers) = readers();
        let read = futures_util::FutureExt::now_or_never(readers.read_blocking(count));
        assert_eq!(read.map(|r| r.expect("read")), Some(1));
    }
}
