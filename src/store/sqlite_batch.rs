//! Group commit for SQLite's writes. SQLite has one writer, and a journaled request makes
//! several small writes (open, one per step, complete), each its own transaction: under
//! concurrent requests the writer would spend its time committing, and through sqlx every
//! statement is also a hand-off to the connection's worker thread and back. Here the writes
//! waiting at the same moment run one after the other in a single transaction, on a thread of
//! their own, directly on the write connection's handle (see `sqlite_direct`), and are
//! committed together; each caller gets its answer only once that commit succeeded, so a write
//! is as durable when its caller continues as with a transaction of its own.
//!
//! Each write keeps its own atomicity: a write of several statements runs in a savepoint
//! (`sqlite_direct::atomically`), and its failure rolls back its own statements only. If the
//! batch's commit fails, every write of the batch fails.

use rusqlite::Connection;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// Writes in one transaction at most; bounds the time a batch holds the writer.
const MAX_BATCH: usize = 128;

/// Called with the outcome of the batch's commit; sends the write's own result to its caller.
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Deliver + Send>;

pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread, which borrows the one connection of `write` for each batch;
    /// it ends when `self` is dropped. Must be called inside a Tokio runtime (the pool's).
    pub(super) fn start(write: SqlitePool) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(runtime, write, jobs))?;
        Ok(Self { queue })
    }

    /// Runs `write` on the write connection inside a batch transaction; answers once the batch
    /// is committed.
    pub(super) async fn run<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |db| {
            let result = write(db);
            Box::new(move |committed: Result<(), String>| {
                let _ = tx.send(match committed {
                    Ok(()) => result,
                    // The write's own error, if any, explains more than the commit's.
                    Err(e) => result.and(Err(not_committed(e))),
                });
            }) as Deliver
        });
        self.queue
            .send(job)
            .map_err(|_| not_committed("the SQLite writer has stopped".into()))?;
        // Dropped undelivered: the write panicked, or the writer stopped with it queued.
        rx.await
            .map_err(|_| not_committed("the write was abandoned (see the log)".into()))?
    }
}

fn not_committed(detail: String) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!(
        "SQLite write not committed: {detail}"
    )))
}

fn writer(
    runtime: tokio::runtime::Handle,
    write: SqlitePool,
    mut queue: mpsc::UnboundedReceiver<Job>,
) {
    // The pool returns its connection from the drop of a `PoolConnection`, which needs the
    // runtime.
    let _runtime = runtime.enter();
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = run_batch(&runtime, &write, batch) {
            tracing::warn!(error = %e, "SQLite write batch not committed");
        }
    }
}

/// A job dropped without being delivered makes its caller fail (`not_committed`).
fn run_batch(
    runtime: &tokio::runtime::Handle,
    write: &SqlitePool,
    batch: Vec<Job>,
) -> Result<(), String> {
    let mut conn = runtime
        .block_on(write.acquire())
        .map_err(|e| e.to_string())?;
    let mut handle = runtime
        .block_on(conn.lock_handle())
        .map_err(|e| e.to_string())?;
    // SAFETY: the handle is locked away from sqlx's worker thread until `handle` is dropped,
    // and `db` (which only borrows it: `from_handle` never closes it) is dropped first, with
    // its prepared statements. No transaction is left open on it: the batch's ends in COMMIT
    // or ROLLBACK below.
    let db = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr()) }
        .map_err(|e| e.to_string())?;
    let committed = run_jobs(&db, batch);
    drop(db);
    drop(handle);
    committed
}

fn run_jobs(db: &Connection, batch: Vec<Job>) -> Result<(), String> {
    db.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut panicked = false;
    for job in batch {
        // A panicking write must not take the writer thread (and every later write) with it;
        // its caller fails, and so does the batch, whose transaction it may have left
        // half-written.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(db))) {
            Ok(deliver) => deliveries.push(deliver),
            Err(_) => {
                tracing::error!("a SQLite write panicked; its batch is rolled back");
                panicked = true;
            }
        }
    }
    let committed = match panicked {
        true => Err("a write of the batch panicked".to_string()),
        false => db.execute_batch("COMMIT").map_err(|e| e.to_string()),
    };
    if committed.is_err() {
        // Leave the connection as sqlx expects it: outside any transaction.
        let _ = db.execute_batch("ROLLBACK");
    }
    for deliver in deliveries {
        deliver(committed.clone());
    }
    committed
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn group_commit() -> (GroupCommit, SqlitePool) {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("table");
        (GroupCommit::start(pool.clone()).expect("writer"), pool)
    }

    fn insert(v: i64) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |db| {
            db.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
            Ok(())
        }
    }

    async fn values(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(pool)
            .await
            .expect("select")
    }

    #[tokio::test]
    async fn writes_are_committed_before_their_callers_continue() {
        let (batch, pool) = group_commit().await;
        let writes = (1..=50).map(|v| batch.run(insert(v)));
        for result in futures_util::future::join_all(writes).await {
            result.expect("write");
        }
        assert_eq!(values(&pool).await, (1..=50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone() {
        let (batch, pool) = group_commit().await;
        let (a, dup, b) = tokio::join!(
            batch.run(insert(1)),
            batch.run(insert(1)),
            batch.run(insert(2))
        );
        a.expect("first write");
        b.expect("third write");
        assert!(dup.is_err(), "a duplicate key must fail");
        assert_eq!(values(&pool).await, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_its_batch_and_the_writer_goes_on() {
        let (batch, pool) = group_commit().await;
        let panicked = batch
            .run(|_db: &Connection| -> StoreResult<()> { panic!("a bug in a write") })
            .await;
        assert!(panicked.is_err());
        batch.run(insert(7)).await.expect("the next write");
        assert_eq!(values(&pool).await, vec![7]);
    }
}
