//! From a SCIM write to a planned change: the new desired state of one resource, computed by
//! the pure `scim` layer, becomes the Tableau steps that make Tableau match (`plan`, `rules`)
//! and the local commit the journal applies once they are done. Reads what it needs (member
//! kinds, the users whose site roles a group change recomputes) and locks those users, so
//! that the change it plans is still the right one when it runs.

use super::engine::PlannedChange;
use super::intent::Intent;
use super::locks::{LockGuard, ResourceLocks};
use super::plan::{GroupChange, Step, UserChange, plan_group, plan_user};
use super::rules::{ProvisionPolicy, desired_site_role, role_changes};
use super::site_role::SiteRole;
use crate::model::{Resource, ResourceKind};
use crate::scim::{ScimError, ScimResult};
use crate::store::{MemberChanges, ResourceCommit, Store};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

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

fn display_name(doc: &Map<String, Value>) -> String {
    doc.get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Users (of one group change) whose set of group names changes, by how it changes.
#[derive(Default)]
struct AffectedUsers<'a> {
    /// Become members of the group (named with its new name).
    joining: &'a [String],
    /// Stop being members of the group (named with its old name).
    leaving: &'a [String],
    /// Stay members of a group being renamed.
    staying: &'a [String],
}

pub struct Planner {
    store: Arc<dyn Store>,
    policy: Arc<ProvisionPolicy>,
    /// Without Tableau the server is a plain SCIM store: nothing is planned.
    tableau_enabled: bool,
    locks: Arc<ResourceLocks>,
}

impl Planner {
    pub fn new(
        store: Arc<dyn Store>,
        policy: Arc<ProvisionPolicy>,
        tableau_enabled: bool,
        locks: Arc<ResourceLocks>,
    ) -> Self {
        Self {
            store,
            policy,
            tableau_enabled,
            locks,
        }
    }

    /// Steps only when Tableau is configured.
    fn steps(&self, steps: Vec<Step>) -> Vec<Step> {
        if self.tableau_enabled {
            steps
        } else {
            Vec::new()
        }
    }

    /// The kind of the resource each member reference names: a user id, else a group id, read
    /// in two batches whatever the number of members. A `type` the client sent must agree with
    /// it (a user's id sent as a "Group" is refused, naming the member), so SCIM and Tableau can
    /// never disagree about what a member is. The first bad reference, in the order sent, is
    /// the one reported.
    async fn resolve_kinds(
        &self,
        tenant: &str,
        refs: Vec<(String, Option<ResourceKind>)>,
    ) -> ScimResult<Vec<(String, ResourceKind)>> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = refs.iter().map(|(id, _)| id.clone()).collect();
        let users: HashSet<String> = self
            .store
            .get_many(tenant, ResourceKind::User, &ids, false)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let rest: Vec<String> = ids.into_iter().filter(|id| !users.contains(id)).collect();
        let groups: HashSet<String> = match rest.is_empty() {
            true => HashSet::new(),
            false => self
                .store
                .get_many(tenant, ResourceKind::Group, &rest, false)
                .await?
                .into_iter()
                .map(|r| r.id)
                .collect(),
        };
        refs.into_iter()
            .map(|(id, said)| {
                let found = if users.contains(&id) {
                    ResourceKind::User
                } else if groups.contains(&id) {
                    ResourceKind::Group
                } else {
                    return Err(ScimError::invalid_value(format!(
                        "member '{id}' is not a known User or Group"
                    )));
                };
                match said {
                    Some(said) if said != found => Err(ScimError::invalid_value(format!(
                        "member '{id}' is a {}, but its \"type\" says \"{}\"; send the type of \
                         the resource it references, or leave \"type\" out",
                        found.as_str(),
                        said.as_str()
                    ))),
                    _ => Ok((id, found)),
                }
            })
            .collect()
    }

    /// Site-role changes of the users a group change affects (its name is `old_name` before
    /// and `new_name` after). Every affected user is locked first, all at once and in one
    /// order (so two group changes sharing users cannot deadlock), then read once: a user
    /// write waits until the group change that recomputes its role has finished, and so
    /// never computes the role from a membership that is about to change.
    async fn role_changes_of(
        &self,
        tenant: &str,
        old_name: &str,
        new_name: &str,
        users: AffectedUsers<'_>,
        guards: &mut Vec<LockGuard>,
    ) -> ScimResult<Vec<(String, SiteRole)>> {
        if self.policy.group_roles.is_empty() || !self.tableau_enabled {
            return Ok(Vec::new());
        }
        let renamed = !old_name.eq_ignore_ascii_case(new_name);
        let staying: &[String] = if renamed { users.staying } else { &[] };
        let all: BTreeSet<&String> = users
            .joining
            .iter()
            .chain(users.leaving)
            .chain(staying)
            .collect();
        for id in &all {
            guards.push(self.locks.lock(&lock_key(ResourceKind::User, id)).await);
        }
        let mut changes = Vec::with_capacity(all.len());
        let mut loaded = Vec::with_capacity(all.len());
        for id in &all {
            if let Some(u) = self.store.get(tenant, ResourceKind::User, id, true).await? {
                loaded.push(u);
            }
        }
        for u in &loaded {
            let before: Vec<String> = u.groups.iter().map(|g| g.display.clone()).collect();
            let mut after = before.clone();
            if users.joining.contains(&u.id) {
                after.push(new_name.to_string());
            } else if users.leaving.contains(&u.id) {
                after.retain(|n| !n.eq_ignore_ascii_case(old_name));
            } else {
                for n in after.iter_mut() {
                    if n.eq_ignore_ascii_case(old_name) {
                        *n = new_name.to_string();
                    }
                }
            }
            changes.push((u.id.clone(), &u.doc, before, after));
        }
        role_changes(&changes, &self.policy)
    }

    /// A new resource with a fresh id.
    pub async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        mut doc: Map<String, Value>,
    ) -> ScimResult<PlannedChange> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut guards = Vec::new();
        let (steps, members) = match kind {
            ResourceKind::User => {
                doc.remove("groups");
                let role = desired_site_role(&doc, &[], &self.policy)?;
                let change = UserChange {
                    id: &id,
                    old: None,
                    new: Some(&doc),
                    old_role: None,
                    new_role: Some(role),
                };
                (plan_user(&change, &self.policy)?, Vec::new())
            }
            ResourceKind::Group => {
                let refs = member_refs(&mut doc)?.unwrap_or_default();
                let members = self.resolve_kinds(tenant, refs).await?;
                let users = user_ids(&members);
                let name = display_name(&doc);
                let joining = AffectedUsers {
                    joining: &users,
                    ..Default::default()
                };
                let roles = self
                    .role_changes_of(tenant, "", &name, joining, &mut guards)
                    .await?;
                let change = GroupChange {
                    id: &id,
                    old_name: None,
                    new_name: Some(&name),
                    added_users: &users,
                    removed_users: &[],
                    role_changes: &roles,
                };
                (plan_group(&change), members)
            }
        };
        Ok(PlannedChange {
            steps: self.steps(steps),
            intent: Intent {
                held: None,
                status: 201,
                commit: ResourceCommit::Create {
                    kind,
                    id,
                    doc,
                    members,
                    tableau_luid: None,
                },
            },
            guards,
        })
    }

    /// `new_doc` as the next state of `old`; `None` when nothing changes (an identical
    /// repeated PATCH: no journal entry, no Tableau call). For groups with
    /// `Membership::Complete`, `members` in `new_doc` is the desired membership; it is diffed
    /// against the stored one so that only the changes are written (and sent to Tableau).
    pub async fn update(
        &self,
        tenant: &str,
        old: &Resource,
        mut new_doc: Map<String, Value>,
        membership: Membership,
    ) -> ScimResult<Option<PlannedChange>> {
        let desired = member_refs(&mut new_doc)?;
        new_doc.remove("groups");
        let mut add = Vec::new();
        let mut remove = Vec::new();
        if old.kind == ResourceKind::Group && membership == Membership::Complete {
            let desired = desired.unwrap_or_default();
            let current: HashSet<&str> = old.members.iter().map(|m| m.id.as_str()).collect();
            let wanted: HashSet<&str> = desired.iter().map(|(id, _)| id.as_str()).collect();
            let joining = desired
                .iter()
                .filter(|(id, _)| !current.contains(id.as_str()))
                .cloned()
                .collect();
            add = self.resolve_kinds(tenant, joining).await?;
            remove = old
                .members
                .iter()
                .filter(|m| !wanted.contains(m.id.as_str()))
                .map(|m| m.id.clone())
                .collect();
        }
        if new_doc == old.doc && add.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        let mut guards = Vec::new();
        let steps = match old.kind {
            ResourceKind::User => {
                let names: Vec<String> = old.groups.iter().map(|g| g.display.clone()).collect();
                let old_role = desired_site_role(&old.doc, &names, &self.policy)?;
                let new_role = desired_site_role(&new_doc, &names, &self.policy)?;
                let change = UserChange {
                    id: &old.id,
                    old: Some(&old.doc),
                    new: Some(&new_doc),
                    old_role: Some(old_role),
                    new_role: Some(new_role),
                };
                // Without Tableau nothing constrains a rename (Tableau user names are immutable).
                if self.tableau_enabled {
                    plan_user(&change, &self.policy)?
                } else {
                    Vec::new()
                }
            }
            ResourceKind::Group => {
                let old_name = display_name(&old.doc);
                let new_name = display_name(&new_doc);
                let added = user_ids(&add);
                let removed: Vec<String> = old
                    .members
                    .iter()
                    .filter(|m| m.kind == ResourceKind::User && remove.contains(&m.id))
                    .map(|m| m.id.clone())
                    .collect();
                let staying: Vec<String> = old
                    .members
                    .iter()
                    .filter(|m| m.kind == ResourceKind::User && !remove.contains(&m.id))
                    .map(|m| m.id.clone())
                    .collect();
                let affected = AffectedUsers {
                    joining: &added,
                    leaving: &removed,
                    staying: &staying,
                };
                let roles = self
                    .role_changes_of(tenant, &old_name, &new_name, affected, &mut guards)
                    .await?;
                plan_group(&GroupChange {
                    id: &old.id,
                    old_name: Some(&old_name),
                    new_name: Some(&new_name),
                    added_users: &added,
                    removed_users: &removed,
                    role_changes: &roles,
                })
            }
        };
        Ok(Some(PlannedChange {
            steps: self.steps(steps),
            intent: Intent {
                held: None,
                status: 200,
                commit: ResourceCommit::Update {
                    kind: old.kind,
                    id: old.id.clone(),
                    revision: old.revision,
                    doc: new_doc,
                    members: MemberChanges { add, remove },
                    tableau_luid: old.tableau_luid.clone(),
                },
            },
            guards,
        }))
    }

    /// The removal of `old`.
    pub async fn delete(&self, tenant: &str, old: &Resource) -> ScimResult<PlannedChange> {
        let mut guards = Vec::new();
        let steps = match old.kind {
            ResourceKind::User => plan_user(
                &UserChange {
                    id: &old.id,
                    old: Some(&old.doc),
                    new: None,
                    old_role: None,
                    new_role: None,
                },
                &self.policy,
            )?,
            ResourceKind::Group => {
                let name = display_name(&old.doc);
                let members: Vec<(String, ResourceKind)> =
                    old.members.iter().map(|m| (m.id.clone(), m.kind)).collect();
                let users = user_ids(&members);
                let leaving = AffectedUsers {
                    leaving: &users,
                    ..Default::default()
                };
                let roles = self
                    .role_changes_of(tenant, &name, &name, leaving, &mut guards)
                    .await?;
                plan_group(&GroupChange {
                    id: &old.id,
                    old_name: Some(&name),
                    new_name: None,
                    added_users: &[],
                    removed_users: &[],
                    role_changes: &roles,
                })
            }
        };
        Ok(PlannedChange {
            steps: self.steps(steps),
            intent: Intent {
                held: None,
                status: 204,
                commit: ResourceCommit::Delete {
                    kind: old.kind,
                    id: old.id.clone(),
                },
            },
            guards,
        })
    }
}

/// The ids of the users among `members`.
fn user_ids(members: &[(String, ResourceKind)]) -> Vec<String> {
    members
        .iter()
        .filter(|(_, k)| *k == ResourceKind::User)
        .map(|(m, _)| m.clone())
        .collect()
}

/// The in-process lock that serialises writers of one resource.
pub fn lock_key(kind: ResourceKind, id: &str) -> String {
    format!("{}/{id}", kind.as_str())
}
