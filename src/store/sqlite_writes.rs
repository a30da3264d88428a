//! SQLite's writes, all of them, as the group-commit writer runs them: synchronously, directly
//! on the write connection (see `sqlite_direct`), each inside the batch's transaction. The
//! resource writes and the journal's (open an operation, record a step, complete it together
//! with its resource change, fail, touch, replace its plan); the semantics are those of the
//! `Store` methods they serve. Each write of several statements runs in a savepoint of its own
//! (`atomically`; they nest, as in `complete`), so a failed one leaves the batch's other writes
//! alone.

use super::columns::{Columns, now_timestamp};
use super::errors::{Violation, membership_violation, plan_violation, write_violation};
use super::journal::json_text;
use super::journal_rows::{PlanColumns, opened, status_column, step_times};
use super::journal_sql::{DELETE_PENDING_STEPS, FINISH, TOUCH};
use super::members::{distinct_ids, json_array};
use super::rows::{RelationRow, attach_relations};
use super::sqlite::{
    ADD_MEMBERS, FIRST_UNKNOWN, GROUPS_OF, INSERT_EMAILS, MEMBERS_OF, REMOVE_MEMBERS,
};
use super::sqlite_direct::{all_rows, atomically, execute, first_row};
use super::sqlite_journal::{INSERT_OPERATION, INSERT_STEPS, RECORD_STEP};
use super::*;
use rusqlite::Connection;

/// Journal a new running operation with its plan; `None` when a unique index refused it (a
/// running operation with the same key or on the same resource, or the id), writing nothing.
/// Who refused is read afterwards, outside the batch (see `SqliteStore::journal_open`).
pub(super) fn open(
    db: &Connection,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Option<Operation>> {
    let intent = json_text(&op.intent)?;
    let plan_json = match plan.is_empty() {
        true => None,
        false => Some(PlanColumns::new(plan)?.json()?),
    };
    let now = now_timestamp();
    atomically(db, |db| {
        let seq: Option<i64> = first_row(
            db,
            INSERT_OPERATION,
            &[
                &op.tenant,
                &op.id,
                &op.idem_key,
                &op.explicit_key,
                &op.principal,
                &op.method,
                &op.path,
                &op.digest,
                &op.resource_kind.as_str(),
                &op.resource_id,
                &intent,
                &now,
            ],
            |row| row.get(0),
        )?;
        let Some(seq) = seq else {
            return Ok(None);
        };
        if let Some(plan_json) = &plan_json {
            insert_steps(db, &op.tenant, &op.id, plan_json)?;
        }
        Ok(Some(opened(op, seq, &now, plan)))
    })
}

/// Replace the steps still pending from `from_idx` on; recorded steps stay (they are what
/// happened in Tableau), so a new step on a taken index is refused.
pub(super) fn replace_plan(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    from_idx: i64,
    steps: &[PlannedStep],
) -> StoreResult<()> {
    let plan_json = match steps.is_empty() {
        true => None,
        false => Some(PlanColumns::new(steps)?.json()?),
    };
    atomically(db, |db| {
        execute(db, DELETE_PENDING_STEPS, &[&tenant, &op_id, &from_idx])?;
        if let Some(plan_json) = &plan_json {
            insert_steps(db, tenant, op_id, plan_json)?;
        }
        Ok(())
    })
}

fn insert_steps(db: &Connection, tenant: &str, op_id: &str, plan_json: &str) -> StoreResult<()> {
    execute(db, INSERT_STEPS, &[&tenant, &op_id, &plan_json])
        .map_err(|e| plan_violation(Violation::of_sqlite(&e), e.into()))?;
    Ok(())
}

pub(super) fn record_step(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    idx: i64,
    outcome: &StepOutcome,
) -> StoreResult<()> {
    let (started, finished) = step_times(outcome);
    let updated = execute(
        db,
        RECORD_STEP,
        &[
            &tenant,
            &op_id,
            &idx,
            &outcome.state.as_str(),
            &outcome.method,
            &outcome.path,
            &outcome.request_body,
            &outcome.http_status,
            &outcome.tableau_code,
            &outcome.duration_ms,
            &outcome.luid,
            &outcome.error,
            &started,
            &finished,
        ],
    )?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// End a running operation as succeeded and apply its resource change, atomically; `NotFound`
/// (and nothing written) unless it was running.
pub(super) fn complete(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    status: u16,
    commit: &ResourceCommit,
) -> StoreResult<Option<Resource>> {
    atomically(db, |db| {
        finish(db, tenant, op_id, OperationState::Succeeded, status, None)?;
        apply(db, tenant, commit)
    })
}

/// End a running operation as failed, with the SCIM error it answered; `NotFound` unless it
/// was running.
pub(super) fn fail(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    status: u16,
    error_body: &str,
) -> StoreResult<()> {
    finish(
        db,
        tenant,
        op_id,
        OperationState::Failed,
        status,
        Some(error_body),
    )
}

fn finish(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    state: OperationState,
    status: u16,
    error_body: Option<&str>,
) -> StoreResult<()> {
    let finished = execute(
        db,
        FINISH,
        &[
            &tenant,
            &op_id,
            &state.as_str(),
            &status_column(status),
            &error_body,
            &now_timestamp(),
        ],
    )?;
    if finished == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Count one more attempt of a running operation; its new count, or `NotFound`.
pub(super) fn touch(db: &Connection, tenant: &str, op_id: &str) -> StoreResult<i64> {
    first_row(db, TOUCH, &[&tenant, &op_id, &now_timestamp()], |row| {
        row.get(0)
    })?
    .ok_or(StoreError::NotFound)
}

fn apply(db: &Connection, tenant: &str, commit: &ResourceCommit) -> StoreResult<Option<Resource>> {
    match commit {
        ResourceCommit::Create {
            kind,
            id,
            doc,
            members,
            tableau_luid,
        } => create(db, tenant, *kind, id, doc, members, tableau_luid.as_deref()).map(Some),
        ResourceCommit::Update {
            kind,
            id,
            revision,
            doc,
            members,
            tableau_luid,
        } => update(
            db,
            tenant,
            *kind,
            id,
            *revision,
            doc,
            members,
            tableau_luid.as_deref(),
        )
        .map(Some),
        ResourceCommit::Delete { kind, id } => {
            delete(db, tenant, *kind, id)?;
            Ok(None)
        }
        ResourceCommit::Nothing => Ok(None),
    }
}

/// See `Store::set_luid`.
pub(super) fn set_luid(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    luid: Option<&str>,
) -> StoreResult<()> {
    if execute(db, sql::SET_LUID, &[&tenant, &kind.as_str(), &id, &luid])? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// See `Store::delete`; memberships (both ways) and e-mails go by ON DELETE CASCADE.
pub(super) fn delete(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
) -> StoreResult<bool> {
    Ok(execute(db, sql::DELETE, &[&tenant, &kind.as_str(), &id])? > 0)
}

/// See `Store::create`.
pub(super) fn create(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
    tableau_luid: Option<&str>,
) -> StoreResult<Resource> {
    atomically(db, |db| {
        let cols = Columns::derive(kind, doc)?;
        let now = now_timestamp();
        execute(
            db,
            sql::INSERT,
            &[
                &tenant,
                &kind.as_str(),
                &id,
                &cols.doc,
                &cols.user_name,
                &cols.user_name_lower,
                &cols.external_id,
                &cols.display_name,
                &cols.display_name_lower,
                &now,
                &tableau_luid,
            ],
        )
        .map_err(|e| write_violation(Violation::of_sqlite(&e), id, &cols, e.into()))?;
        insert_emails(db, tenant, id, &cols.emails_lower)?;
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
            add_members(db, tenant, id, members)?;
            load_relations(db, tenant, &mut resource)?;
        }
        Ok(resource)
    })
}

/// See `Store::update`; `tableau_luid` `None` keeps the stored LUID.
#[allow(clippy::too_many_arguments)] // the `Store::update` arguments, plus the LUID
pub(super) fn update(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    revision: i64,
    doc: &Map<String, Value>,
    members: &MemberChanges,
    tableau_luid: Option<&str>,
) -> StoreResult<Resource> {
    atomically(db, |db| {
        let cols = Columns::derive(kind, doc)?;
        let now = now_timestamp();
        let updated: Option<(String, Option<String>)> = first_row(
            db,
            sql::UPDATE,
            &[
                &tenant,
                &kind.as_str(),
                &id,
                &cols.doc,
                &cols.user_name,
                &cols.user_name_lower,
                &cols.external_id,
                &cols.display_name,
                &cols.display_name_lower,
                &now,
                &revision,
                &tableau_luid,
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|e| write_violation(Violation::of_sqlite(&e), id, &cols, e.into()))?;
        let Some((created, tableau_luid)) = updated else {
            let current: Option<i64> =
                first_row(db, sql::REVISION, &[&tenant, &kind.as_str(), &id], |row| {
                    row.get(0)
                })?;
            return Err(match current {
                Some(_) => StoreError::RevisionMismatch,
                None => StoreError::NotFound,
            });
        };
        execute(db, sql::DELETE_EMAILS, &[&tenant, &id])?;
        insert_emails(db, tenant, id, &cols.emails_lower)?;
        if kind == ResourceKind::Group {
            if !members.remove.is_empty() {
                execute(
                    db,
                    REMOVE_MEMBERS,
                    &[&tenant, &id, &json_array(&members.remove)],
                )?;
            }
            add_members(db, tenant, id, &members.add)?;
        }
        let mut resource =
            Resource::written(id, kind, doc, created, now, revision + 1, tableau_luid);
        load_relations(db, tenant, &mut resource)?;
        Ok(resource)
    })
}

fn insert_emails(db: &Connection, tenant: &str, id: &str, emails: &[String]) -> StoreResult<()> {
    if !emails.is_empty() {
        execute(db, INSERT_EMAILS, &[&tenant, &id, &json_array(emails)])?;
    }
    Ok(())
}

/// Insert the members that are not members yet; `UnknownMember` names the first id that is no
/// resource of the tenant.
fn add_members(
    db: &Connection,
    tenant: &str,
    group_id: &str,
    add: &[(String, ResourceKind)],
) -> StoreResult<()> {
    let ids = distinct_ids(add);
    if ids.is_empty() {
        return Ok(());
    }
    let ids_param = json_array(&ids);
    let inserted = execute(db, ADD_MEMBERS, &[&tenant, &group_id, &ids_param])
        .map_err(|e| membership_violation(Violation::of_sqlite(&e), e.into()))?;
    // Fewer rows than ids: some were members already, or do not exist. Only then look closer.
    if inserted < ids.len() {
        let unknown: Option<String> =
            first_row(db, FIRST_UNKNOWN, &[&tenant, &ids_param], |row| row.get(0))?;
        if let Some(id) = unknown {
            return Err(StoreError::UnknownMember(id));
        }
    }
    Ok(())
}

/// A group's members, or a user's groups, read back after the write.
fn load_relations(db: &Connection, tenant: &str, resource: &mut Resource) -> StoreResult<()> {
    let sql = match resource.kind {
        ResourceKind::Group => MEMBERS_OF,
        ResourceKind::User => GROUPS_OF,
    };
    let rows = all_rows(db, sql, &[&tenant, &json_array(&[&resource.id])], |row| {
        Ok(RelationRow {
            owner: row.get(0)?,
            id: row.get(1)?,
            kind: row.get(2)?,
            display_name: row.get(3)?,
        })
    })?;
    attach_relations(std::slice::from_mut(resource), rows)
}
