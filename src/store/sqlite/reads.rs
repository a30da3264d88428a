//! SQLite's reads, synchronous, on any connection: a reader's (`readers`), or the writer's when
//! a write reads back what it wrote (`writes`). Reads of several statements run in one read
//! transaction (`snapshot`), so a resource and its relations, or operations and their steps,
//! are of one state of the database.

use super::exec::{json_array, row, rows, snapshot};
use super::positions::Positions;
use super::sql::{
    GROUPS_OF, MEMBERS_OF, STEPS_OF, USER_BY_ID_WITH_GROUPS, USER_BY_NAME_WITH_GROUPS,
};
use crate::store::columns::lookup_value;
use crate::store::paging::{self, Page, PageRequest, PageStart};
use crate::store::rows;
use crate::store::{Lookup, Operation, Resource, ResourceKind, StoreError, StoreResult, sql};
use rusqlite::Connection;

/// See `Store::get`.
pub(super) fn get(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    with_relations: bool,
) -> StoreResult<Option<Resource>> {
    if with_relations && kind == ResourceKind::User {
        return row(
            db,
            USER_BY_ID_WITH_GROUPS,
            &[&tenant, &kind.as_str(), &id],
            |r| Ok(rows::user_with_groups(r, false)?.0),
        );
    }
    let read = |db: &Connection| {
        let found = row(
            db,
            sql::GET,
            &[&tenant, &kind.as_str(), &id],
            rows::resource,
        )?;
        let Some(mut resource) = found else {
            return Ok(None);
        };
        if with_relations {
            load_relations(db, tenant, std::slice::from_mut(&mut resource))?;
        }
        Ok(Some(resource))
    };
    match with_relations {
        true => snapshot(db, read),
        false => read(db),
    }
}

/// See `Store::find`.
pub(super) fn find(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    lookup: Option<&Lookup>,
    with_relations: bool,
    text: bool,
) -> StoreResult<Page> {
    let value = lookup.map(lookup_value);
    if let (true, Some(sql), Some(value)) = (
        with_relations,
        user_with_groups_sql(kind, lookup),
        value.as_ref(),
    ) {
        let found = rows(db, sql, &[&tenant, &kind.as_str(), value], |r| {
            rows::user_with_groups(r, text)
        })?;
        return Ok(paging::found_of(found));
    }
    let read = |db: &Connection| {
        let sql = sql::list_sql(lookup);
        let map = |r: &dyn rows::Row| rows::resource_read(r, text);
        let found = match &value {
            Some(value) => rows(db, sql, &[&tenant, &kind.as_str(), value], map)?,
            None => rows(db, sql, &[&tenant, &kind.as_str()], map)?,
        };
        let mut found = paging::found_of(found);
        if with_relations {
            load_relations(db, tenant, &mut found.resources)?;
        }
        Ok(found)
    };
    match with_relations {
        true => snapshot(db, read),
        false => read(db),
    }
}

/// The statement reading the users a unique lookup finds together with their groups, if the
/// lookup has one (`user_with_groups!`).
fn user_with_groups_sql(kind: ResourceKind, lookup: Option<&Lookup>) -> Option<&'static str> {
    match (kind, lookup) {
        (ResourceKind::User, Some(Lookup::Id(_))) => Some(USER_BY_ID_WITH_GROUPS),
        (ResourceKind::User, Some(Lookup::UserName(_))) => Some(USER_BY_NAME_WITH_GROUPS),
        _ => None,
    }
}

/// See `Store::page`: the count and the page in one read transaction, so that they agree. A
/// page by offset starts from a position the connection remembers (`positions`), when it
/// knows it at this state of the database, instead of walking the offset in the list index.
pub(super) fn page(
    db: &Connection,
    mut positions: Option<&mut Positions>,
    tenant: &str,
    kind: ResourceKind,
    request: &PageRequest,
) -> StoreResult<Page> {
    snapshot(db, |db| {
        let kind_str = kind.as_str();
        if let Some(positions) = positions.as_deref_mut() {
            // Read first: the statement starts the read transaction (or reads in the one the
            // reader kept), and the value is that of the state every statement below reads.
            let version = row(db, "PRAGMA data_version", &[], |r| r.int(0))?;
            positions.at_version(version.ok_or_else(|| {
                StoreError::Corrupt("PRAGMA data_version answered no row".into())
            })?);
        }
        let total = match request.count_total {
            true => {
                row(db, paging::COUNT, &[&tenant, &kind_str], |r| r.int(0))?.map(paging::count_of)
            }
            false => None,
        };
        if request.limit == 0 {
            return Ok(paging::page_of(Vec::new(), total));
        }
        let limit = paging::sql_int(request.limit);
        let after = |cursor: i64| {
            rows(
                db,
                paging::AFTER,
                &[&tenant, &kind_str, &cursor, &limit],
                |r| paging::page_row(r, request),
            )
        };
        let found = match request.start {
            PageStart::Offset(offset) => {
                let known = positions
                    .as_deref()
                    .and_then(|p| p.cursor(tenant, kind, offset));
                let found = match known {
                    Some(cursor) => after(cursor)?,
                    None => {
                        let offset_value = paging::sql_int(offset);
                        rows(
                            db,
                            paging::BY_OFFSET,
                            &[&tenant, &kind_str, &limit, &offset_value],
                            |r| paging::page_row(r, request),
                        )?
                    }
                };
                if let (Some(positions), Some((_, first, _)), Some((_, last, _))) =
                    (positions, found.first(), found.last())
                {
                    positions.learn(tenant, kind, offset, *first, *last, found.len() as u64);
                }
                found
            }
            PageStart::After(cursor) => after(cursor)?,
        };
        let mut page = paging::page_of(found, total);
        if request.with_relations {
            load_relations(db, tenant, &mut page.resources)?;
        }
        Ok(page)
    })
}

/// See `Store::get_many`.
pub(super) fn get_many(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    ids: &[String],
    with_relations: bool,
) -> StoreResult<Vec<Resource>> {
    let read = |db: &Connection| {
        let found = rows(
            db,
            paging::SQLITE_GET_MANY,
            &[&tenant, &kind.as_str(), &json_array(ids)],
            paging::resource_and_seq,
        )?;
        let mut resources: Vec<Resource> = found.into_iter().map(|(r, _)| r).collect();
        if with_relations {
            load_relations(db, tenant, &mut resources)?;
        }
        Ok(resources)
    };
    match with_relations {
        true => snapshot(db, read),
        false => read(db),
    }
}

/// See `Store::find_by_luid`.
pub(super) fn find_by_luid(
    db: &Connection,
    tenant: &str,
    kind: ResourceKind,
    luid: &str,
) -> StoreResult<Option<Resource>> {
    row(
        db,
        sql::FIND_BY_LUID,
        &[&tenant, &kind.as_str(), &luid],
        rows::resource,
    )
}

/// Members (groups) or groups (users) of all `resources` at once, all of one kind.
pub(super) fn load_relations(
    db: &Connection,
    tenant: &str,
    resources: &mut [Resource],
) -> StoreResult<()> {
    let Some(first) = resources.first() else {
        return Ok(());
    };
    let sql = match first.kind {
        ResourceKind::Group => MEMBERS_OF,
        ResourceKind::User => GROUPS_OF,
    };
    let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
    let relations = rows(db, sql, &[&tenant, &json_array(&ids)], rows::relation)?;
    rows::attach_relations(resources, relations)
}

// ---- the journal ----

/// The operations a statement selects, with their steps (one more query, whatever their
/// number).
pub(super) fn operations(
    db: &Connection,
    sql: &str,
    values: &super::exec::Values<'_>,
) -> StoreResult<Vec<Operation>> {
    snapshot(db, |db| {
        let mut operations = rows(db, sql, values, rows::operation)?;
        if operations.is_empty() {
            return Ok(operations);
        }
        let seqs: Vec<i64> = operations.iter().map(|op| op.seq).collect();
        let seqs = serde_json::Value::from(seqs).to_string();
        let steps = rows(db, STEPS_OF, &[&seqs], rows::step)?;
        rows::attach_steps(&mut operations, steps);
        Ok(operations)
    })
}

/// The one operation a statement selects (if any), with its steps.
pub(super) fn operation(
    db: &Connection,
    sql: &str,
    values: &super::exec::Values<'_>,
) -> StoreResult<Option<Operation>> {
    Ok(operations(db, sql, values)?.into_iter().next())
}

/// Whether the operation id is taken in the tenant.
pub(super) fn operation_exists(db: &Connection, tenant: &str, op_id: &str) -> StoreResult<bool> {
    let found = row(db, sql::OPERATION_TAKEN, &[&tenant, &op_id], |r| r.int(0))?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::migrate;

    /// SQLite's plan for `sql`, one line per step.
    fn plan(sql: &str) -> String {
        let mut db = Connection::open_in_memory().expect("db");
        migrate::run(&mut db).expect("migrate");
        let mut stmt = db
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        // No value bound: the plan is made when the statement is prepared.
        let mut rows = stmt.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().expect("step") {
            steps.push(row.get::<_, String>(3).expect("detail"));
        }
        steps.join("\n")
    }

    #[test]
    fn unique_lookups_search_their_index_and_build_nothing() {
        let by_name = Lookup::UserName("u".into());
        let by_id = Lookup::Id("i".into());
        for (sql, index) in [
            (sql::list_sql(Some(&by_name)), "resources_user_name_uq"),
            (USER_BY_NAME_WITH_GROUPS, "resources_user_name_uq"),
            (sql::list_sql(Some(&by_id)), "sqlite_autoindex_resources_1"),
            (USER_BY_ID_WITH_GROUPS, "sqlite_autoindex_resources_1"),
        ] {
            let plan = plan(sql);
            let first = plan.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("SEARCH r USING INDEX")
                    || first.starts_with("SEARCH resources USING INDEX"),
                "{plan}"
            );
            assert!(first.contains(index), "{plan}");
            for built in ["MATERIALIZE", "TEMP B-TREE", "SCAN"] {
                assert!(!plan.contains(built), "{built} in\n{plan}");
            }
        }
    }
}
