//! SQLite implementation of [`super::Store`]: the embedded default, on rusqlite.
//!
//! SQLite allows one writer at a time, so every write goes to one thread, `sqlite-writer`,
//! which owns the write connection and commits the writes waiting at the same moment together
//! (`writer`), never spinning on `SQLITE_BUSY`. Reads use a small pool of connections of their
//! own (`readers`) and, thanks to WAL, never wait for the writer; small ones run right on the
//! calling thread.
//!
//! - `location`: the URL, the file (created 0600), opening connections;
//! - `migrate`: the schema, from `migrations/sqlite`;
//! - `exec`: running statements (`$N` parameters, cached statements, savepoints);
//! - `sql`: SQLite's own statements (lists as JSON);
//! - `reads` and `writes`: what the `Store` methods run, synchronously, on a connection.

mod checkpointer;
mod console;
mod exec;
mod held;
mod location;
mod migrate;
mod positions;
mod readers;
mod reads;
mod sql;
mod writer;
mod writes;

pub(crate) use location::Location;
pub(crate) use migrate::pending as pending_migrations;
/// How late, at most, a store sees what another process (or another store on the same file)
/// commits: readers keep their read transaction that long between reads (see `readers`).
/// What this store's own writer commits is seen by every read that starts after it.
pub use readers::SNAPSHOT_MAX_AGE;

use crate::store::columns::cutoff;
use crate::store::journal::{Applied, json_text};
use crate::store::{
    Lookup, MemberChanges, NewOperation, Opened, Operation, OperationState, Page, PageRequest,
    PlannedStep, Resource, ResourceCommit, ResourceKind, StepOutcome, Store, StoreError,
    StoreResult,
};
use readers::Readers;
use rusqlite::types::ToSql;
use serde_json::{Map, Value};
use std::sync::Arc;
use writer::{Commits, Writer};

pub struct SqliteStore {
    /// Every write, group-committed on the writer thread.
    writer: Writer,
    readers: Arc<Readers>,
}

impl SqliteStore {
    /// `sqlite://PATH` or `sqlite:PATH` (file and parent directory created if missing), or
    /// `sqlite::memory:`; the schema is brought up to date.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        match Location::from_url(url)? {
            Some(location) => Self::open(location).await,
            None => Err(StoreError::Invalid(format!(
                "not a SQLite store URL: use sqlite://PATH, sqlite:PATH or sqlite::memory: \
                 (got '{}')",
                url.split(':').next().unwrap_or_default()
            ))),
        }
    }

    pub(crate) async fn open(location: Location) -> StoreResult<Self> {
        let at = location.clone();
        let commits = Arc::new(Commits::default());
        let readers = Readers::new(location.clone(), commits.clone());
        let checkpoints = checkpointer::Checkpoints::start(&location, &readers)?;
        let writer = Writer::start(
            move || {
                let mut db = at.open_writer()?;
                migrate::run(&mut db)?;
                Ok(db)
            },
            checkpoints,
            commits,
        )
        .await?;
        // After the writer: the database exists, migrated (and in memory, the writer's
        // connection keeps it alive).
        readers.check()?;
        Ok(SqliteStore { writer, readers })
    }

    /// Apply a resource change on the writer (see `writes::apply`).
    async fn write(&self, tenant: &str, commit: ResourceCommit) -> StoreResult<Applied> {
        let tenant = tenant.to_owned();
        self.writer
            .run(move |db| writes::apply(db, &tenant, &commit))
            .await
    }

    /// Run a journal write on the writer, for the operation `op_id` of `tenant`.
    async fn journal<T, F>(&self, tenant: &str, op_id: &str, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection, &str, &str) -> StoreResult<T> + Send + 'static,
    {
        let (tenant, op_id) = (tenant.to_owned(), op_id.to_owned());
        self.writer.run(move |db| write(db, &tenant, &op_id)).await
    }
}

/// Whether relations to load may be many: a group's members (a user's groups are few).
fn many_relations(kind: ResourceKind, with_relations: bool) -> bool {
    with_relations && kind == ResourceKind::Group
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<Resource> {
        let commit = ResourceCommit::create(kind, id, doc, members);
        self.write(tenant, commit).await?.stored()
    }

    async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Option<Resource>> {
        if many_relations(kind, with_relations) {
            let (tenant, id) = (tenant.to_owned(), id.to_owned());
            return self
                .readers
                .read_blocking(move |db| reads::get(db, &tenant, kind, &id, with_relations))
                .await;
        }
        self.readers
            .read(|db| reads::get(db, tenant, kind, id, with_relations))
    }

    async fn update(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        revision: i64,
        doc: &Map<String, Value>,
        members: &MemberChanges,
    ) -> StoreResult<Resource> {
        let commit = ResourceCommit::update(kind, id, revision, doc, members);
        self.write(tenant, commit).await?.stored()
    }

    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool> {
        let commit = ResourceCommit::delete(kind, id);
        Ok(self.write(tenant, commit).await?.deleted())
    }

    /// On the calling thread for a lookup (one or a few rows), on the blocking pool for every
    /// resource of a kind or the members of groups (large reads).
    async fn find(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&Lookup>,
        with_relations: bool,
        text: bool,
    ) -> StoreResult<Page> {
        if lookup.is_none() || many_relations(kind, with_relations) {
            let (tenant, lookup) = (tenant.to_owned(), lookup.cloned());
            return self
                .readers
                .read_blocking(move |db| {
                    reads::find(db, &tenant, kind, lookup.as_ref(), with_relations, text)
                })
                .await;
        }
        self.readers
            .read(|db| reads::find(db, tenant, kind, lookup, with_relations, text))
    }

    async fn page(
        &self,
        tenant: &str,
        kind: ResourceKind,
        request: &PageRequest,
    ) -> StoreResult<Page> {
        // A count reads the whole list index, and a page may be large: off the async workers.
        let (tenant, request) = (tenant.to_owned(), *request);
        self.readers
            .read_blocking_with(move |reader| {
                reads::page(
                    &reader.conn,
                    Some(&mut reader.positions),
                    &tenant,
                    kind,
                    &request,
                )
            })
            .await
    }

    async fn get_many(
        &self,
        tenant: &str,
        kind: ResourceKind,
        ids: &[String],
        with_relations: bool,
    ) -> StoreResult<Vec<Resource>> {
        let (tenant, ids) = (tenant.to_owned(), ids.to_vec());
        self.readers
            .read_blocking(move |db| reads::get_many(db, &tenant, kind, &ids, with_relations))
            .await
    }

    async fn open_operation(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened> {
        let (op, plan) = (op.clone(), plan.to_vec());
        self.writer
            .run(move |db| writes::open(db, &op, &plan))
            .await
    }

    async fn record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        let outcome = outcome.clone();
        self.journal(tenant, op_id, move |db, tenant, op_id| {
            writes::record_step(db, tenant, op_id, idx, &outcome)
        })
        .await
    }

    async fn replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        let steps = steps.to_vec();
        self.journal(tenant, op_id, move |db, tenant, op_id| {
            writes::replace_plan(db, tenant, op_id, from_idx, &steps)
        })
        .await
    }

    async fn complete_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let commit = commit.clone();
        let applied = self
            .journal(tenant, op_id, move |db, tenant, op_id| {
                writes::complete(db, tenant, op_id, status, &commit)
            })
            .await?;
        Ok(applied.into_resource())
    }

    async fn fail_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()> {
        let body = json_text(error_body)?;
        self.journal(tenant, op_id, move |db, tenant, op_id| {
            let failed = OperationState::Failed;
            writes::finish(db, tenant, op_id, failed, status, Some(&body))
        })
        .await
    }

    async fn get_operation(&self, tenant: &str, op_id: &str) -> StoreResult<Option<Operation>> {
        self.readers
            .read(|db| reads::operation(db, crate::store::sql::OPERATION, &[&tenant, &op_id]))
    }

    async fn operation_by_key(
        &self,
        tenant: &str,
        idem_key: &str,
    ) -> StoreResult<Option<Operation>> {
        self.readers
            .read(|db| reads::operation(db, crate::store::sql::BY_KEY, &[&tenant, &idem_key]))
    }

    async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>> {
        self.readers
            .read_blocking(move |db| {
                reads::operations(db, crate::store::sql::UNFINISHED, &[&limit])
            })
            .await
    }

    async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        self.journal(tenant, op_id, writes::touch).await
    }

    async fn list_operations(
        &self,
        tenant: &str,
        resource_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        let (tenant, resource_id) = (tenant.to_owned(), resource_id.map(str::to_owned));
        self.readers
            .read_blocking(move |db| {
                use crate::store::sql::{LIST, LIST_FOR_RESOURCE};
                match &resource_id {
                    Some(id) => reads::operations(db, LIST_FOR_RESOURCE, &[&tenant, id, &limit]),
                    None => reads::operations(db, LIST, &[&tenant as &dyn ToSql, &limit]),
                }
            })
            .await
    }

    async fn prune_operations(&self, finished_before: &str, limit: i64) -> StoreResult<u64> {
        let cutoff = cutoff(finished_before)?;
        if limit <= 0 {
            return Ok(0);
        }
        self.writer
            .run(move |db| {
                let deleted = exec::execute(db, crate::store::sql::PRUNE, &[&cutoff, &limit])?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn search_operations(
        &self,
        tenant: &str,
        filter: &crate::store::OperationFilter,
    ) -> StoreResult<Vec<Operation>> {
        let values = crate::store::console::FilterValues::new(tenant, filter)?;
        self.readers
            .read_blocking(move |db| console::search_operations(db, &values))
            .await
    }

    async fn record_refusal(&self, refusal: &crate::store::NewRefusal) -> StoreResult<()> {
        let (refusal, now) = (refusal.clone(), crate::store::columns::now_timestamp());
        self.writer
            .run(move |db| console::record_refusal(db, &refusal, &now))
            .await
    }

    async fn search_refusals(
        &self,
        tenant: &str,
        filter: &crate::store::OperationFilter,
    ) -> StoreResult<Vec<crate::store::Refusal>> {
        let values = crate::store::console::FilterValues::new(tenant, filter)?;
        self.readers
            .read_blocking(move |db| console::search_refusals(db, &values))
            .await
    }

    async fn counts_since(&self, tenant: &str, since: &str) -> StoreResult<Vec<(String, i64)>> {
        let (tenant, since) = (tenant.to_owned(), cutoff(since)?);
        self.readers
            .read_blocking(move |db| console::counts_since(db, &tenant, &since))
            .await
    }

    async fn prune_refusals(&self, before: &str, limit: i64) -> StoreResult<u64> {
        let before = cutoff(before)?;
        if limit <= 0 {
            return Ok(0);
        }
        self.writer
            .run(move |db| console::prune_refusals(db, &before, limit))
            .await
    }

    async fn find_by_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        luid: &str,
    ) -> StoreResult<Option<Resource>> {
        self.readers
            .read(|db| reads::find_by_luid(db, tenant, kind, luid))
    }

    async fn hold_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let commit = commit.clone();
        let applied = self
            .journal(tenant, op_id, move |db, tenant, op_id| {
                held::finish_committed(db, crate::store::sql::HOLD, tenant, op_id, status, &commit)
            })
            .await?;
        Ok(applied.into_resource())
    }

    async fn plan_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let commit = commit.clone();
        let applied = self
            .journal(tenant, op_id, move |db, tenant, op_id| {
                let plan_only = crate::store::sql::PLAN_ONLY;
                held::finish_committed(db, plan_only, tenant, op_id, status, &commit)
            })
            .await?;
        Ok(applied.into_resource())
    }

    async fn planned_operations(&self, tenant: &str) -> StoreResult<(i64, i64)> {
        self.readers.read(|db| held::planned(db, tenant))
    }

    async fn converge_planned(&self, tenant: &str, up_to_seq: i64, note: &str) -> StoreResult<u64> {
        let (tenant, note) = (tenant.to_owned(), note.to_owned());
        self.writer
            .run(move |db| held::converge(db, &tenant, up_to_seq, &note))
            .await
    }

    async fn release_operation(&self, tenant: &str, op_id: &str) -> StoreResult<()> {
        self.journal(tenant, op_id, held::release).await
    }

    async fn discard_operation(&self, tenant: &str, op_id: &str, note: &str) -> StoreResult<()> {
        let note = note.to_owned();
        self.journal(tenant, op_id, move |db, tenant, op_id| {
            held::discard(db, tenant, op_id, &note)
        })
        .await
    }

    async fn discard_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
        note: &str,
    ) -> StoreResult<u64> {
        let (tenant, id, note) = (tenant.to_owned(), resource_id.to_owned(), note.to_owned());
        self.writer
            .run(move |db| held::discard_on(db, &tenant, kind, &id, &note))
            .await
    }

    async fn has_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
    ) -> StoreResult<bool> {
        self.readers
            .read(|db| held::has_held_on(db, tenant, kind, resource_id))
    }

    async fn held_operations(&self, tenant: &str, limit: i64) -> StoreResult<Vec<Operation>> {
        let tenant = tenant.to_owned();
        self.readers
            .read_blocking(move |db| {
                reads::operations(
                    db,
                    crate::store::sql::HELD,
                    &[&tenant as &dyn ToSql, &limit],
                )
            })
            .await
    }

    async fn removals_since(&self, tenant: &str, since: &str) -> StoreResult<i64> {
        self.readers
            .read(|db| held::removals_since(db, tenant, since))
    }

    async fn set_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        luid: Option<&str>,
    ) -> StoreResult<()> {
        let (tenant, id, luid) = (tenant.to_owned(), id.to_owned(), luid.map(str::to_owned));
        self.writer
            .run(move |db| writes::set_luid(db, &tenant, kind, &id, luid.as_deref()))
            .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.readers.read(|db| {
            exec::rows(db, crate::store::health::PING, &[], |_| Ok(()))?;
            Ok(())
        })
    }

    async fn operation_stats(&self) -> StoreResult<crate::store::OperationStats> {
        self.readers
            .read_blocking(|db| {
                use crate::store::health::{OPERATION_STATS, stats_row};
                let rows = exec::rows(db, OPERATION_STATS, &[], stats_row)?;
                Ok(crate::store::OperationStats::from_rows(rows))
            })
            .await
    }
}
