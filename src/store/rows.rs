//! Rows into [`Resource`]s and [`Operation`]s, written once for both drivers: each backend lets
//! a row of its own be read through [`Row`] (by position, in the column order of the statements
//! in `sql`), and the mapping here does the rest, including attaching relations and steps
//! loaded in bulk (one query for a whole list).

use super::columns::kind_from_str;
use super::{
    GroupRef, Member, Operation, OperationState, Resource, ResourceKind, StepRecord, StepState,
    StoreError, StoreResult,
};
use serde_json::Value;
use std::collections::HashMap;

/// A result row of either driver, read by column position.
pub(crate) trait Row {
    fn text(&self, i: usize) -> StoreResult<String>;
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>>;
    fn int(&self, i: usize) -> StoreResult<i64>;
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>>;
    fn flag(&self, i: usize) -> StoreResult<bool>;
}

/// A resource from `id, kind, doc, created, last_modified, revision, tableau_luid` (without
/// relations).
pub(crate) fn resource(row: &dyn Row) -> StoreResult<Resource> {
    let (mut resource, text) = resource_unparsed(row)?;
    resource.doc = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(corrupt(&resource.id, "document is not a JSON object")),
        Err(e) => return Err(corrupt(&resource.id, &e.to_string())),
    };
    Ok(resource)
}

/// A resource as [`resource`] reads it (`text` false), or with its document left as the JSON
/// text it is stored as (`text` true: `Some(text)`, `doc` empty).
pub(crate) fn resource_read(row: &dyn Row, text: bool) -> StoreResult<(Resource, Option<String>)> {
    match text {
        true => resource_unparsed(row).map(|(resource, text)| (resource, Some(text))),
        false => Ok((resource(row)?, None)),
    }
}

/// A user as [`resource_read`] reads it, with its groups from column 7 ([`groups_column`]).
pub(crate) fn user_with_groups(
    row: &dyn Row,
    text: bool,
) -> StoreResult<(Resource, Option<String>)> {
    let (mut user, doc) = resource_read(row, text)?;
    user.groups = groups_column(&user.id, &row.text(7)?)?;
    Ok((user, doc))
}

/// As [`resource`], with the document left as the JSON text it is stored as (`doc` empty).
pub(crate) fn resource_unparsed(row: &dyn Row) -> StoreResult<(Resource, String)> {
    let resource = Resource {
        id: row.text(0)?,
        kind: kind_from_str(&row.text(1)?)?,
        doc: serde_json::Map::new(),
        created: row.text(3)?,
        last_modified: row.text(4)?,
        revision: row.int(5)?,
        tableau_luid: row.opt_text(6)?,
        members: Vec::new(),
        groups: Vec::new(),
    };
    Ok((resource, row.text(2)?))
}

fn corrupt(id: &str, why: &str) -> StoreError {
    StoreError::Corrupt(format!("resource {id}: {why}"))
}

/// One relation of a listed resource: for a group, one of its members; for a user, one of its
/// groups. From `owner, id, kind, display_name` (`display_name` is the group's name).
pub(crate) struct Relation {
    owner: String,
    id: String,
    kind: String,
    display_name: Option<String>,
}

pub(crate) fn relation(row: &dyn Row) -> StoreResult<Relation> {
    Ok(Relation {
        owner: row.text(0)?,
        id: row.text(1)?,
        kind: row.text(2)?,
        display_name: row.opt_text(3)?,
    })
}

/// Distribute relations (already in membership order) onto their owners: groups get
/// `members`, users get `groups`.
pub(crate) fn attach_relations(
    resources: &mut [Resource],
    relations: Vec<Relation>,
) -> StoreResult<()> {
    let index: HashMap<String, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    for relation in relations {
        let Some(owner) = index
            .get(&relation.owner)
            .and_then(|&i| resources.get_mut(i))
        else {
            continue;
        };
        let kind = kind_from_str(&relation.kind)?;
        match owner.kind {
            ResourceKind::Group => owner.members.push(Member {
                id: relation.id,
                kind,
            }),
            ResourceKind::User => owner.groups.push(GroupRef {
                id: relation.id,
                display: relation.display_name.unwrap_or_default(),
            }),
        }
    }
    Ok(())
}

/// A user's groups from the JSON array of `[seq, id, displayName]` a statement aggregated them
/// into (SQLite's `user_with_groups!`), in membership order (`seq`).
pub(crate) fn groups_column(user_id: &str, text: &str) -> StoreResult<Vec<GroupRef>> {
    let mut groups: Vec<(i64, String, Option<String>)> =
        serde_json::from_str(text).map_err(|e| corrupt(user_id, &format!("groups: {e}")))?;
    groups.sort_unstable_by_key(|g| g.0);
    Ok(groups
        .into_iter()
        .map(|(_, id, display)| GroupRef {
            id,
            display: display.unwrap_or_default(),
        })
        .collect())
}

fn parse_json(what: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// An operation (without its steps) from the columns of `sql::operation_select!`.
pub(crate) fn operation(row: &dyn Row) -> StoreResult<Operation> {
    let id = row.text(2)?;
    let what = format!("operation {id}");
    let response_status = match row.opt_int(14)? {
        Some(status) => Some(
            u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("{what}: status {status}")))?,
        ),
        None => None,
    };
    Ok(Operation {
        seq: row.int(0)?,
        tenant: row.text(1)?,
        idem_key: row.opt_text(3)?,
        explicit_key: row.flag(4)?,
        principal: row.text(5)?,
        method: row.text(6)?,
        path: row.text(7)?,
        digest: row.text(8)?,
        resource_kind: kind_from_str(&row.text(9)?)?,
        resource_id: row.text(10)?,
        intent: parse_json(&what, &row.text(11)?)?,
        state: OperationState::parse(&row.text(12)?)?,
        attempts: row.int(13)?,
        response_status,
        error_body: match row.opt_text(15)? {
            Some(text) => Some(parse_json(&what, &text)?),
            None => None,
        },
        created: row.text(16)?,
        updated: row.text(17)?,
        finished: row.opt_text(18)?,
        request_id: row.opt_text(19)?,
        removals: row.int(20)?,
        held: row.opt_text(21)?,
        note: row.opt_text(22)?,
        request_body: match row.opt_text(23)? {
            Some(text) => Some(parse_json(&what, &text)?),
            None => None,
        },
        resource_name: row.opt_text(24)?,
        steps: Vec::new(),
        id,
    })
}

/// A step from the columns of `sql::step_columns!`, with the operation it belongs to
/// (tenant, operation id).
pub(crate) fn step(row: &dyn Row) -> StoreResult<((String, String), StepRecord)> {
    let (tenant, operation_id, idx) = (row.text(0)?, row.text(1)?, row.int(2)?);
    let what = format!("operation {operation_id} step {idx}");
    let step = StepRecord {
        idx,
        kind: row.text(3)?,
        description: parse_json(&what, &row.text(4)?)?,
        state: StepState::parse(&row.text(5)?)?,
        method: row.opt_text(6)?,
        path: row.opt_text(7)?,
        request_body: row.opt_text(8)?,
        http_status: row.opt_int(9)?,
        tableau_code: row.opt_text(10)?,
        duration_ms: row.opt_int(11)?,
        luid: row.opt_text(12)?,
        error: row.opt_text(13)?,
        started: row.opt_text(14)?,
        finished: row.opt_text(15)?,
        calls: match row.opt_text(16)? {
            Some(text) => Some(parse_json(&what, &text)?),
            None => None,
        },
    };
    Ok(((tenant, operation_id), step))
}

/// Distribute steps (ordered by `idx` within each operation) onto their operations.
pub(crate) fn attach_steps(
    operations: &mut [Operation],
    steps: Vec<((String, String), StepRecord)>,
) {
    let index: HashMap<(String, String), usize> = operations
        .iter()
        .enumerate()
        .map(|(i, op)| ((op.tenant.clone(), op.id.clone()), i))
        .collect();
    for (key, step) in steps {
        if let Some(op) = index.get(&key).and_then(|&i| operations.get_mut(i)) {
            op.steps.push(step);
        }
    }
}
