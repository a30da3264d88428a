//! The write path. Every mutating SCIM request ends here with the new desired state of one
//! resource, already computed by the pure `scim` layer. Today the change is committed to the
//! store; the Tableau provisioning engine (plan → journal → Tableau calls) slots in here,
//! between receiving the desired state and committing it, without the HTTP layer changing.

use crate::scim::schema::ResourceKind;
use crate::scim::{ScimError, ScimResult};
use crate::store::{MemberChanges, Store, StoredResource};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

pub mod locks;
pub mod mapping;
pub mod plan;
pub mod rules;
pub mod site_role;

pub use locks::ResourceLocks;

pub struct Provisioner {
    store: Arc<dyn Store>,
    /// Serialises writers per resource (see `locks`).
    pub locks: ResourceLocks,
}

/// What a new document says about a group's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// `members` in the new document is the complete membership; absent means none.
    Complete,
    /// The client did not mention `members` (a PUT without it): keep the membership.
    Unchanged,
}

/// A member id with its kind when the client said it.
type MemberRef = (String, Option<ResourceKind>);

/// A member reference as written by a client: `{"value": id, "type": "User"|"Group"}`.
/// `type` is optional (Okta sends only `value` and `display`); it is then looked up.
fn member_refs(doc: &mut Map<String, Value>) -> ScimResult<Option<Vec<MemberRef>>> {
    let Some(members) = doc.remove("members") else {
        return Ok(None);
    };
    let items = match members {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        _ => return Err(ScimError::invalid_value("members must be an array")),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_value("every member needs a string \"value\""))?;
        let kind = match item.get("type").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("User") => Some(ResourceKind::User),
            Some(t) if t.eq_ignore_ascii_case("Group") => Some(ResourceKind::Group),
            Some(t) => {
                return Err(ScimError::invalid_value(format!(
                    "member type {t:?} is not \"User\" or \"Group\""
                )));
            }
            None => None,
        };
        if seen.insert(value.to_string()) {
            out.push((value.to_string(), kind));
        }
    }
    Ok(Some(out))
}

impl Provisioner {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            locks: ResourceLocks::default(),
        }
    }

    /// Find the kind of an untyped member reference: a user id, else a group id.
    async fn resolve_kind(
        &self,
        tenant: &str,
        id: &str,
        kind: Option<ResourceKind>,
    ) -> ScimResult<ResourceKind> {
        if let Some(k) = kind {
            return Ok(k);
        }
        if self
            .store
            .get(tenant, ResourceKind::User, id, false)
            .await?
            .is_some()
        {
            return Ok(ResourceKind::User);
        }
        if self
            .store
            .get(tenant, ResourceKind::Group, id, false)
            .await?
            .is_some()
        {
            return Ok(ResourceKind::Group);
        }
        Err(ScimError::invalid_value(format!(
            "member '{id}' is not a known User or Group"
        )))
    }

    pub async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        mut doc: Map<String, Value>,
    ) -> ScimResult<StoredResource> {
        let mut members = Vec::new();
        if kind == ResourceKind::Group {
            for (id, k) in member_refs(&mut doc)?.unwrap_or_default() {
                let k = self.resolve_kind(tenant, &id, k).await?;
                members.push((id, k));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        Ok(self.store.create(tenant, kind, &id, &doc, &members).await?)
    }

    /// Commit `new_doc` as the next state of `old`. For groups with `Membership::Complete`,
    /// `members` in `new_doc` is the desired membership; it is diffed against the stored one
    /// so that only the changes are written.
    pub async fn update(
        &self,
        tenant: &str,
        old: &StoredResource,
        mut new_doc: Map<String, Value>,
        membership: Membership,
    ) -> ScimResult<StoredResource> {
        let mut changes = MemberChanges::default();
        let desired = member_refs(&mut new_doc)?;
        if old.kind == ResourceKind::Group && membership == Membership::Complete {
            let desired = desired.unwrap_or_default();
            let current: HashSet<&str> = old.members.iter().map(|m| m.id.as_str()).collect();
            let wanted: HashSet<&str> = desired.iter().map(|(id, _)| id.as_str()).collect();
            for (id, k) in &desired {
                if !current.contains(id.as_str()) {
                    let k = self.resolve_kind(tenant, id, *k).await?;
                    changes.add.push((id.clone(), k));
                }
            }
            changes.remove = old
                .members
                .iter()
                .filter(|m| !wanted.contains(m.id.as_str()))
                .map(|m| m.id.clone())
                .collect();
        }
        new_doc.remove("groups");
        Ok(self
            .store
            .update(tenant, old.kind, &old.id, old.revision, &new_doc, &changes)
            .await?)
    }

    pub async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> ScimResult<()> {
        if self.store.delete(tenant, kind, id).await? {
            Ok(())
        } else {
            Err(ScimError::not_found(format!(
                "{} {id} not found",
                kind.as_str()
            )))
        }
    }
}
