//! WAL checkpoints on a thread of their own, `sqlite-checkpoint`, not on the writer's.
//!
//! SQLite's default checkpoints on the committing connection once the WAL holds 1,000 pages:
//! the writer thread then copies the pages into the database file and syncs it while every
//! write waiting behind it stalls, and a page written by many commits is copied again at each
//! checkpoint. In the push benchmark that was ~15 % of the writer's time. Here the writer
//! signals each commit; this thread waits a moment for the burst to gather (a page rewritten
//! within it is copied once), then runs a PASSIVE checkpoint on its own connection, which
//! blocks neither the writer nor the readers.
//!
//! The WAL starts over from its beginning only when a write transaction begins with every
//! frame copied, which a checkpoint on another thread, racing the writer's next commit,
//! hardly ever sees: the WAL would grow for as long as writes keep coming. So once it holds
//! [`RESTART_PAGES`] and this thread has copied them all, it asks the writer to checkpoint
//! before its next batch: a few frames left to copy, then the batch restarts the WAL. The
//! writer also keeps SQLite's automatic checkpoint, as a backstop at a larger size
//! (`location::WAL_BACKSTOP_PAGES`), should this thread fall behind.
//!
//! Durability gains too: with `synchronous=NORMAL` a commit reaches the disk when the WAL is
//! synced, at a checkpoint; a quiet server used to wait for the 1,000th page, now a commit is
//! on disk within about [`GATHER`] of being made.
//!
//! Readers keep their read transactions between reads (`readers`); one kept by an idle reader
//! would stop a checkpoint short of the pages committed after it, and the WAL from starting
//! over. So idle readers' snapshots are ended before each checkpoint (here, and on the writer
//! before the one that lets the WAL restart) and, while no commit comes, once they are too old
//! to be read again ([`SWEEP`]).

use super::location::Location;
use super::readers::{Readers, SNAPSHOT_MAX_AGE};
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// How long commits gather before a checkpoint.
const GATHER: Duration = Duration::from_millis(250);

/// The WAL size (pages) from which the writer is asked to let it start over (8 MiB).
const RESTART_PAGES: i64 = 2_000;

/// How often, while no commit comes, idle readers' snapshots too old to be read again are ended.
const SWEEP: Duration = Duration::from_secs(1);

/// The writer's handle. Dropping it (the writer stopped) ends the thread after a last
/// checkpoint.
pub(super) struct Checkpoints {
    wake: SyncSender<()>,
    /// Set by the thread: the WAL is large and copied; the writer checkpoints before its next
    /// batch, which then restarts the WAL.
    restart: Arc<AtomicBool>,
    /// The readers whose idle snapshots would keep the WAL from restarting.
    readers: Arc<Readers>,
}

impl Checkpoints {
    /// Start the thread for a database file read by `readers`; `None` for an in-memory database
    /// (no WAL). Its connection is opened at the first commit, when the writer has created the
    /// database.
    pub(super) fn start(location: &Location, readers: &Arc<Readers>) -> StoreResult<Option<Self>> {
        let Location::File(_) = location else {
            return Ok(None);
        };
        let (wake, woken) = sync_channel(1);
        let restart = Arc::new(AtomicBool::new(false));
        let (location, wanted, swept) = (location.clone(), restart.clone(), readers.clone());
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || serve(&location, &woken, &wanted, &swept))
            // Without it, the snapshots readers keep would hold the WAL back for good.
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the SQLite checkpoint thread: {e}"))
            })?;
        Ok(Some(Checkpoints {
            wake,
            restart,
            readers: readers.clone(),
        }))
    }

    /// A commit was made (never blocks: wake-ups coalesce).
    pub(super) fn committed(&self) {
        let _ = self.wake.try_send(());
    }

    /// On the writer's connection, between batches: the checkpoint that lets the WAL restart,
    /// when the thread asked for it.
    pub(super) fn before_batch(&self, db: &Connection) {
        if !self.restart.swap(false, Ordering::Relaxed) {
            return;
        }
        self.readers.end_idle_snapshots(Duration::ZERO);
        if let Err(e) = checkpoint(db) {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the next commit retries it");
        }
    }
}

fn serve(location: &Location, woken: &Receiver<()>, restart: &AtomicBool, readers: &Readers) {
    let mut db: Option<Connection> = None;
    loop {
        match woken.recv_timeout(SWEEP) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                readers.end_idle_snapshots(SNAPSHOT_MAX_AGE);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
        std::thread::sleep(GATHER);
        let stopped = matches!(woken.try_recv(), Err(TryRecvError::Disconnected));
        if db.is_none() {
            db = match location.open_checkpointer() {
                Ok(conn) => Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the SQLite checkpoint connection; the writer checkpoints");
                    return;
                }
            };
        }
        if let Some(conn) = &db {
            readers.end_idle_snapshots(Duration::ZERO);
            match checkpoint(conn) {
                Ok(Wal { pages, copied }) => {
                    if pages >= RESTART_PAGES && copied == pages {
                        restart.store(true, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; the next commit retries it");
                }
            }
        }
        if stopped {
            return;
        }
    }
}

/// The WAL after a checkpoint: its pages, and how many of them are in the database file.
struct Wal {
    pages: i64,
    copied: i64,
}

/// A PASSIVE checkpoint: as many WAL pages as no reader still needs, copied into the database
/// file and synced, without waiting for anyone.
fn checkpoint(db: &Connection) -> rusqlite::Result<Wal> {
    db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Wal {
            pages: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::writer::{Commits, Writer};
    use super::*;

    fn readers(location: &Location, commits: &Arc<Commits>) -> Arc<Readers> {
        Readers::new(location.clone(), commits.clone())
    }

    #[test]
    fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let location = Location::File(path.clone());
        let db = location.open_writer().expect("writer");
        db.execute_batch("CREATE TABLE t (v INTEGER)")
            .expect("table");
        // An idle reader keeping a snapshot from before the commit (its writer counts nothing
        // here) must not stop the checkpoint short of it.
        let readers =
            Readers::keeping_snapshots_for(location.clone(), Arc::default(), Some(Duration::MAX));
        let before = readers
            .read(|db| Ok(db.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?));
        assert_eq!(before.expect("read"), 0);
        let checkpoints = Checkpoints::start(&location, &readers)
            .expect("thread")
            .expect("a file has a WAL");
        db.execute_batch("INSERT INTO t VALUES (42);")
            .expect("write");
        checkpoints.committed();
        // The main file alone (no -wal beside it) holds the row once checkpointed; the
        // writer's own checkpoint would wait for thousands of pages.
        let copy = dir.path().join("copy.db");
        let found = (0..40).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::copy(&path, &copy).expect("copy");
            Connection::open(&copy)
                .and_then(|c| c.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0)))
                .is_ok_and(|v| v == 42)
        });
        assert!(found, "the row never reached the database file");
    }

    #[tokio::test]
    async fn a_large_wal_starts_over_while_writes_keep_coming() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let location = Location::File(path.clone());
        let at = location.clone();
        let commits = Arc::new(Commits::default());
        // Readers that keep their snapshots for as long as the writer commits nothing.
        let readers =
            Readers::keeping_snapshots_for(location.clone(), commits.clone(), Some(Duration::MAX));
        let writer = Writer::start(
            move || {
                let db = at.open_writer()?;
                db.execute_batch("CREATE TABLE t (v BLOB)")?;
                Ok(db)
            },
            Checkpoints::start(&location, &readers).expect("thread"),
            commits,
        )
        .await
        .expect("writer");
        // ~12,000 pages written with hardly a pause (a page per row): the thread's checkpoints
        // never catch up with the writer by themselves. The WAL file keeps the largest size it
        // reached (a restart overwrites it from the start): it must stay near RESTART_PAGES
        // (~3,700 pages here), not grow to the writer's backstop (10,000: what it did before
        // the writer was asked to checkpoint).
        for _ in 0..240 {
            writer
                .run(|db| {
                    let blob = vec![7u8; 3_000];
                    for _ in 0..50 {
                        db.execute("INSERT INTO t (v) VALUES (?1)", [&blob])?;
                    }
                    Ok(())
                })
                .await
                .expect("write");
            // Reads in between leave idle readers with snapshots of the WAL (two at once: the
            // pool keeps both), which must not keep it from starting over.
            let count = |db: &Connection| {
                Ok(db.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?)
            };
            let (a, b) = (readers.clone(), readers.clone());
            let (a, b) = tokio::join!(
                tokio::task::spawn_blocking(move || a.read(count)),
                tokio::task::spawn_blocking(move || b.read(count)),
            );
            a.expect("read").expect("count");
            b.expect("read").expect("count");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let wal = std::fs::metadata(path.with_extension("db-wal")).expect("the WAL");
        let pages = i64::try_from(wal.len() / 4_096).expect("size");
        assert!(
            pages < 6_000,
            "the WAL grew to {pages} pages instead of starting over"
        );
    }

    #[test]
    fn a_memory_database_has_no_checkpoint_thread() {
        let Ok(Some(location)) = Location::from_url("sqlite::memory:") else {
            panic!("memory location");
        };
        let readers = readers(&location, &Arc::default());
        assert!(
            Checkpoints::start(&location, &readers)
                .expect("no thread")
                .is_none()
        );
    }
}
