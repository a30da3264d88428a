//! Rows as both backends return them, and their conversion into [`Resource`]s,
//! including attaching relations loaded in bulk (one query for a whole list).

use super::columns::kind_from_str;
use super::{GroupRef, Member, Resource, StoreError, StoreResult};
use crate::model::ResourceKind;
use std::collections::HashMap;

/// The columns of `resources` that make up a [`Resource`]; see `sql::RESOURCE_COLUMNS`.
#[derive(sqlx::FromRow)]
pub(crate) struct ResourceRow {
    pub id: String,
    pub kind: String,
    pub doc: String,
    pub created: String,
    pub last_modified: String,
    pub revision: i64,
    pub tableau_luid: Option<String>,
}

impl ResourceRow {
    pub fn into_resource(self) -> StoreResult<Resource> {
        let doc = match serde_json::from_str(&self.doc) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(corrupt(&self.id, "document is not a JSON object")),
            Err(e) => return Err(corrupt(&self.id, &e.to_string())),
        };
        Ok(Resource {
            kind: kind_from_str(&self.kind)?,
            id: self.id,
            doc,
            created: self.created,
            last_modified: self.last_modified,
            revision: self.revision,
            tableau_luid: self.tableau_luid,
            members: Vec::new(),
            groups: Vec::new(),
        })
    }
}

fn corrupt(id: &str, why: &str) -> StoreError {
    StoreError::Corrupt(format!("resource {id}: {why}"))
}

pub(crate) fn into_resources(rows: Vec<ResourceRow>) -> StoreResult<Vec<Resource>> {
    rows.into_iter().map(ResourceRow::into_resource).collect()
}

/// One relation of a listed resource (`owner`): for a group, one of its members; for a user,
/// one of its groups (`display_name` is the group's name).
#[derive(sqlx::FromRow)]
pub(crate) struct RelationRow {
    pub owner: String,
    pub id: String,
    pub kind: String,
    pub display_name: Option<String>,
}

/// Distribute relation rows (already in membership order) onto their owners: groups get
/// `members`, users get `groups`.
pub(crate) fn attach_relations(
    resources: &mut [Resource],
    rows: Vec<RelationRow>,
) -> StoreResult<()> {
    let index: HashMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    // Owner ids are borrowed from `resources`; collect positions first, then mutate.
    let mut placed = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(&i) = index.get(row.owner.as_str()) {
            placed.push((i, row));
        }
    }
    for (i, row) in placed {
        let owner = &mut resources[i];
        let kind = kind_from_str(&row.kind)?;
        match owner.kind {
            ResourceKind::Group => owner.members.push(Member { id: row.id, kind }),
            ResourceKind::User => owner.groups.push(GroupRef {
                id: row.id,
                display: row.display_name.unwrap_or_default(),
            }),
        }
    }
    Ok(())
}
