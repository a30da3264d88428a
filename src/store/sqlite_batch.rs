//! Group commit for the SQLite journal. SQLite has one writer, and a journaled request makes
//! several small writes (open, one per step, complete), each its own transaction: under
//! concurrent requests the writer spends its time committing and handing its one connection
//! from waiter to waiter. Here the writes waiting at the same moment run one after the other in
//! a single transaction and are committed together; each caller gets its answer only once that
//! commit succeeded, so a write is as durable when its caller continues as with a transaction
//! of its own.
//!
//! Each write keeps its own atomicity: a write of several statements opens a nested
//! transaction (a savepoint) on the batch's connection, and its failure rolls back its own
//! statements only; single statements are atomic by themselves. If the batch's commit fails,
//! every write of the batch fails.

use futures_util::future::BoxFuture;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// Writes in one transaction at most; bounds the time a batch holds the writer.
const MAX_BATCH: usize = 128;

/// Called with the outcome of the batch's commit; sends the write's own result to its caller.
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Deliver> + Send>;

pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on the current Tokio runtime; it ends when `self` is dropped.
    pub(super) fn start(write: SqlitePool) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(writer(write, jobs));
        Self { queue }
    }

    /// Runs `write` on the write connection inside a batch transaction; answers once the batch
    /// is committed.
    pub(super) async fn run<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = write(conn).await;
                Box::new(move |committed: Result<(), String>| {
                    let _ = tx.send(match committed {
                        Ok(()) => result,
                        // The write's own error, if any, explains more than the commit's.
                        Err(e) => result.and(Err(not_committed(e))),
                    });
                }) as Deliver
            })
        });
        self.queue
            .send(job)
            .map_err(|_| not_committed("the journal writer has stopped".into()))?;
        rx.await
            .map_err(|_| not_committed("the journal writer has stopped".into()))?
    }
}

fn not_committed(detail: String) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!(
        "journal write not committed: {detail}"
    )))
}

async fn writer(write: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut jobs);
        if let Err(e) = run_batch(&write, batch).await {
            tracing::warn!(error = %e, "journal batch not committed");
        }
    }
}

/// A job dropped without being delivered makes its caller fail (`not_committed`).
async fn run_batch(write: &SqlitePool, batch: Vec<Job>) -> Result<(), String> {
    let mut conn = write.acquire().await.map_err(|e| e.to_string())?;
    let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch {
        deliveries.push(job(&mut tx).await);
    }
    let committed = tx.commit().await.map_err(|e| e.to_string());
    for deliver in deliveries {
        deliver(committed.clone());
    }
    committed
}
