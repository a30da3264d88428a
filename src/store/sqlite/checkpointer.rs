//! WAL checkpoints on a thread of their own, `sqlite-checkpoint`, not on the writer's.
//!
//! SQLite's default checkpoints on the committing connection once the WAL holds 1,000 pages:
//! the writer thread then copies the pages into the database file and syncs it while every
//! write waiting behind it stalls, and a page written by many commits is copied again at each
//! checkpoint. In the push benchmark that was ~15 % of the writer's time. Here the writer
//! only signals each commit; this thread waits a moment for the burst to gather (a page
//! rewritten within it is copied once), then runs a PASSIVE checkpoint on its own connection,
//! which never blocks the writer nor the readers. The writer keeps SQLite's automatic
//! checkpoint as a backstop at a larger size (`location::WAL_BACKSTOP_PAGES`), should this
//! thread fall behind.
//!
//! Durability gains too: with `synchronous=NORMAL` a commit reaches the disk when the WAL is
//! synced, at a checkpoint; a quiet server used to wait for the 1,000th page, now a commit is
//! on disk within about [`GATHER`] of being made.

use super::location::Location;
use rusqlite::Connection;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// How long commits gather before a checkpoint.
const GATHER: Duration = Duration::from_millis(250);

/// The writer's handle: tells the checkpoint thread that a commit was made. Dropping it (the
/// writer stopped) ends the thread after a last checkpoint.
pub(super) struct Checkpoints {
    wake: SyncSender<()>,
}

impl Checkpoints {
    /// Start the thread for a database file; `None` for an in-memory database (no WAL). Its
    /// connection is opened at the first commit, when the writer has created the database.
    pub(super) fn start(location: &Location) -> Option<Self> {
        let Location::File(_) = location else {
            return None;
        };
        let (wake, woken) = sync_channel(1);
        let location = location.clone();
        let started = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || serve(&location, &woken));
        match started {
            Ok(_) => Some(Checkpoints { wake }),
            Err(e) => {
                // The writer's automatic checkpoint still bounds the WAL.
                tracing::warn!(error = %e, "cannot start the SQLite checkpoint thread; the writer checkpoints");
                None
            }
        }
    }

    /// A commit was made (never blocks: wake-ups coalesce).
    pub(super) fn committed(&self) {
        let _ = self.wake.try_send(());
    }
}

fn serve(location: &Location, woken: &Receiver<()>) {
    let mut db: Option<Connection> = None;
    while woken.recv().is_ok() {
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
        if let Some(conn) = &db
            && let Err(e) = checkpoint(conn)
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the next commit retries it");
        }
        if stopped {
            return;
        }
    }
}

/// A PASSIVE checkpoint: as many WAL pages as no reader still needs, copied into the database
/// file and synced, without waiting for anyone.
fn checkpoint(db: &Connection) -> rusqlite::Result<()> {
    db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let location = Location::File(path.clone());
        let db = location.open_writer().expect("writer");
        let checkpoints = Checkpoints::start(&location).expect("a file has a WAL");
        db.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (42);")
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

    #[test]
    fn a_memory_database_has_no_checkpoint_thread() {
        let Ok(Some(location)) = Location::from_url("sqlite::memory:") else {
            panic!("memory location");
        };
        assert!(Checkpoints::start(&location).is_none());
    }
}
