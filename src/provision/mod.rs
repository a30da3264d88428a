//! The write path. Every mutating SCIM request ends here with the new desired state of one
//! resource, computed by the pure `scim` layer. The `Provisioner` turns it into a plan of
//! Tableau steps (`plan`, `rules`), and the `Engine` journals and executes it, committing the
//! local change together with the operation (see `engine` for the guarantees).

#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "TODO(store-sqlite): being rewritten"
)]
pub mod engine;
pub mod errors;
pub mod executor;
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "TODO(store-sqlite): being rewritten"
)]
pub mod intent;
pub mod locks;
pub mod mapping;
pub mod plan;
pub mod rules;
pub mod site_role;

pub use engine::{Engine, Finished, JournalSettings, RequestMeta};
pub use locks::ResourceLocks;

use crate::model::ResourceKind;
use crate::model::{Lookup, Resource};
use crate::scim::{ScimError, ScimResult};
use crate::store::Store;
use engine::Prepared;
use intent::{CommitIntent, Intent};
use plan::{GroupChange, UserChange, plan_group, plan_user};
use rules::{desired_site_role, role_changes};
use serde_json::{Map, Value};
use site_role::SiteRole;
use std::collections::HashSet;
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

pub struct Provisioner {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    /// Serialises writers per resource inside this process (see `locks`).
    pub locks: ResourceLocks,
}

impl Provisioner {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            store: engine.store().clone(),
            engine,
            locks: ResourceLocks::default(),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Steps only when Tableau is configured: without it the server is a plain SCIM store.
    fn steps(&self, steps: Vec<plan::Step>) -> Vec<plan::Step> {
        if self.engine.tableau_enabled() {
            steps
        } else {
            Vec::new()
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

    /// Refuse a name another resource already holds, before any Tableau call is made (the
    /// store's unique index still decides races).
    async fn check_unique(
        &self,
        tenant: &str,
        kind: ResourceKind,
        doc: &Map<String, Value>,
        own_id: Option<&str>,
    ) -> ScimResult<()> {
        let (attr, lookup) = match kind {
            ResourceKind::User => (
                "userName",
                doc.get("userName")
                    .and_then(Value::as_str)
                    .map(|n| Lookup::UserName(n.to_string())),
            ),
            ResourceKind::Group => (
                "displayName",
                doc.get("displayName")
                    .and_then(Value::as_str)
                    .map(|n| Lookup::DisplayName(n.to_string())),
            ),
        };
        let Some(lookup) = lookup else { return Ok(()) };
        let taken = self.store.list(tenant, kind, Some(&lookup), false).await?;
        if let Some(other) = taken.iter().find(|r| Some(r.id.as_str()) != own_id) {
            let value = other
                .doc
                .get(attr)
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(ScimError::uniqueness(format!(
                "{attr} '{value}' is already in use"
            )));
        }
        Ok(())
    }

    /// Group names of a user, as group rules see them.
    fn group_names(user: &Resource) -> Vec<String> {
        user.groups.iter().map(|g| g.display.clone()).collect()
    }

    /// Site-role changes of users whose group set changes from `before` to `after`.
    async fn membership_role_changes(
        &self,
        tenant: &str,
        users: &[String],
        change: impl Fn(&mut Vec<String>),
    ) -> ScimResult<Vec<(String, SiteRole)>> {
        if self.engine.policy.group_roles.is_empty() || !self.engine.tableau_enabled() {
            return Ok(Vec::new());
        }
        // One read per affected user: only users whose group set changes, and only when group
        // rules exist at all.
        let mut loaded = Vec::with_capacity(users.len());
        for id in users {
            if let Some(u) = self.store.get(tenant, ResourceKind::User, id, true).await? {
                loaded.push(u);
            }
        }
        let changes: Vec<rules::MembershipChange> = loaded
            .iter()
            .map(|u| {
                let before = Self::group_names(u);
                let mut after = before.clone();
                change(&mut after);
                (u.id.clone(), &u.doc, before, after)
            })
            .collect();
        role_changes(&changes, &self.engine.policy)
    }

    pub async fn create(
        &self,
        meta: &RequestMeta,
        kind: ResourceKind,
        mut doc: Map<String, Value>,
    ) -> ScimResult<Finished> {
        let tenant = meta.tenant.as_str();
        if let Some(done) = self.engine.replay(meta).await? {
            return Ok(done);
        }
        // The name is checked once the operation holds its place in the journal (the engine's
        // stale-change check), before any Tableau call: checking here as well would cost every
        // create a second read.
        let id = uuid::Uuid::new_v4().to_string();
        let (steps, members) = match kind {
            ResourceKind::User => {
                doc.remove("groups");
                let role = desired_site_role(&doc, &[], &self.engine.policy)?;
                let change = UserChange {
                    id: &id,
                    old: None,
                    new: Some(&doc),
                    old_role: None,
                    new_role: Some(role),
                };
                (plan_user(&change, &self.engine.policy)?, Vec::new())
            }
            ResourceKind::Group => {
                let mut members = Vec::new();
                for (mid, k) in member_refs(&mut doc)?.unwrap_or_default() {
                    members.push((mid.clone(), self.resolve_kind(tenant, &mid, k).await?));
                }
                let users: Vec<String> = members
                    .iter()
                    .filter(|(_, k)| *k == ResourceKind::User)
                    .map(|(m, _)| m.clone())
                    .collect();
                let name = doc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let roles = self
                    .membership_role_changes(tenant, &users, |g| g.push(name.clone()))
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
        let intent = Intent {
            status: 201,
            commit: CommitIntent::Create {
                kind,
                id,
                doc,
                members,
                tableau_luid: None,
            },
        };
        self.engine
            .submit(
                meta,
                Prepared {
                    steps: self.steps(steps),
                    intent,
                },
            )
            .await
    }

    /// Commit `new_doc` as the next state of `old`. For groups with `Membership::Complete`,
    /// `members` in `new_doc` is the desired membership; it is diffed against the stored one
    /// so that only the changes are written (and sent to Tableau).
    pub async fn update(
        &self,
        meta: &RequestMeta,
        old: &Resource,
        mut new_doc: Map<String, Value>,
        membership: Membership,
    ) -> ScimResult<Finished> {
        let tenant = meta.tenant.as_str();
        let desired = member_refs(&mut new_doc)?;
        new_doc.remove("groups");
        let mut add = Vec::new();
        let mut remove = Vec::new();
        if old.kind == ResourceKind::Group && membership == Membership::Complete {
            let desired = desired.unwrap_or_default();
            let current: HashSet<&str> = old.members.iter().map(|m| m.id.as_str()).collect();
            let wanted: HashSet<&str> = desired.iter().map(|(id, _)| id.as_str()).collect();
            for (id, k) in &desired {
                if !current.contains(id.as_str()) {
                    add.push((id.clone(), self.resolve_kind(tenant, id, *k).await?));
                }
            }
            remove = old
                .members
                .iter()
                .filter(|m| !wanted.contains(m.id.as_str()))
                .map(|m| m.id.clone())
                .collect();
        }
        if new_doc == old.doc && add.is_empty() && remove.is_empty() {
            // Nothing changes: no journal entry, no Tableau call (an identical repeated PATCH).
            return Ok(Finished {
                status: 200,
                resource: Some(old.clone()),
            });
        }
        if new_doc != old.doc {
            self.check_unique(tenant, old.kind, &new_doc, Some(&old.id))
                .await?;
        }
        let steps = match old.kind {
            ResourceKind::User => {
                let names = Self::group_names(old);
                let policy = &self.engine.policy;
                let old_role = desired_site_role(&old.doc, &names, policy)?;
                let new_role = desired_site_role(&new_doc, &names, policy)?;
                let change = UserChange {
                    id: &old.id,
                    old: Some(&old.doc),
                    new: Some(&new_doc),
                    old_role: Some(old_role),
                    new_role: Some(new_role),
                };
                // Without Tableau nothing constrains a rename (Tableau user names are immutable).
                if self.engine.tableau_enabled() {
                    plan_user(&change, policy)?
                } else {
                    Vec::new()
                }
            }
            ResourceKind::Group => {
                let old_name = old
                    .doc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let new_name = new_doc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let added: Vec<String> = add
                    .iter()
                    .filter(|(_, k)| *k == ResourceKind::User)
                    .map(|(m, _)| m.clone())
                    .collect();
                let removed: Vec<String> = remove
                    .iter()
                    .filter(|id| {
                        old.members
                            .iter()
                            .any(|m| &m.id == *id && m.kind == ResourceKind::User)
                    })
                    .cloned()
                    .collect();
                let mut roles = self
                    .membership_role_changes(tenant, &added, |g| g.push(new_name.clone()))
                    .await?;
                roles.extend(
                    self.membership_role_changes(tenant, &removed, |g| {
                        g.retain(|n| !n.eq_ignore_ascii_case(&old_name))
                    })
                    .await?,
                );
                if !old_name.eq_ignore_ascii_case(&new_name) {
                    let stay: Vec<String> = old
                        .members
                        .iter()
                        .filter(|m| m.kind == ResourceKind::User && !remove.contains(&m.id))
                        .map(|m| m.id.clone())
                        .collect();
                    roles.extend(
                        self.membership_role_changes(tenant, &stay, |g| {
                            for n in g.iter_mut() {
                                if n.eq_ignore_ascii_case(&old_name) {
                                    *n = new_name.clone();
                                }
                            }
                        })
                        .await?,
                    );
                }
                let change = GroupChange {
                    id: &old.id,
                    old_name: Some(&old_name),
                    new_name: Some(&new_name),
                    added_users: &added,
                    removed_users: &removed,
                    role_changes: &roles,
                };
                plan_group(&change)
            }
        };
        let intent = Intent {
            status: 200,
            commit: CommitIntent::Update {
                kind: old.kind,
                id: old.id.clone(),
                revision: old.revision,
                doc: new_doc,
                add,
                remove,
                tableau_luid: old.tableau_luid.clone(),
            },
        };
        self.engine
            .submit(
                meta,
                Prepared {
                    steps: self.steps(steps),
                    intent,
                },
            )
            .await
    }

    pub async fn delete(&self, meta: &RequestMeta, old: &Resource) -> ScimResult<Finished> {
        let steps = match old.kind {
            ResourceKind::User => {
                let change = UserChange {
                    id: &old.id,
                    old: Some(&old.doc),
                    new: None,
                    old_role: None,
                    new_role: None,
                };
                plan_user(&change, &self.engine.policy)?
            }
            ResourceKind::Group => {
                let name = old
                    .doc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let users: Vec<String> = old
                    .members
                    .iter()
                    .filter(|m| m.kind == ResourceKind::User)
                    .map(|m| m.id.clone())
                    .collect();
                let roles = self
                    .membership_role_changes(&meta.tenant, &users, |g| {
                        g.retain(|n| !n.eq_ignore_ascii_case(&name))
                    })
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
        let intent = Intent {
            status: 204,
            commit: CommitIntent::Delete {
                kind: old.kind,
                id: old.id.clone(),
            },
        };
        self.engine
            .submit(
                meta,
                Prepared {
                    steps: self.steps(steps),
                    intent,
                },
            )
            .await
    }
}
