//! Resource writes on PostgreSQL: one function, [`apply`], whatever the change, on a pooled
//! connection or inside the caller's transaction; `Store::create`/`update`/`delete` and the
//! journal's `complete` all run it.

use super::sql::{ADD_MEMBERS, FIRST_UNKNOWN, INSERT_EMAILS, INSERT_WITH_EMAILS, REMOVE_MEMBERS};
use super::{PgQuery, load_relations};
use crate::store::columns::{ResourceValues, distinct_ids};
use crate::store::errors;
use crate::store::journal::Applied;
use crate::store::rows::Row;
use crate::store::{
    MemberChanges, Resource, ResourceCommit, ResourceKind, StoreError, StoreResult, sql,
};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;

/// Bind `$1`..`$11` of `sql::INSERT` and `sql::UPDATE`.
fn bind_values<'q>(query: PgQuery<'q>, v: &'q ResourceValues<'_>) -> PgQuery<'q> {
    query
        .bind(v.tenant)
        .bind(v.kind.as_str())
        .bind(v.id)
        .bind(&v.cols.doc)
        .bind(&v.cols.user_name)
        .bind(&v.cols.user_name_lower)
        .bind(&v.cols.external_id)
        .bind(&v.cols.display_name)
        .bind(&v.cols.display_name_lower)
        .bind(&v.now)
        .bind(v.tableau_luid)
}

/// Whether applying `commit` takes several statements, and so a transaction when it does not
/// run inside one: an update, or a group created with members. A user, or a group without
/// members, is created by one statement (`INSERT_WITH_EMAILS`), atomic by itself.
pub(super) fn needs_transaction(commit: &ResourceCommit) -> bool {
    match commit {
        ResourceCommit::Create { kind, members, .. } => {
            *kind == ResourceKind::Group && !members.is_empty()
        }
        ResourceCommit::Update { .. } => true,
        ResourceCommit::Delete { .. } | ResourceCommit::Repair { .. } | ResourceCommit::Nothing => {
            false
        }
    }
}

/// Apply a resource change on `conn` (see [`needs_transaction`]).
pub(super) async fn apply(
    conn: &mut PgConnection,
    tenant: &str,
    commit: &ResourceCommit,
) -> StoreResult<Applied> {
    match commit {
        ResourceCommit::Create {
            kind,
            id,
            doc,
            members,
            tableau_luid,
        } => {
            let values = ResourceValues::new(tenant, *kind, id, doc, tableau_luid.as_deref())?;
            create(conn, &values, doc, members)
                .await
                .map(Applied::Stored)
        }
        ResourceCommit::Update {
            kind,
            id,
            revision,
            doc,
            members,
            tableau_luid,
        } => {
            let values = ResourceValues::new(tenant, *kind, id, doc, tableau_luid.as_deref())?;
            update(conn, &values, *revision, doc, members)
                .await
                .map(Applied::Stored)
        }
        // Memberships (both ways) and e-mails go by ON DELETE CASCADE.
        ResourceCommit::Delete { kind, id } => {
            let deleted = sqlx::query(sql::DELETE)
                .bind(tenant)
                .bind(kind.as_str())
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected();
            Ok(Applied::Deleted(deleted > 0))
        }
        // A repair changes Tableau only; its LUID was linked by the engine.
        ResourceCommit::Repair { .. } | ResourceCommit::Nothing => Ok(Applied::Nothing),
    }
}

async fn create(
    conn: &mut PgConnection,
    values: &ResourceValues<'_>,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
) -> StoreResult<Resource> {
    bind_values(sqlx::query(INSERT_WITH_EMAILS), values)
        .bind(&values.cols.emails_lower)
        .execute(&mut *conn)
        .await
        .map_err(errors::resource_write(values))?;
    let luid = values.tableau_luid.map(str::to_owned);
    let mut resource = values.stored(doc, values.now.clone(), 1, luid);
    // A new user belongs to no group yet; only a new group's members need reading back.
    if values.kind == ResourceKind::Group && !members.is_empty() {
        add_members(conn, values.tenant, values.id, members).await?;
        load_relations(conn, values.tenant, std::slice::from_mut(&mut resource)).await?;
    }
    Ok(resource)
}

async fn update(
    conn: &mut PgConnection,
    values: &ResourceValues<'_>,
    revision: i64,
    doc: &Map<String, Value>,
    members: &MemberChanges,
) -> StoreResult<Resource> {
    let (tenant, kind, id) = (values.tenant, values.kind, values.id);
    // The UPDATE also row-locks the resource until commit, serialising concurrent writers of
    // this resource across replicas; the loser then sees a new revision.
    let updated = bind_values(sqlx::query(sql::UPDATE), values)
        .bind(revision)
        .fetch_optional(&mut *conn)
        .await
        .map_err(errors::resource_write(values))?;
    let Some(updated) = updated else {
        let current = sqlx::query(sql::REVISION)
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
    let (created, tableau_luid) = (updated.text(0)?, updated.opt_text(1)?);
    sqlx::query(sql::DELETE_EMAILS)
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_emails(conn, values).await?;
    if kind == ResourceKind::Group {
        if !members.remove.is_empty() {
            sqlx::query(REMOVE_MEMBERS)
                .bind(tenant)
                .bind(id)
                .bind(&members.remove)
                .execute(&mut *conn)
                .await?;
        }
        add_members(conn, tenant, id, &members.add).await?;
    }
    let mut resource = values.stored(doc, created, revision + 1, tableau_luid);
    load_relations(conn, tenant, std::slice::from_mut(&mut resource)).await?;
    Ok(resource)
}

async fn insert_emails(conn: &mut PgConnection, values: &ResourceValues<'_>) -> StoreResult<()> {
    if !values.cols.emails_lower.is_empty() {
        sqlx::query(INSERT_EMAILS)
            .bind(values.tenant)
            .bind(values.id)
            .bind(&values.cols.emails_lower)
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
        .map_err(errors::membership)?
        .rows_affected();
    // Fewer rows than ids: some were members already, or do not exist. Only then look closer.
    if inserted < ids.len() as u64 {
        let unknown = sqlx::query(FIRST_UNKNOWN)
            .bind(tenant)
            .bind(&ids)
            .fetch_optional(conn)
            .await?;
        if let Some(unknown) = unknown {
            return Err(StoreError::UnknownMember(unknown.text(0)?));
        }
    }
    Ok(())
}
