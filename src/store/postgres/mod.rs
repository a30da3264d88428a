//! PostgreSQL implementation of [`super::Store`] (sqlx), for several replicas sharing one
//! database: every call on a pooled connection of its own (many connections and servers write
//! concurrently; the database's unique indexes and row locks keep them consistent).
//!
//! - `sql`: PostgreSQL's own statements (lists as arrays, one-statement writes);
//! - `writes`: the resource writes (`apply`);
//! - `journal`: the operation journal.

mod console;
mod held;
mod journal;
mod sql;
mod writes;

use crate::store::columns::{cutoff, lookup_value};
use crate::store::journal::{Applied, json_text};
use crate::store::paging::{self, Page, PageRequest, PageStart};
use crate::store::rows::{self, Row};
use crate::store::{
    Lookup, MemberChanges, MigrationState, NewOperation, Opened, Operation, OperationState,
    PlannedStep, Resource, ResourceCommit, ResourceKind, StepOutcome, Store, StoreError,
    StoreResult,
};
use serde_json::{Map, Value};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Acquire, Connection, Postgres};

const MAX_CONNECTIONS: u32 = 10;

/// How long the first connection may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

impl Row for PgRow {
    fn text(&self, i: usize) -> StoreResult<String> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
    fn flag(&self, i: usize) -> StoreResult<bool> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
}

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse()?;
        // One connection first, so that a refused connection, a wrong password or a missing
        // database is reported at once with its cause: the pool retries such errors until its
        // acquire timeout and then says only "pool timed out".
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {} s (check the host, port and firewall)",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        // The migrator holds an advisory lock, so replicas starting together migrate once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(Box::new(e)))?;
        Ok(PostgresStore { pool })
    }

    /// What this build's migrations find in the database; nothing is changed (for
    /// `tableau-scim check`).
    pub async fn pending_migrations(url: &str) -> StoreResult<MigrationState> {
        let options: PgConnectOptions = url.parse()?;
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "PostgreSQL did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
        let migrator = sqlx::migrate!("./migrations/postgres");
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?;
        let applied: Vec<(i64, Vec<u8>)> = if exists {
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut conn)
                .await?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        Ok(MigrationState::compare(
            migrator
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| (m.version, m.checksum.to_vec())),
            applied,
        ))
    }

    /// Apply a resource change, in a transaction when it takes several statements.
    async fn write(&self, tenant: &str, commit: &ResourceCommit) -> StoreResult<Applied> {
        let mut conn = self.pool.acquire().await?;
        if !writes::needs_transaction(commit) {
            return writes::apply(&mut conn, tenant, commit).await;
        }
        let mut tx = conn.begin().await?;
        let applied = writes::apply(&mut tx, tenant, commit).await?;
        tx.commit().await?;
        Ok(applied)
    }
}

/// Members (groups) or groups (users) of all `resources` at once, all of one kind.
pub(super) async fn load_relations(
    conn: &mut PgConnection,
    tenant: &str,
    resources: &mut [Resource],
) -> StoreResult<()> {
    let Some(first) = resources.first() else {
        return Ok(());
    };
    let sql = match first.kind {
        ResourceKind::Group => sql::MEMBERS_OF,
        ResourceKind::User => sql::GROUPS_OF,
    };
    let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
    let relations = sqlx::query(sql)
        .bind(tenant)
        .bind(&ids)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| rows::relation(row))
        .collect::<StoreResult<_>>()?;
    rows::attach_relations(resources, relations)
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<Resource> {
        let commit = ResourceCommit::create(kind, id, doc, members);
        self.write(tenant, &commit).await?.stored()
    }

    async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Option<Resource>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(crate::store::sql::GET)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut resource = rows::resource(&row)?;
        if with_relations {
            load_relations(&mut conn, tenant, std::slice::from_mut(&mut resource)).await?;
        }
        Ok(Some(resource))
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
        self.write(tenant, &commit).await?.stored()
    }

    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool> {
        let commit = ResourceCommit::delete(kind, id);
        Ok(self.write(tenant, &commit).await?.deleted())
    }

    async fn find(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&Lookup>,
        with_relations: bool,
        text: bool,
    ) -> StoreResult<Page> {
        let mut conn = self.pool.acquire().await?;
        let mut query = sqlx::query(crate::store::sql::list_sql(lookup))
            .bind(tenant)
            .bind(kind.as_str());
        if let Some(lookup) = lookup {
            query = query.bind(lookup_value(lookup));
        }
        let found = query
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| rows::resource_read(row, text))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut found = paging::found_of(found);
        if with_relations {
            load_relations(&mut conn, tenant, &mut found.resources).await?;
        }
        Ok(found)
    }

    async fn page(
        &self,
        tenant: &str,
        kind: ResourceKind,
        request: &PageRequest,
    ) -> StoreResult<Page> {
        // Two statements on one connection: a write committed between them may make the total
        // and the page disagree by that write, which SCIM paging allows (RFC 7644 §3.4.2.4).
        let mut conn = self.pool.acquire().await?;
        let total = match request.count_total {
            true => {
                let row = sqlx::query(paging::COUNT)
                    .bind(tenant)
                    .bind(kind.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
                Some(paging::count_of(row.int(0)?))
            }
            false => None,
        };
        if request.limit == 0 {
            return Ok(paging::page_of(Vec::new(), total));
        }
        let limit = paging::sql_int(request.limit);
        let query = match request.start {
            PageStart::Offset(offset) => sqlx::query(paging::BY_OFFSET)
                .bind(tenant)
                .bind(kind.as_str())
                .bind(limit)
                .bind(paging::sql_int(offset)),
            PageStart::After(cursor) => sqlx::query(paging::AFTER)
                .bind(tenant)
                .bind(kind.as_str())
                .bind(cursor)
                .bind(limit),
        };
        let found = query
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| paging::page_row(row, request))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut page = paging::page_of(found, total);
        if request.with_relations {
            load_relations(&mut conn, tenant, &mut page.resources).await?;
        }
        Ok(page)
    }

    async fn get_many(
        &self,
        tenant: &str,
        kind: ResourceKind,
        ids: &[String],
        with_relations: bool,
    ) -> StoreResult<Vec<Resource>> {
        let mut conn = self.pool.acquire().await?;
        let mut resources = sqlx::query(paging::POSTGRES_GET_MANY)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| paging::resource_and_seq(row).map(|(r, _)| r))
            .collect::<StoreResult<Vec<_>>>()?;
        if with_relations {
            load_relations(&mut conn, tenant, &mut resources).await?;
        }
        Ok(resources)
    }

    async fn open_operation(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened> {
        let mut conn = self.pool.acquire().await?;
        journal::open(&mut conn, op, plan).await
    }

    async fn record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        journal::record_step(&mut conn, tenant, op_id, idx, outcome).await
    }

    async fn replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        journal::replace_plan(&mut tx, tenant, op_id, from_idx, steps).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        // Dropping `tx` on an error rolls both back: the operation stays running.
        let mut tx = self.pool.begin().await?;
        let applied = journal::complete(&mut tx, tenant, op_id, status, commit).await?;
        tx.commit().await?;
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
        let mut conn = self.pool.acquire().await?;
        let failed = OperationState::Failed;
        journal::finish(&mut conn, tenant, op_id, failed, status, Some(body)).await
    }

    async fn get_operation(&self, tenant: &str, op_id: &str) -> StoreResult<Option<Operation>> {
        let mut conn = self.pool.acquire().await?;
        journal::one(&mut conn, crate::store::sql::OPERATION, tenant, op_id).await
    }

    async fn operation_by_key(
        &self,
        tenant: &str,
        idem_key: &str,
    ) -> StoreResult<Option<Operation>> {
        let mut conn = self.pool.acquire().await?;
        journal::one(&mut conn, crate::store::sql::BY_KEY, tenant, idem_key).await
    }

    async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(crate::store::sql::UNFINISHED)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        journal::with_steps(&mut conn, rows).await
    }

    async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        journal::touch(&mut conn, tenant, op_id).await
    }

    async fn list_operations(
        &self,
        tenant: &str,
        resource_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        use crate::store::sql::{LIST, LIST_FOR_RESOURCE};
        let mut conn = self.pool.acquire().await?;
        let query = match resource_id {
            Some(id) => sqlx::query(LIST_FOR_RESOURCE).bind(tenant).bind(id),
            None => sqlx::query(LIST).bind(tenant),
        };
        let rows = query.bind(limit).fetch_all(&mut *conn).await?;
        journal::with_steps(&mut conn, rows).await
    }

    async fn prune_operations(&self, finished_before: &str, limit: i64) -> StoreResult<u64> {
        let cutoff = cutoff(finished_before)?;
        if limit <= 0 {
            return Ok(0);
        }
        let deleted = sqlx::query(crate::store::sql::PRUNE)
            .bind(cutoff)
            .bind(limit)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }

    async fn hold_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        // Dropping `tx` on an error rolls both back: the operation stays running.
        let mut tx = self.pool.begin().await?;
        let hold = crate::store::sql::HOLD;
        let applied = held::finish_committed(&mut tx, hold, tenant, op_id, status, commit).await?;
        tx.commit().await?;
        Ok(applied.into_resource())
    }

    async fn plan_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let mut tx = self.pool.begin().await?;
        let plan_only = crate::store::sql::PLAN_ONLY;
        let applied =
            held::finish_committed(&mut tx, plan_only, tenant, op_id, status, commit).await?;
        tx.commit().await?;
        Ok(applied.into_resource())
    }

    async fn planned_operations(&self, tenant: &str) -> StoreResult<(i64, i64)> {
        held::planned(&self.pool, tenant).await
    }

    async fn converge_planned(&self, tenant: &str, up_to_seq: i64, note: &str) -> StoreResult<u64> {
        held::converge(&self.pool, tenant, up_to_seq, note).await
    }

    async fn release_operation(&self, tenant: &str, op_id: &str) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        held::release(&mut conn, tenant, op_id).await
    }

    async fn discard_operation(&self, tenant: &str, op_id: &str, note: &str) -> StoreResult<()> {
        held::discard(&self.pool, tenant, op_id, note).await
    }

    async fn discard_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
        note: &str,
    ) -> StoreResult<u64> {
        held::discard_on(&self.pool, tenant, kind, resource_id, note).await
    }

    async fn has_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
    ) -> StoreResult<bool> {
        held::has_held_on(&self.pool, tenant, kind, resource_id).await
    }

    async fn held_operations(&self, tenant: &str, limit: i64) -> StoreResult<Vec<Operation>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(crate::store::sql::HELD)
            .bind(tenant)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        journal::with_steps(&mut conn, rows).await
    }

    async fn removals_since(&self, tenant: &str, since: &str) -> StoreResult<i64> {
        held::removals_since(&self.pool, tenant, since).await
    }

    async fn search_operations(
        &self,
        tenant: &str,
        filter: &crate::store::OperationFilter,
    ) -> StoreResult<Vec<Operation>> {
        let values = crate::store::console::FilterValues::new(tenant, filter)?;
        console::search_operations(&self.pool, &values).await
    }

    async fn record_refusal(&self, refusal: &crate::store::NewRefusal) -> StoreResult<()> {
        let now = crate::store::columns::now_timestamp();
        console::record_refusal(&self.pool, refusal, &now).await
    }

    async fn search_refusals(
        &self,
        tenant: &str,
        filter: &crate::store::OperationFilter,
    ) -> StoreResult<Vec<crate::store::Refusal>> {
        let values = crate::store::console::FilterValues::new(tenant, filter)?;
        console::search_refusals(&self.pool, &values).await
    }

    async fn counts_since(&self, tenant: &str, since: &str) -> StoreResult<Vec<(String, i64)>> {
        console::counts_since(&self.pool, tenant, &cutoff(since)?).await
    }

    async fn prune_refusals(&self, before: &str, limit: i64) -> StoreResult<u64> {
        let before = cutoff(before)?;
        if limit <= 0 {
            return Ok(0);
        }
        console::prune_refusals(&self.pool, &before, limit).await
    }

    async fn find_by_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        luid: &str,
    ) -> StoreResult<Option<Resource>> {
        let row = sqlx::query(crate::store::sql::FIND_BY_LUID)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(luid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|row| rows::resource(row)).transpose()
    }

    async fn set_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        luid: Option<&str>,
    ) -> StoreResult<()> {
        let updated = sqlx::query(crate::store::sql::SET_LUID)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(id)
            .bind(luid)
            .execute(&self.pool)
            .await
            .map_err(crate::store::errors::set_luid(luid))?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query(crate::store::health::PING)
            .fetch_optional(&self.pool)
            .await?;
        Ok(())
    }

    async fn operation_stats(&self) -> StoreResult<crate::store::OperationStats> {
        let found = sqlx::query(crate::store::health::OPERATION_STATS)
            .fetch_all(&self.pool)
            .await?;
        let rows = found
            .iter()
            .map(|row| crate::store::health::stats_row(row))
            .collect::<StoreResult<_>>()?;
        Ok(crate::store::OperationStats::from_rows(rows))
    }
}
