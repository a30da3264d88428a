//! SQLite implementation of [`super::Store`]: the embedded default.
//!
//! SQLite allows one writer at a time, so writes go through a pool of exactly one connection
//! (waiting there in the pool's queue rather than spinning on `SQLITE_BUSY`), while reads use a
//! separate pool and, thanks to WAL, never wait for writers.

use super::columns::{Columns, lookup_value, now_timestamp};
use super::errors::{membership_error, write_error};
use super::members::{distinct_ids, json_array};
use super::rows::{RelationRow, ResourceRow, attach_relations, into_resources};
use super::sqlite_journal as journal;
use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1, $2, value FROM json_each($3) WHERE true ON CONFLICT DO NOTHING";

// `WHERE true` resolves SQLite's parsing ambiguity between a join's ON and ON CONFLICT;
// `ORDER BY j.key` makes the assigned rowids (`seq`) follow the order the members were given.
const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1, $2, r.id, r.kind FROM json_each($3) AS j \
     JOIN resources AS r ON r.tenant = $1 AND r.id = j.value \
     WHERE true ORDER BY j.key ON CONFLICT DO NOTHING";

const FIRST_UNKNOWN: &str = "SELECT j.value FROM json_each($2) AS j WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = j.value) LIMIT 1";

const REMOVE_MEMBERS: &str = "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 \
     AND member_id IN (SELECT value FROM json_each($3))";

const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name, r.user_name \
     FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.group_id = j.value \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     ORDER BY m.seq";

const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name, \
     NULL AS user_name FROM json_each($2) AS j \
     JOIN memberships AS m ON m.tenant = $1 AND m.member_id = j.value \
     JOIN resources AS g ON g.tenant = m.tenant AND g.id = m.group_id \
     ORDER BY m.seq";

const READ_CONNECTIONS: u32 = 4;

pub struct SqliteStore {
    /// Exactly one connection: SQLite's single writer, made explicit.
    write: SqlitePool,
    /// Readers; for an in-memory database the same pool as `write` (a private in-memory
    /// database exists only on its one connection).
    read: SqlitePool,
}

impl SqliteStore {
    /// `sqlite://PATH` (file and parent directory created if missing) or `sqlite::memory:`.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if in_memory {
            // The database lives as long as its connection: keep exactly one, forever.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            return Ok(SqliteStore {
                write: pool.clone(),
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
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { write, read })
    }
}

async fn insert_emails(
    conn: &mut SqliteConnection,
    tenant: &str,
    id: &str,
    emails: &[String],
) -> StoreResult<()> {
    if !emails.is_empty() {
        sqlx::query(INSERT_EMAILS)
            .bind(tenant)
            .bind(id)
            .bind(json_array(emails))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Insert the members that are not members yet, in one statement; `UnknownMember` names the
/// first id that is no resource of the tenant.
async fn add_members(
    conn: &mut SqliteConnection,
    tenant: &str,
    group_id: &str,
    add: &[(String, ResourceKind)],
) -> StoreResult<()> {
    let ids = distinct_ids(add);
    if ids.is_empty() {
        return Ok(());
    }
    let ids_json = json_array(&ids);
    let inserted = sqlx::query(ADD_MEMBERS)
        .bind(tenant)
        .bind(group_id)
        .bind(&ids_json)
        .execute(&mut *conn)
        .await
        .map_err(membership_error)?
        .rows_affected();
    // Fewer rows than ids: some were members already, or do not exist. Only then look closer.
    if inserted < ids.len() as u64 {
        let unknown: Option<String> = sqlx::query_scalar(FIRST_UNKNOWN)
            .bind(tenant)
            .bind(&ids_json)
            .fetch_optional(conn)
            .await?;
        if let Some(id) = unknown {
            return Err(StoreError::UnknownMember(id));
        }
    }
    Ok(())
}

async fn remove_members(
    conn: &mut SqliteConnection,
    tenant: &str,
    group_id: &str,
    remove: &[String],
) -> StoreResult<()> {
    if !remove.is_empty() {
        sqlx::query(REMOVE_MEMBERS)
            .bind(tenant)
            .bind(group_id)
            .bind(json_array(remove))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Members (groups) or groups (users) of all `resources` at once, all of one kind.
async fn load_relations(
    conn: &mut SqliteConnection,
    tenant: &str,
    resources: &mut [StoredResource],
) -> StoreResult<()> {
    let Some(first) = resources.first() else {
        return Ok(());
    };
    let sql = match first.kind {
        ResourceKind::Group => MEMBERS_OF,
        ResourceKind::User => GROUPS_OF,
    };
    let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
    let rows: Vec<RelationRow> = sqlx::query_as(sql)
        .bind(tenant)
        .bind(json_array(&ids))
        .fetch_all(conn)
        .await?;
    attach_relations(resources, rows)
}

/// Create a resource on `conn` (inside the caller's transaction): see `Store::create`.
pub(super) async fn create_in(
    conn: &mut SqliteConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
    tableau_luid: Option<&str>,
) -> StoreResult<StoredResource> {
    let cols = Columns::derive(kind, doc)?;
    let now = now_timestamp();
    sqlx::query(sql::INSERT)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .bind(&cols.doc)
        .bind(&cols.user_name)
        .bind(&cols.user_name_lower)
        .bind(&cols.external_id)
        .bind(&cols.display_name)
        .bind(&cols.display_name_lower)
        .bind(&now)
        .bind(tableau_luid)
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, id, &cols))?;
    insert_emails(conn, tenant, id, &cols.emails_lower).await?;
    let mut resource = StoredResource {
        id: id.to_owned(),
        kind,
        doc: doc.clone(),
        created: now.clone(),
        last_modified: now,
        revision: 1,
        tableau_luid: tableau_luid.map(str::to_owned),
        members: Vec::new(),
        groups: Vec::new(),
    };
    // A new user belongs to no group yet; only a new group's members need reading back.
    if kind == ResourceKind::Group && !members.is_empty() {
        add_members(conn, tenant, id, members).await?;
        load_relations(conn, tenant, std::slice::from_mut(&mut resource)).await?;
    }
    Ok(resource)
}

/// Update a resource on `conn` (inside the caller's transaction): see `Store::update`.
/// `tableau_luid` `None` keeps the stored LUID.
#[allow(clippy::too_many_arguments)] // the `Store::update` arguments, plus the LUID
pub(super) async fn update_in(
    conn: &mut SqliteConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    revision: i64,
    doc: &Map<String, Value>,
    members: &MemberChanges,
    tableau_luid: Option<&str>,
) -> StoreResult<StoredResource> {
    let cols = Columns::derive(kind, doc)?;
    let now = now_timestamp();
    let updated: Option<(String, Option<String>)> = sqlx::query_as(sql::UPDATE)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .bind(&cols.doc)
        .bind(&cols.user_name)
        .bind(&cols.user_name_lower)
        .bind(&cols.external_id)
        .bind(&cols.display_name)
        .bind(&cols.display_name_lower)
        .bind(&now)
        .bind(revision)
        .bind(tableau_luid)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| write_error(e, id, &cols))?;
    let Some((created, tableau_luid)) = updated else {
        let current: Option<i64> = sqlx::query_scalar(sql::REVISION)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        return Err(match current {
            Some(_) => StoreError::RevisionMismatch,
            None => StoreError::NotFound,
        });
    };
    sqlx::query(sql::DELETE_EMAILS)
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_emails(conn, tenant, id, &cols.emails_lower).await?;
    if kind == ResourceKind::Group {
        remove_members(conn, tenant, id, &members.remove).await?;
        add_members(conn, tenant, id, &members.add).await?;
    }
    let mut resource = StoredResource {
        id: id.to_owned(),
        kind,
        doc: doc.clone(),
        created,
        last_modified: now,
        revision: revision + 1,
        tableau_luid,
        members: Vec::new(),
        groups: Vec::new(),
    };
    load_relations(conn, tenant, std::slice::from_mut(&mut resource)).await?;
    Ok(resource)
}

/// Delete a resource on `conn`; memberships (both ways) and e-mails go by ON DELETE CASCADE.
pub(super) async fn delete_in(
    conn: &mut SqliteConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
) -> StoreResult<bool> {
    let deleted = sqlx::query(sql::DELETE)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
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
    ) -> StoreResult<StoredResource> {
        let mut tx = self.write.begin().await?;
        let resource = create_in(&mut tx, tenant, kind, id, doc, members, None).await?;
        tx.commit().await?;
        Ok(resource)
    }

    async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Option<StoredResource>> {
        let mut conn = self.read.acquire().await?;
        let row: Option<ResourceRow> = sqlx::query_as(sql::GET)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut resource = row.into_resource()?;
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
    ) -> StoreResult<StoredResource> {
        let mut tx = self.write.begin().await?;
        let resource = update_in(&mut tx, tenant, kind, id, revision, doc, members, None).await?;
        tx.commit().await?;
        Ok(resource)
    }

    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool> {
        let mut conn = self.write.acquire().await?;
        delete_in(&mut conn, tenant, kind, id).await
    }

    async fn list(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&IndexedLookup>,
        with_relations: bool,
    ) -> StoreResult<Vec<StoredResource>> {
        let mut conn = self.read.acquire().await?;
        let mut query = sqlx::query_as(sql::list_sql(lookup))
            .bind(tenant)
            .bind(kind.as_str());
        if let Some(lookup) = lookup {
            query = query.bind(lookup_value(lookup));
        }
        let rows: Vec<ResourceRow> = query.fetch_all(&mut *conn).await?;
        let mut resources = into_resources(rows)?;
        if with_relations {
            load_relations(&mut conn, tenant, &mut resources).await?;
        }
        Ok(resources)
    }

    async fn open_operation(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened> {
        journal::open(&self.write, op, plan).await
    }

    async fn record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        journal::record_step(&self.write, tenant, op_id, idx, outcome).await
    }

    async fn replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        journal::replace_plan(&self.write, tenant, op_id, from_idx, steps).await
    }

    async fn complete_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<StoredResource>> {
        journal::complete(&self.write, tenant, op_id, status, commit).await
    }

    async fn fail_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()> {
        journal::fail(&self.write, tenant, op_id, status, error_body).await
    }

    async fn get_operation(&self, tenant: &str, op_id: &str) -> StoreResult<Option<Operation>> {
        let mut conn = self.read.acquire().await?;
        journal::get(&mut conn, tenant, op_id).await
    }

    async fn operation_by_key(
        &self,
        tenant: &str,
        idem_key: &str,
    ) -> StoreResult<Option<Operation>> {
        let mut conn = self.read.acquire().await?;
        journal::by_key(&mut conn, tenant, idem_key).await
    }

    async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>> {
        journal::unfinished(&self.read, limit).await
    }

    async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        journal::touch(&self.write, tenant, op_id).await
    }

    async fn list_operations(
        &self,
        tenant: &str,
        resource_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        journal::list(&self.read, tenant, resource_id, limit).await
    }

    async fn find_by_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        luid: &str,
    ) -> StoreResult<Option<StoredResource>> {
        let row: Option<ResourceRow> = sqlx::query_as(sql::FIND_BY_LUID)
            .bind(tenant)
            .bind(kind.as_str())
            .bind(luid)
            .fetch_optional(&self.read)
            .await?;
        row.map(ResourceRow::into_resource).transpose()
    }

    async fn set_luid(
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
            .execute(&self.write)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
