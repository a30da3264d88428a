//! PostgreSQL implementation of [`super::Store`], for several replicas sharing one database.
//! Lists of values are passed as one array parameter and expanded with `unnest`, so a
//! membership change is one statement whatever its size.
//!
//! The `Store` impl both backends share is expanded from `store_impl!`; this file holds what is
//! PostgreSQL's own: connecting, its statements (lists passed as arrays, the one-statement
//! insert) and where its writes run. The resource writes are in `postgres_writes`.

use super::columns::Columns;
use super::errors::write_error;
use super::postgres_journal as journal;
use super::postgres_writes::{create_in, delete_in, update_in};
use super::store_impl::store_impl;
use super::*;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};

/// A create in one statement (atomic by itself): the e-mail rows come from a data-modifying
/// CTE, which saves a user create the BEGIN/COMMIT and e-mail round trips.
const INSERT_WITH_EMAILS: &str = concat!(
    "WITH r AS (",
    sql::insert_resource!(),
    " RETURNING tenant, id) \
     INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT r.tenant, r.id, e.value FROM r CROSS JOIN unnest($12::text[]) AS e(value) \
     ON CONFLICT DO NOTHING"
);

pub(super) const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1::text, $2::text, unnest($3::text[]) ON CONFLICT DO NOTHING";

// `ORDER BY u.ord` makes `seq` follow the order the members were given.
pub(super) const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1::text, $2::text, r.id, r.kind \
     FROM unnest($3::text[]) WITH ORDINALITY AS u(id, ord) \
     JOIN resources AS r ON r.tenant = $1 AND r.id = u.id \
     ORDER BY u.ord ON CONFLICT DO NOTHING";

pub(super) const FIRST_UNKNOWN: &str = "SELECT u.id FROM unnest($2::text[]) AS u(id) WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = u.id) LIMIT 1";

pub(super) const REMOVE_MEMBERS: &str =
    "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3::text[])";

const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name \
     FROM memberships AS m \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     WHERE m.tenant = $1 AND m.group_id = ANY($2::text[]) \
     ORDER BY m.seq";

const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name \
     FROM memberships AS m \
     JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
     WHERE m.tenant = $1 AND m.member_id = ANY($2::text[]) \
     ORDER BY m.seq";

const MAX_CONNECTIONS: u32 = 10;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect(url)
            .await?;
        // The migrator holds an advisory lock, so replicas starting together migrate once.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    // Every write on a pooled connection of its own (several servers and many connections
    // write concurrently; no batching needed).

    async fn resource_create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<Resource> {
        if !create_in_transaction(kind, members) {
            let mut conn = self.pool.acquire().await?;
            return create_in(&mut conn, tenant, kind, id, doc, members, None).await;
        }
        let mut tx = self.pool.begin().await?;
        let resource = create_in(&mut tx, tenant, kind, id, doc, members, None).await?;
        tx.commit().await?;
        Ok(resource)
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
        let mut tx = self.pool.begin().await?;
        let resource = update_in(&mut tx, tenant, kind, id, revision, doc, members, None).await?;
        tx.commit().await?;
        Ok(resource)
    }

    async fn resource_delete(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        delete_in(&mut conn, tenant, kind, id).await
    }

    async fn resource_set_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        luid: Option<&str>,
    ) -> StoreResult<()> {
        let updated = sqlx::query(sql::SET_LUID)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(id)
            .bind(luid)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn journal_replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        journal::replace_plan(&self.pool, tenant, op_id, from_idx, steps).await
    }

    async fn journal_fail(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()> {
        journal::fail(&self.pool, tenant, op_id, status, error_body).await
    }

    async fn journal_touch(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        journal::touch(&self.pool, tenant, op_id).await
    }

    async fn journal_open(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened> {
        journal::open(&self.pool, op, plan).await
    }

    async fn journal_record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        journal::record_step(&mut conn, tenant, op_id, idx, outcome).await
    }

    async fn journal_complete(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>> {
        let mut conn = self.pool.acquire().await?;
        journal::complete(&mut conn, tenant, op_id, status, commit).await
    }
}

/// Lists go to PostgreSQL as one array parameter, which the statements above expand with
/// `unnest` or `ANY`.
pub(super) fn list_param<T>(items: &[T]) -> &[T] {
    items
}

/// A user, or a group without members, is one statement (`INSERT_WITH_EMAILS`), atomic by
/// itself; only a group with members takes several statements, hence a transaction.
fn create_in_transaction(kind: ResourceKind, members: &[(String, ResourceKind)]) -> bool {
    kind == ResourceKind::Group && !members.is_empty()
}

/// A new resource and its e-mail rows, in one statement.
pub(super) async fn insert_resource(
    conn: &mut PgConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    cols: &Columns,
    now: &str,
    tableau_luid: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(INSERT_WITH_EMAILS)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .bind(&cols.doc)
        .bind(&cols.user_name)
        .bind(&cols.user_name_lower)
        .bind(&cols.external_id)
        .bind(&cols.display_name)
        .bind(&cols.display_name_lower)
        .bind(now)
        .bind(tableau_luid)
        .bind(&cols.emails_lower)
        .execute(conn)
        .await
        .map_err(|e| write_error(e, id, cols))?;
    Ok(())
}

store_impl!(PostgresStore, PgConnection, read: pool);
