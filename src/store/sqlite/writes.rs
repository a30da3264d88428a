//! SQLite's writes, all of them, as the writer thread runs them: synchronously, on its
//! connection, each inside the batch's transaction (see `writer`). The resource writes (one
//! function, [`apply`], whatever the change) and the journal's (open an operation, record a
//! step, complete it together with its resource change, fail, touch, replace its plan); the
//! semantics are those of the `Store` methods they serve. Each write of several statements runs
//! in a savepoint of its own (`atomically`; they nest, as in `complete`), so a failed one leaves
//! the batch's other writes alone.

use super::exec::{Values, atomically, execute, json_array, row};
use super::reads;
use super::sql::{
    ADD_MEMBERS, FIRST_UNKNOWN, INSERT_EMAILS, INSERT_OPERATION, INSERT_STEPS, RECORD_STEP,
    REMOVE_MEMBERS,
};
use crate::store::columns::{ResourceValues, distinct_ids, now_timestamp};
use crate::store::errors;
use crate::store::journal::{
    Applied, PlanColumns, id_taken, json_text, opened, status_column, step_times, unexplained,
};
use crate::store::{
    MemberChanges, NewOperation, Opened, OperationState, PlannedStep, Resource, ResourceCommit,
    ResourceKind, StepOutcome, StoreError, StoreResult, sql,
};
use rusqlite::Connection;
use rusqlite::types::{ToSql, ToSqlOutput};
use serde_json::{Map, Value};

impl ToSql for ResourceKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

/// `$1`..`$11` of `sql::INSERT` and `sql::UPDATE`.
fn resource_values<'v>(v: &'v ResourceValues<'_>) -> [&'v dyn ToSql; 11] {
    [
        &v.tenant,
        &v.kind,
        &v.id,
        &v.cols.doc,
        &v.cols.user_name,
        &v.cols.user_name_lower,
        &v.cols.external_id,
        &v.cols.display_name,
        &v.cols.display_name_lower,
        &v.now,
        &v.tableau_luid,
    ]
}

/// Apply a resource change: what `create`, `update` and `delete` do, and `complete` with an
/// operation's success.
pub(super) fn apply(
    db: &Connection,
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
            create(db, &values, doc, members).map(Applied::Stored)
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
            update(db, &values, *revision, doc, members).map(Applied::Stored)
        }
        // Memberships (both ways) and e-mails go by ON DELETE CASCADE.
        ResourceCommit::Delete { kind, id } => {
            let deleted = execute(db, sql::DELETE, &[&tenant, kind, id])?;
            Ok(Applied::Deleted(deleted > 0))
        }
        // A repair changes Tableau only; its LUID was linked by the engine.
        ResourceCommit::Repair { .. } | ResourceCommit::Nothing => Ok(Applied::Nothing),
    }
}

fn create(
    db: &Connection,
    values: &ResourceValues<'_>,
    doc: &Map<String, Value>,
    members: &[(String, ResourceKind)],
) -> StoreResult<Resource> {
    atomically(db, |db| {
        execute(db, sql::INSERT, &resource_values(values))
            .map_err(errors::resource_write(values))?;
        insert_emails(db, values)?;
        let luid = values.tableau_luid.map(str::to_owned);
        let mut resource = values.stored(doc, values.now.clone(), 1, luid);
        // A new user belongs to no group yet; only a new group's members need reading back.
        if values.kind == ResourceKind::Group && !members.is_empty() {
            add_members(db, values.tenant, values.id, members)?;
            reads::load_relations(db, values.tenant, std::slice::from_mut(&mut resource))?;
        }
        Ok(resource)
    })
}

fn update(
    db: &Connection,
    values: &ResourceValues<'_>,
    revision: i64,
    doc: &Map<String, Value>,
    members: &MemberChanges,
) -> StoreResult<Resource> {
    let (tenant, kind, id) = (values.tenant, values.kind, values.id);
    atomically(db, |db| {
        let mut bound: Vec<&dyn ToSql> = resource_values(values).to_vec();
        bound.push(&revision);
        let updated = row(db, sql::UPDATE, &bound, |r| {
            Ok((r.text(0)?, r.opt_text(1)?))
        })
        .map_err(errors::resource_write(values))?;
        let Some((created, tableau_luid)) = updated else {
            let current = row(db, sql::REVISION, &[&tenant, &kind, &id], |r| r.int(0))?;
            return Err(match current {
                Some(_) => StoreError::RevisionMismatch,
                None => StoreError::NotFound,
            });
        };
        execute(db, sql::DELETE_EMAILS, &[&tenant, &id])?;
        insert_emails(db, values)?;
        if kind == ResourceKind::Group {
            if !members.remove.is_empty() {
                let removed = json_array(&members.remove);
                execute(db, REMOVE_MEMBERS, &[&tenant, &id, &removed])?;
            }
            add_members(db, tenant, id, &members.add)?;
        }
        let mut resource = values.stored(doc, created, revision + 1, tableau_luid);
        reads::load_relations(db, tenant, std::slice::from_mut(&mut resource))?;
        Ok(resource)
    })
}

fn insert_emails(db: &Connection, values: &ResourceValues<'_>) -> StoreResult<()> {
    let emails = &values.cols.emails_lower;
    if !emails.is_empty() {
        let emails = json_array(emails);
        execute(db, INSERT_EMAILS, &[&values.tenant, &values.id, &emails])?;
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
    let inserted =
        execute(db, ADD_MEMBERS, &[&tenant, &group_id, &ids_param]).map_err(errors::membership)?;
    // Fewer rows than ids: some were members already, or do not exist. Only then look closer.
    if inserted < ids.len() {
        let unknown = row(db, FIRST_UNKNOWN, &[&tenant, &ids_param], |r| r.text(0))?;
        if let Some(id) = unknown {
            return Err(StoreError::UnknownMember(id));
        }
    }
    Ok(())
}

/// See `Store::set_luid`.
pub(super) fn set_luid(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    luid: Option<&str>,
) -> StoreResult<()> {
    let updated = execute(db, sql::SET_LUID, &[&tenant, &kind, &id, &luid])
        .map_err(crate::store::errors::set_luid(luid))?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---- the journal ----

/// Journal a new running operation with its plan, or say who refused it (see
/// `Store::open_operation`). Who refused is read in the batch's transaction, where no other
/// write can come between the refusal and the read.
pub(super) fn open(
    db: &Connection,
    op: &NewOperation,
    plan: &[PlannedStep],
) -> StoreResult<Opened> {
    let intent = json_text(&op.intent)?;
    let request_body = op.request_body.as_ref().map(json_text).transpose()?;
    let plan_json = match plan.is_empty() {
        true => None,
        false => Some(PlanColumns::new(plan)?.json()?),
    };
    let now = now_timestamp();
    atomically(db, |db| {
        let values: &Values<'_> = &[
            &op.tenant,
            &op.id,
            &op.idem_key,
            &op.explicit_key,
            &op.principal,
            &op.method,
            &op.path,
            &op.digest,
            &op.resource_kind,
            &op.resource_id,
            &intent,
            &now,
            &op.claimed_name,
            &op.request_id,
            &request_body,
            &op.resource_name,
            &op.removals,
        ];
        let Some(seq) = row(db, INSERT_OPERATION, values, |r| r.int(0))? else {
            return refusal(db, op);
        };
        if let Some(plan_json) = &plan_json {
            insert_steps(db, &op.tenant, &op.id, plan_json)?;
        }
        Ok(Opened::Created(opened(op, seq, &now, plan)))
    })
}

/// Which unique index refused a new operation, in the order `Store::open_operation` gives.
fn refusal(db: &Connection, op: &NewOperation) -> StoreResult<Opened> {
    if let Some(found) = reads::operation(db, sql::BY_KEY, &[&op.tenant, &op.idem_key])? {
        return Ok(Opened::SameKey(found));
    }
    let on = [&op.tenant as &dyn ToSql, &op.resource_kind, &op.resource_id];
    if let Some(found) = reads::operation(db, sql::RUNNING_ON, &on)? {
        return Ok(Opened::ResourceBusy(found));
    }
    if let Some(name) = &op.claimed_name {
        let claim = [&op.tenant as &dyn ToSql, &op.resource_kind, name];
        if let Some(found) = reads::operation(db, sql::RUNNING_CLAIM, &claim)? {
            return Ok(Opened::ResourceBusy(found));
        }
    }
    if reads::operation_exists(db, &op.tenant, &op.id)? {
        return Err(id_taken(op));
    }
    Err(unexplained(op))
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
        execute(db, sql::DELETE_PENDING_STEPS, &[&tenant, &op_id, &from_idx])?;
        if let Some(plan_json) = &plan_json {
            insert_steps(db, tenant, op_id, plan_json)?;
        }
        Ok(())
    })
}

fn insert_steps(db: &Connection, tenant: &str, op_id: &str, plan_json: &str) -> StoreResult<()> {
    execute(db, INSERT_STEPS, &[&tenant, &op_id, &plan_json]).map_err(errors::plan)?;
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
    let calls = outcome.calls.as_ref().map(json_text).transpose()?;
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
            &calls,
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
) -> StoreResult<Applied> {
    atomically(db, |db| {
        finish(db, tenant, op_id, OperationState::Succeeded, status, None)?;
        apply(db, tenant, commit)
    })
}

/// End a running operation (see `sql::FINISH`); `NotFound` unless it was running.
pub(super) fn finish(
    db: &Connection,
    tenant: &str,
    op_id: &str,
    state: OperationState,
    status: u16,
    error_body: Option<&str>,
) -> StoreResult<()> {
    let values: &Values<'_> = &[
        &tenant,
        &op_id,
        &state.as_str(),
        &status_column(status),
        &error_body,
        &now_timestamp(),
    ];
    if execute(db, sql::FINISH, values)? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Count one more attempt of a running operation; its new count, or `NotFound`.
pub(super) fn touch(db: &Connection, tenant: &str, op_id: &str) -> StoreResult<i64> {
    row(db, sql::TOUCH, &[&tenant, &op_id, &now_timestamp()], |r| {
        r.int(0)
    })?
    .ok_or(StoreError::NotFound)
}
