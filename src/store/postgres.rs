//! PostgreSQL implementation of [`super::Store`], for several replicas sharing one database.
//! Lists of values are passed as one array parameter and expanded with `unnest`, so a
//! membership change is one statement whatever its size.

use super::columns::{Columns, lookup_value, now_timestamp};
use super::errors::{membership_error, write_error};
use super::members::distinct_ids;
use super::postgres_journal as journal;
use super::rows::{RelationRow, ResourceRow, attach_relations, into_resources};
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

const INSERT_EMAILS: &str = "INSERT INTO resource_emails (tenant, resource_id, value_lower) \
     SELECT $1::text, $2::text, unnest($3::text[]) ON CONFLICT DO NOTHING";

// `ORDER BY u.ord` makes `seq` follow the order the members were given.
const ADD_MEMBERS: &str = "INSERT INTO memberships (tenant, group_id, member_id, member_kind) \
     SELECT $1::text, $2::text, r.id, r.kind \
     FROM unnest($3::text[]) WITH ORDINALITY AS u(id, ord) \
     JOIN resources AS r ON r.tenant = $1 AND r.id = u.id \
     ORDER BY u.ord ON CONFLICT DO NOTHING";

const FIRST_UNKNOWN: &str = "SELECT u.id FROM unnest($2::text[]) AS u(id) WHERE NOT EXISTS \
     (SELECT 1 FROM resources AS r WHERE r.tenant = $1 AND r.id = u.id) LIMIT 1";

const REMOVE_MEMBERS: &str =
    "DELETE FROM memberships WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3::text[])";

const MEMBERS_OF: &str = "SELECT m.group_id AS owner, r.id, r.kind, r.display_name, r.user_name \
     FROM memberships AS m \
     JOIN resources AS r ON r.tenant = m.tenant AND r.id = m.member_id \
     WHERE m.tenant = $1 AND m.group_id = ANY($2::text[]) \
     ORDER BY m.seq";

const GROUPS_OF: &str = "SELECT m.member_id AS owner, g.id, g.kind, g.display_name, \
     NULL::text AS user_name FROM memberships AS m \
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
}

async fn insert_emails(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
    emails: &[String],
) -> StoreResult<()> {
    if !emails.is_empty() {
        sqlx::query(INSERT_EMAILS)
            .bind(tenant)
            .bind(id)
            .bind(emails)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Insert the members that are not members yet, in one statement; `UnknownMember` names the
/// first id that is no resource of the tenant.
async fn add_members(
    conn: &mut PgConnection,
    tenant: &str,
    group_id: &str,
    add: &[(String, ResourceKind)],
) -> StoreResult<()> {
    let ids = distinct_ids(add);
    if ids.is_empty() {
        return Ok(());
    }
    let inserted = sqlx::query(ADD_MEMBERS)
        .bind(tenant)
        .bind(group_id)
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .map_err(membership_error)?
        .rows_affected();
    // Fewer rows than ids: some were members already, or do not exist. Only then look closer.
    if inserted < ids.len() as u64 {
        let unknown: Option<String> = sqlx::query_scalar(FIRST_UNKNOWN)
            .bind(tenant)
            .bind(&ids)
            .fetch_optional(conn)
            .await?;
        if let Some(id) = unknown {
            return Err(StoreError::UnknownMember(id));
        }
    }
    Ok(())
}

async fn remove_members(
    conn: &mut PgConnection,
    tenant: &str,
    group_id: &str,
    remove: &[String],
) -> StoreResult<()> {
    if !remove.is_empty() {
        sqlx::query(REMOVE_MEMBERS)
            .bind(tenant)
            .bind(group_id)
            .bind(remove)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Members (groups) or groups (users) of all `resources` at once, all of one kind.
async fn load_relations(
    conn: &mut PgConnection,
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
        .bind(&ids)
        .fetch_all(conn)
        .await?;
    attach_relations(resources, rows)
}

/// Create a resource on `conn` (inside the caller's transaction, if any): see `Store::create`.
/// A user, or a group without members, is one statement, atomic by itself.
pub(super) async fn create_in(
    conn: &mut PgConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
    tableau_luid: Option<&str>,
) -> StoreResult<StoredResource> {
    let cols = Columns::derive(kind, doc)?;
    let now = now_timestamp();
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
        .bind(&now)
        .bind(tableau_luid)
        .bind(&cols.emails_lower)
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, id, &cols))?;
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
    conn: &mut PgConnection,
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
    // The UPDATE also row-locks the resource until commit, serialising concurrent writers
    // of this resource across replicas; the loser then sees a new revision.
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
    conn: &mut PgConnection,
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
impl Store for PostgresStore {
    async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<StoredResource> {
        // Only a group with members takes several statements, hence a transaction.
        if kind == ResourceKind::User || members.is_empty() {
            let mut conn = self.pool.acquire().await?;
            return create_in(&mut conn, tenant, kind, id, doc, members, None).await;
        }
        let mut tx = self.pool.begin().await?;
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
        let mut conn = self.pool.acquire().await?;
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
        let mut tx = self.pool.begin().await?;
        let resource = update_in(&mut tx, tenant, kind, id, revision, doc, members, None).await?;
        tx.commit().await?;
        Ok(resource)
    }

    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        delete_in(&mut conn, tenant, kind, id).await
    }

    async fn list(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&IndexedLookup>,
        with_relations: bool,
    ) -> StoreResult<Vec<StoredResource>> {
        let mut conn = self.pool.acquire().await?;
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
        journal::open(&self.pool, op, plan).await
    }

    async fn record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()> {
        journal::record_step(&self.pool, tenant, op_id, idx, outcome).await
    }

    async fn replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()> {
        journal::replace_plan(&self.pool, tenant, op_id, from_idx, steps).await
    }

    async fn complete_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<StoredResource>> {
        journal::complete(&self.pool, tenant, op_id, status, commit).await
    }

    async fn fail_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()> {
        journal::fail(&self.pool, tenant, op_id, status, error_body).await
    }

    async fn get_operation(&self, tenant: &str, op_id: &str) -> StoreResult<Option<Operation>> {
        journal::get(&self.pool, tenant, op_id).await
    }

    async fn operation_by_key(
        &self,
        tenant: &str,
        idem_key: &str,
    ) -> StoreResult<Option<Operation>> {
        journal::by_key(&self.pool, tenant, idem_key).await
    }

    async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>> {
        journal::unfinished(&self.pool, limit).await
    }

    async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64> {
        journal::touch(&self.pool, tenant, op_id).await
    }

    async fn list_operations(
        &self,
        tenant: &str,
        resource_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        journal::list(&self.pool, tenant, resource_id, limit).await
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
            .fetch_optional(&self.pool)
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
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
