//! Resource writes on PostgreSQL (`create_in`, `update_in`, `delete_in` and their helpers), on
//! a connection or inside the caller's transaction: `Store::create`/`update`/`delete` and the
//! journal's `complete` use the very same code. (SQLite runs its writes in group-committed
//! batches on its single writer: `sqlite_writes`.)

use super::postgres::load_relations;
use super::postgres::{
    ADD_MEMBERS, FIRST_UNKNOWN, INSERT_EMAILS, REMOVE_MEMBERS, insert_resource, list_param,
};
use super::*;
use sqlx::postgres::PgConnection;

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
            .bind(list_param(emails))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Insert the members that are not members yet, in one statement; `UnknownMember`
/// names the first id that is no resource of the tenant.
async fn add_members(
    conn: &mut PgConnection,
    tenant: &str,
    group_id: &str,
    add: &[(String, ResourceKind)],
) -> StoreResult<()> {
    let ids = crate::store::members::distinct_ids(add);
    if ids.is_empty() {
        return Ok(());
    }
    let ids_param = list_param(&ids);
    let inserted = sqlx::query(ADD_MEMBERS)
        .bind(tenant)
        .bind(group_id)
        .bind(ids_param)
        .execute(&mut *conn)
        .await
        .map_err(crate::store::errors::membership_error)?
        .rows_affected();
    // Fewer rows than ids: some were members already, or do not exist. Only then look
    // closer.
    if inserted < ids.len() as u64 {
        let unknown: Option<String> = sqlx::query_scalar(FIRST_UNKNOWN)
            .bind(tenant)
            .bind(ids_param)
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
            .bind(list_param(remove))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Create a resource on `conn` (inside the caller's transaction, if any): see
/// `Store::create`.
pub(super) async fn create_in(
    conn: &mut PgConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
    tableau_luid: Option<&str>,
) -> StoreResult<Resource> {
    let cols = crate::store::columns::Columns::derive(kind, doc)?;
    let now = crate::store::columns::now_timestamp();
    insert_resource(&mut *conn, tenant, kind, id, &cols, &now, tableau_luid).await?;
    let mut resource = Resource::written(
        id,
        kind,
        doc,
        now.clone(),
        now,
        1,
        tableau_luid.map(str::to_owned),
    );
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
) -> StoreResult<Resource> {
    let cols = crate::store::columns::Columns::derive(kind, doc)?;
    let now = crate::store::columns::now_timestamp();
    // On PostgreSQL the UPDATE also row-locks the resource until commit, serialising
    // concurrent writers of this resource across replicas; the loser then sees a new
    // revision. (SQLite's single write connection serialises all writers anyway.)
    let updated: Option<(String, Option<String>)> = sqlx::query_as(crate::store::sql::UPDATE)
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
        .map_err(|e| crate::store::errors::write_error(e, id, &cols))?;
    let Some((created, tableau_luid)) = updated else {
        let current: Option<i64> = sqlx::query_scalar(crate::store::sql::REVISION)
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
    sqlx::query(crate::store::sql::DELETE_EMAILS)
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_emails(conn, tenant, id, &cols.emails_lower).await?;
    if kind == ResourceKind::Group {
        remove_members(conn, tenant, id, &members.remove).await?;
        add_members(conn, tenant, id, &members.add).await?;
    }
    let mut resource = Resource::written(id, kind, doc, created, now, revision + 1, tableau_luid);
    load_relations(conn, tenant, std::slice::from_mut(&mut resource)).await?;
    Ok(resource)
}

/// Delete a resource on `conn`; memberships (both ways) and e-mails go by ON DELETE
/// CASCADE.
pub(super) async fn delete_in(
    conn: &mut PgConnection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
) -> StoreResult<bool> {
    let deleted = sqlx::query(crate::store::sql::DELETE)
        .bind(tenant)
        .bind(kind.as_str())
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}
