//! SQLite implementation of [`super::Store`]: the embedded default.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one connection,
//! used by one thread that commits them in groups (never spinning on `SQLITE_BUSY`), while
//! reads use a separate pool and, thanks to WAL, never wait for writers.
//!
//! The `Store` impl both backends share is expanded from `store_impl!`; this file holds what is
//! SQLite's own: connecting, its statements (lists passed as JSON) and where its writes run:
//! every write goes through the group commit (`sqlite_batch`, running `sqlite_writes`).

use super::journal::json_text;
use super::members::json_array;
use super::sqlite_batch::GroupCommit;
use super::sqlite_journal as journal;
use super::sqlite_writes as writes;
use super::store_impl::store_impl;
use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub(super) const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1, $2, value FROM json_each($3) WHERE true ON CONFLICT DO NOTHING";

// `WHERE true` resolves SQLite's parsing ambiguity between a join's ON and ON CONFLICT;
// `ORDER BY j.key` makes the assigned rowids (`seq`) follow the order the members were given.
pub(super) const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1, $2, r.id, r.kind FROM json_each($3) AS j \
     JOIN resources AS r ON r.tenant = $1 AND r.id = j.value \
     WHERE true ORDER BY j.key ON CONFLICT DO NOTHING";

pub(super) const FIRST_UNKNOWN: &str = "SELECT j.value FROM json_each($2) AS j WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = j.value) LIMIT 1";

pub(super) const REMOVE_MEMBERS: &str = "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 \
     AND member_id IN (SELECT value FROM json_each($3))";

pub(super) const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name \
     FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.group_id = j.value \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     ORDER BY m.seq";

pub(super) const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name \
     FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.member_id = j.value \
     JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
     ORDER BY m.seq";

const READ_CONNECTIONS: u32 = 4;

/// How often opening an operation is tried when the operation that refused it finished before
/// it could be read (it then no longer holds the key or the resource).
const OPEN_ATTEMPTS: usize = 5;

pub struct SqliteStore {
    /// Readers; for an in-memory database the write pool itself (a private in-memory database
    /// exists only on its one connection).
    read: SqlitePool,
    /// Every write, committed in groups on the write pool of exactly one connection (SQLite's
    /// single writer, made explicit), which it owns (see `sqlite_batch`).
    batch: GroupCommit,
}

impl SqliteStore {
    /// `sqlite://PATH` (file and parent directory created if missing) or `sqlite::memory:`.
    ///
    /// Every pool is built with `test_before_acquire(false)`: a SQLite connection is a library
    /// handle in this process, which a ping cannot find broken, and the ping is one more
    /// hand-off to the connection's worker thread per query.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Savepoint sub-journals in memory: the journal's group commit nests a savepoint per
            // write, and on disk each would spill to a temporary file, a write per page touched.
            .pragma("temp_store", "memory");
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            // The database lives as long as its connection: keep exactly one, forever.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            return Ok(SqliteStore {
                batch: GroupCommit::start(pool.clone()).map_err(sqlx::Error::Io)?,
                read: pool,
            });
        }
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // WAL: readers do not block the writer nor it them. synchronous=NORMAL: a commit is
        // durable once the WAL is checkpointed; a power loss may lose the last commits but never
        // corrupts the database (the usual WAL trade-off, and what makes writes fast).
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            batch: GroupCommit::start(write).map_err(sqlx::Error::Io)?,
            read,
        })
    }

    // Every write goes through the group commit: each runs on the single write connection
    // inside a shared transaction and answers once that is committed, so, for instance, a
    // step's outcome is durable before the next step runs (see `sqlite_batch`).

    async fn resource_create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<Resource> {
        let (tenant, id, doc, members) = (
            tenant.to_owned(),
            id.to_owned(),
            doc.clone(),
            members.to_vec(),
        );
        self.batch
            .run(move |db| writes::create(db, &tenant, kind, &id, &doc, &members, None))
            .await
    }

    async fn resource_update(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        revision: i64,
        doc: &Map<String, Value>,
        members: &MemberChanges,
    ) -> StoreResult<Resource> {
        let (tenant, id, doc, members) = (
            tenant.to_owned(),
            id.to_owned(),
            doc.clone(),
            members.clone(),
        );
        self.batch
            .run(move |db| writes::update(db, &tenant, kind, &id, revision, &doc, &members, None))
            .await
    }

    async fn resource_delete(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        self.batch
            .run(move |db| writes::delete(db, &tenant, kind, &id))
            .await
    }

    async fn resource_set_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        luid: Option<&str>,
    ) -> StoreResult<()> {
        let (tenant, id, luid) = (tenant.to_owned(), id.to_owned(), luid.map(str::to_owned));
        self.batch
            .run(move |db| writes::set_luid(db, &tenant, kind, &id, luid.as_deref()))
            .await
    }

    async fn journal_open(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened> {
        for _ in 0..OPEN_ATTEMPTS {
            let (new, steps) = (op.clone(), plan.to_vec());
            let created = self
                .batch
                .run(move |db| writes::open(db, &new, &steps))
                .await?;
            if let Some(created) = created {
                return Ok(Opened::Created(created));
            }
            // Refused: by whom is read once the batch is committed. If that operation has
            // finished meanwhile (its key and its hold on the resource go with it), try again.
            let mut conn = self.read.acquire().await?;
            if let Some(found) = journal::refused_by(&mut conn, op).await? {
                return Ok(found);
            }
        }
        // Refused every time by no running operation: the id itself is taken.
        Err(StoreError::Conflict {
            attribute: "id",
            value: op.id.clone(),
        })
    }

    async fn journal_record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        let (tenant, op_id, outcome) = (tenant.to_owned(), op_id.to_owned(), outcome.clone());
        self.batch
            .run(move |db| writes::record_step(db, &tenant, &op_id, idx, &outcome))
            .await
    }

    async fn journal_replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        let (tenant, op_id, steps) = (tenant.to_owned(), op_id.to_owned(), steps.to_vec());
        self.batch
            .run(move |db| writes::replace_plan(db, &tenant, &op_id, from_idx, &steps))
            .await
    }

    async fn journal_fail(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()> {
        let (tenant, op_id, body) = (tenant.to_owned(), op_id.to_owned(), json_text(error_body)?);
        self.batch
            .run(move |db| writes::fail(db, &tenant, &op_id, status, &body))
            .await
    }

    async fn journal_touch(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        let (tenant, op_id) = (tenant.to_owned(), op_id.to_owned());
        self.batch
            .run(move |db| writes::touch(db, &tenant, &op_id))
            .await
    }

    async fn journal_complete(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let (tenant, op_id, commit) = (tenant.to_owned(), op_id.to_owned(), commit.clone());
        self.batch
            .run(move |db| writes::complete(db, &tenant, &op_id, status, &commit))
            .await
    }
}

/// Lists go to SQLite as one JSON array text, which the statements above expand with
/// `json_each`.
fn list_param<T: AsRef<str>>(items: &[T]) -> String {
    json_array(items)
}

store_impl!(SqliteStore, SqliteConnection, read: read);
