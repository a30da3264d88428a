//! SQLite's readers: a small pool of read connections (WAL: they never wait for the writer nor
//! it for them), each keeping its prepared statements for as long as it lives.
//!
//! A small read (a resource by id or by an indexed lookup, an operation) takes microseconds, so
//! it runs right on the calling thread ([`Readers::read`]): handing it to another thread and
//! back would cost more than the read. A read whose size the caller does not bound (every
//! resource of a kind, a group's members, a list of operations) runs on Tokio's blocking pool
//! instead ([`Readers::read_blocking`]), so that it never holds up an async worker; that works
//! on a current-thread runtime (actix's workers) as well as on a multi-thread one.

use super::location::Location;
use super::positions::Positions;
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

/// Reads on the blocking pool at once, at most (each holds a connection for its duration).
const BLOCKING_READS: usize = 4;

/// A pooled connection and what it remembers of the database, valid for it alone.
pub(super) struct Reader {
    pub(super) conn: Connection,
    /// Where recent list pages start (see `positions`).
    pub(super) positions: Positions,
}

pub(super) struct Readers {
    location: Location,
    /// Connections not in use. A read takes one, or opens one when there is none; it is put
    /// back afterwards unless `max_idle` are there already.
    idle: Mutex<Vec<Reader>>,
    max_idle: usize,
    /// Permits for reads on the blocking pool, each held until its read is done.
    blocking: Arc<Semaphore>,
}

impl Readers {
    /// A pool for the database at `location`, which must exist (the writer creates it); one
    /// connection is opened now, so that a database that cannot be read fails here.
    pub(super) fn open(location: Location) -> StoreResult<Arc<Self>> {
        let first = location.open_reader()?;
        // Small reads run on the calling threads: as many at once as threads call the store.
        let threads = std::thread::available_parallelism().map_or(4, usize::from);
        Ok(Arc::new(Readers {
            location,
            idle: Mutex::new(vec![Reader {
                conn: first,
                positions: Positions::default(),
            }]),
            max_idle: threads + BLOCKING_READS,
            blocking: Arc::new(Semaphore::new(BLOCKING_READS)),
        }))
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
        let mut reader = match self.lock().pop() {
            Some(reader) => reader,
            None => Reader {
                conn: self.location.open_reader()?,
                positions: Positions::default(),
            },
        };
        let result = read(&mut reader);
        self.put_back(reader);
        result
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

    fn put_back(&self, reader: Reader) {
        // A read that failed inside its transaction may have left it open: end it, or let the
        // connection go.
        if !reader.conn.is_autocommit() && reader.conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(reader);
        }
    }

    /// The idle list is consistent whatever a panicking holder did (push and pop only).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers() -> (tempfile::TempDir, Arc<Readers>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let location = Location::File(dir.path().join("store.db"));
        let writer = location.open_writer().expect("writer");
        writer
            .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .expect("table");
        (dir, Readers::open(location).expect("readers"))
    }

    fn count(db: &Connection) -> StoreResult<i64> {
        Ok(db.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    }

    #[test]
    fn connections_are_kept_for_the_next_read() {
        let (_dir, readers) = readers();
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
    fn a_read_left_inside_a_transaction_is_ended() {
        let (_dir, readers) = readers();
        let failed: StoreResult<()> = readers.read(|db| {
            db.execute_batch("BEGIN")?;
            count(db)?;
            Err(StoreError::NotFound)
        });
        assert!(matches!(failed, Err(StoreError::NotFound)));
        let clean = readers.read(|db| Ok(db.is_autocommit())).expect("read");
        assert!(clean);
    }

    #[test]
    fn readers_cannot_write() {
        let (_dir, readers) = readers();
        let refused = readers.read(|db| Ok(db.execute("INSERT INTO t VALUES (2)", [])?));
        assert!(matches!(refused, Err(StoreError::Sqlite(_))), "{refused:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn large_reads_run_on_a_current_thread_runtime_too() {
        let (_dir, readers) = readers();
        assert_eq!(readers.read_blocking(count).await.expect("read"), 1);
    }

    #[test]
    fn large_reads_outside_a_runtime_run_in_place() {
        let (_dir, readers) = readers();
        let read = futures_util::FutureExt::now_or_never(readers.read_blocking(count));
        assert_eq!(read.map(|r| r.expect("read")), Some(1));
    }
}
