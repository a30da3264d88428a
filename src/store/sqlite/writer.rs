//! SQLite's single writer: one thread, `sqlite-writer`, that opens the write connection itself,
//! migrates the database, and then owns the connection for as long as the store lives (so every
//! statement is prepared once, `prepare_cached`, for the life of the process), running every
//! write the store makes.
//!
//! Group commit: SQLite has one writer, and a journaled request makes several small writes
//! (open, one per step, complete), each its own transaction: under concurrent requests the
//! writer would spend its time committing. Here the writes waiting at the same moment run one
//! after the other in a single transaction and are committed together; each caller gets its
//! answer only once that commit succeeded, so a write is as durable when its caller continues
//! as with a transaction of its own.
//!
//! Each write keeps its own atomicity: a write of several statements runs in a savepoint
//! (`exec::atomically`), and its failure rolls back its own statements only. If the batch's
//! commit fails, every write of the batch fails. A write that panics fails, and so does its
//! batch (its transaction may be half-written), but the thread goes on with the next batch.
//!
//! Each batch is counted ([`Commits`]) before its callers are answered: a reader keeps its read
//! transaction between reads only while the count has not moved, so a read that starts after
//! a write was answered sees that write.

use super::checkpointer::Checkpoints;
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most; bounds the time a batch holds the writer.
const MAX_BATCH: usize = 128;

/// Called with the outcome of the batch's commit; sends the write's own result to its caller.
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Deliver + Send>;

pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Job>,
}

/// The batches the writer has ended (committed or not), counted before their callers are
/// answered.
#[derive(Debug, Default)]
pub(super) struct Commits(AtomicU64);

impl Commits {
    pub(super) fn count(&self) -> u64 {
        // Acquire: pairs with the writer's Release, so that a count read after a write was
        // answered is that write's or a later one.
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn add(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

impl Writer {
    /// Start the writer thread, which opens its connection with `open` (and migrates it, as
    /// `open` does) and serves writes until `self` is dropped, telling `checkpoints` of each
    /// batch it commits and counting them in `commits`; answers once the connection is open,
    /// with `open`'s error if it failed.
    pub(super) async fn start(
        open: impl FnOnce() -> StoreResult<Connection> + Send + 'static,
        checkpoints: Option<Checkpoints>,
        commits: Arc<Commits>,
    ) -> StoreResult<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        let (ready, opened) = oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || match open() {
                Ok(db) => {
                    let _ = ready.send(Ok(()));
                    serve(&db, jobs, checkpoints.as_ref(), &commits);
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| unavailable(format!("cannot start the SQLite writer thread: {e}")))?;
        opened
            .await
            .map_err(|_| unavailable("the SQLite writer stopped while opening the database"))??;
        Ok(Writer { queue })
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
                    Err(e) => result.and(Err(not_committed(&e))),
                });
            }) as Deliver
        });
        self.queue
            .send(job)
            .map_err(|_| unavailable("the SQLite writer has stopped"))?;
        // Dropped undelivered: the write panicked, or the writer stopped with it queued.
        rx.await
            .map_err(|_| not_committed("the write was abandoned (see the log)"))?
    }
}

fn unavailable(detail: impl Into<String>) -> StoreError {
    StoreError::Unavailable(detail.into())
}

fn not_committed(detail: &str) -> StoreError {
    unavailable(format!("SQLite write not committed: {detail}"))
}

/// The writer thread's loop: a batch of every write waiting, until the store is dropped.
fn serve(
    db: &Connection,
    mut queue: mpsc::UnboundedReceiver<Job>,
    checkpoints: Option<&Checkpoints>,
    commits: &Commits,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        crate::metrics::sqlite_batch(batch.len());
        if let Some(c) = checkpoints {
            c.before_batch(db);
        }
        match run_batch(db, batch, commits) {
            Ok(()) => {
                if let Some(c) = checkpoints {
                    c.committed();
                }
            }
            Err(e) => tracing::warn!(error = %e, "SQLite write batch not committed"),
        }
    }
}

/// A job dropped without being delivered makes its caller fail (`not_committed`).
fn run_batch(db: &Connection, batch: Vec<Job>, commits: &Commits) -> Result<(), String> {
    // A batch that could not even roll back left its transaction open: end it first.
    if !db.is_autocommit() {
        db.execute_batch("ROLLBACK").map_err(|e| e.to_string())?;
    }
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
    if committed.is_err() && !db.is_autocommit() {
        let _ = db.execute_batch("ROLLBACK");
    }
    commits.add();
    for deliver in deliveries {
        deliver(committed.clone());
    }
    committed
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer() -> Writer {
        counting_writer(Arc::default()).await
    }

    async fn counting_writer(commits: Arc<Commits>) -> Writer {
        Writer::start(
            || {
                let db = Connection::open_in_memory()?;
                db.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")?;
                Ok(db)
            },
            None,
            commits,
        )
        .await
        .expect("writer")
    }

    fn insert(v: i64) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |db| {
            db.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
            Ok(())
        }
    }

    /// Read on the writer itself: a private in-memory database exists on its connection only.
    async fn values(writer: &Writer) -> Vec<i64> {
        writer
            .run(|db| {
                let mut stmt = db.prepare("SELECT v FROM t ORDER BY v")?;
                let values = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(values)
            })
            .await
            .expect("select")
    }

    #[tokio::test]
    async fn writes_are_committed_before_their_callers_continue() {
        let writer = writer().await;
        let writes = (1..=50).map(|v| writer.run(insert(v)));
        for result in futures_util::future::join_all(writes).await {
            result.expect("write");
        }
        assert_eq!(values(&writer).await, (1..=50).collect::<Vec<_>>());
    }

    /// What lets a reader keep its snapshot safely (`readers`): once a write is answered, the
    /// count has moved past the snapshots that could have missed it.
    #[tokio::test]
    async fn each_batch_is_counted_before_its_callers_continue() {
        let commits = Arc::new(Commits::default());
        let writer = counting_writer(commits.clone()).await;
        writer.run(insert(1)).await.expect("write");
        assert_eq!(commits.count(), 1);
        let failed = writer.run(insert(1)).await;
        assert!(failed.is_err(), "a duplicate key must fail");
        assert_eq!(commits.count(), 2);
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone() {
        let writer = writer().await;
        let (a, dup, b) = tokio::join!(
            writer.run(insert(1)),
            writer.run(insert(1)),
            writer.run(insert(2))
        );
        a.expect("first write");
        b.expect("third write");
        assert!(dup.is_err(), "a duplicate key must fail");
        assert_eq!(values(&writer).await, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_its_batch_and_the_writer_goes_on() {
        let writer = writer().await;
        let panicked = writer
            .run(|_db: &Connection| -> StoreResult<()> { panic!("a bug in a write") })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Unavailable(_))),
            "{panicked:?}"
        );
        writer.run(insert(7)).await.expect("the next write");
        assert_eq!(values(&writer).await, vec![7]);
    }

    /// Every batch runs on the one connection the thread opened (what keeps its prepared
    /// statements): a temporary table, private to a connection, outlives its batch.
    #[tokio::test]
    async fn every_batch_runs_on_the_same_connection() {
        let writer = writer().await;
        writer
            .run(|db| Ok(db.execute_batch("CREATE TEMP TABLE mine (v INTEGER)")?))
            .await
            .expect("first batch");
        let n = writer
            .run(|db| {
                Ok(db.query_row("SELECT count(*) FROM temp.mine", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .expect("second batch");
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn an_open_failure_is_answered() {
        let failed = Writer::start(
            || Err(StoreError::Invalid("no such database".into())),
            None,
            Arc::default(),
        )
        .await;
        assert!(matches!(failed, Err(StoreError::Invalid(_))));
    }
}
