//! Pure: the drifts → the repairs, one per resource, each the ordered plan `Step`s the engine
//! runs as one journaled operation (kind `Repair`), exactly as it runs an IdP's change. A
//! user added again is planned by `provision::plan` as a create; its `AddUser` links the
//! Tableau user of that name if there is one (409000), which also repairs a stale link.

use super::desired::Desired;
use super::drift::Drift;
use crate::model::ResourceKind;
use crate::provision::plan::{Step, UserChange, plan_user};
use crate::provision::rules::ProvisionPolicy;
use std::collections::{HashMap, HashSet};

/// One repair operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    pub kind: ResourceKind,
    /// The SCIM id; for an unmanaged user, its Tableau LUID.
    pub id: String,
    /// The resource's revision the repair was computed from (`None`: an unmanaged user).
    pub revision: Option<i64>,
    /// The user or group name, for the report.
    pub name: String,
    pub steps: Vec<Step>,
    /// How many of the report's drifts it repairs.
    pub drifts: usize,
}

/// Which repairs run in which order: users before groups (a member is added by its LUID,
/// which a user repair may set), unmanaged users last (a removed user leaves its groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Users,
    Groups,
    Unmanaged,
}

impl Repair {
    pub fn phase(&self) -> Phase {
        match (self.kind, self.revision) {
            (ResourceKind::User, None) => Phase::Unmanaged,
            (ResourceKind::User, Some(_)) => Phase::Users,
            (ResourceKind::Group, _) => Phase::Groups,
        }
    }
}

/// The drifts no repair takes on: unmanaged users without `remove_unmanaged`, and the
/// memberships of unmanaged users that stay (an unmanaged user removed leaves its groups with
/// it; an administrator is never removed).
pub fn left_alone(drifts: &[Drift], remove_unmanaged: bool) -> Vec<bool> {
    let removed: HashSet<&str> = drifts
        .iter()
        .filter_map(|d| match d {
            Drift::UserUnmanaged { tableau_luid, .. } if remove_unmanaged => {
                Some(tableau_luid.as_str())
            }
            _ => None,
        })
        .collect();
    drifts
        .iter()
        .map(|d| match d {
            Drift::UserUnmanaged { .. } => !remove_unmanaged,
            Drift::MemberExtra {
                user_id: None,
                tableau_user_luid,
                ..
            } => !removed.contains(tableau_user_luid.as_str()),
            _ => false,
        })
        .collect()
}

#[derive(Default)]
struct UserFix {
    relink: bool,
    full_name: Option<String>,
    email: Option<String>,
    role: bool,
    drifts: usize,
}

#[derive(Default)]
struct GroupFix {
    create: bool,
    /// Not in Tableau at all: its members were not compared, all are added.
    missing: bool,
    rename: bool,
    add: Vec<String>,
    remove: Vec<String>,
    drifts: usize,
}

/// Fixes per resource id, in first-seen order.
struct Fixes<T> {
    list: Vec<(String, T)>,
    at: HashMap<String, usize>,
}

impl<T> Default for Fixes<T> {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            at: HashMap::new(),
        }
    }
}

impl<T: Default> Fixes<T> {
    fn entry(&mut self, id: &str) -> &mut T {
        let next = self.list.len();
        let at = *self.at.entry(id.to_string()).or_insert(next);
        if at == next {
            self.list.push((id.to_string(), T::default()));
        }
        &mut self.list[at].1
    }
}

/// The repairs for `drifts`, in phase order (stable within a phase: the report's order).
pub fn plan(
    drifts: &[Drift],
    desired: &Desired,
    policy: &ProvisionPolicy,
    remove_unmanaged: bool,
) -> Vec<Repair> {
    let mut users: Fixes<UserFix> = Fixes::default();
    let mut groups: Fixes<GroupFix> = Fixes::default();
    let mut unmanaged = Vec::new();
    // The memberships an unmanaged user's removal takes with it, by its LUID.
    let mut leaving: HashMap<&str, usize> = HashMap::new();
    let alone = left_alone(drifts, remove_unmanaged);
    for (d, _) in drifts.iter().zip(alone).filter(|(_, alone)| !alone) {
        match d {
            Drift::UserMissing { id, .. } | Drift::UserLuidStale { id, .. } => {
                let f = users.entry(id);
                f.relink = true;
                f.drifts += 1;
            }
            Drift::UserSiteRole { id, .. } => {
                let f = users.entry(id);
                f.role = true;
                f.drifts += 1;
            }
            Drift::UserAttributes {
                id,
                full_name,
                email,
                ..
            } => {
                let f = users.entry(id);
                f.full_name = full_name.as_ref().map(|c| c.expected.clone());
                f.email = email.as_ref().map(|c| c.expected.clone());
                f.drifts += 1;
            }
            Drift::UserUnmanaged {
                tableau_luid,
                user_name,
                ..
            } => unmanaged.push(Repair {
                kind: ResourceKind::User,
                id: tableau_luid.clone(),
                revision: None,
                name: user_name.clone(),
                steps: vec![Step::RemoveUnmanagedUser {
                    luid: tableau_luid.clone(),
                    name: user_name.clone(),
                    map_assets_to: policy.content_owner.clone(),
                }],
                drifts: 1,
            }),
            Drift::GroupMissing { id, .. } => {
                let f = groups.entry(id);
                f.create = true;
                f.missing = true;
                f.drifts += 1;
            }
            Drift::GroupLuidStale { id, .. } => {
                let f = groups.entry(id);
                f.create = true;
                f.drifts += 1;
            }
            Drift::GroupRenamed { id, .. } => {
                let f = groups.entry(id);
                f.rename = true;
                f.drifts += 1;
            }
            Drift::MemberMissing {
                group_id, user_id, ..
            } => {
                let f = groups.entry(group_id);
                f.add.push(user_id.clone());
                f.drifts += 1;
            }
            Drift::MemberExtra {
                group_id,
                user_id: Some(user_id),
                ..
            } => {
                let f = groups.entry(group_id);
                f.remove.push(user_id.clone());
                f.drifts += 1;
            }
            Drift::MemberExtra {
                user_id: None,
                tableau_user_luid,
                ..
            } => *leaving.entry(tableau_user_luid).or_default() += 1,
        }
    }
    let desired_users: HashMap<&str, _> =
        desired.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let desired_groups: HashMap<&str, _> =
        desired.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut repairs = Vec::new();
    for (id, fix) in users.list {
        let Some(user) = desired_users.get(id.as_str()) else {
            continue;
        };
        let steps = if fix.relink {
            // Added again (or linked by name) with its fields, as a create is planned.
            let change = UserChange {
                id: &user.id,
                old: None,
                new: Some(&user.doc),
                old_role: None,
                new_role: Some(user.site_role),
            };
            match plan_user(&change, policy) {
                Ok(steps) => steps,
                // The desired state was computed with the same rules: an error here is a
                // document the rules refuse, which `Desired` already left out.
                Err(_) => continue,
            }
        } else {
            vec![Step::UpdateUser {
                user_id: user.id.clone(),
                full_name: fix.full_name,
                email: fix.email,
                site_role: fix.role.then_some(user.site_role),
            }]
        };
        repairs.push(Repair {
            kind: ResourceKind::User,
            id: user.id.clone(),
            revision: Some(user.revision),
            name: user.user_name.clone(),
            steps,
            drifts: fix.drifts,
        });
    }
    for (id, fix) in groups.list {
        let Some(group) = desired_groups.get(id.as_str()) else {
            continue;
        };
        let mut steps = Vec::new();
        let mut add = fix.add;
        if fix.create {
            steps.push(Step::CreateGroup {
                group_id: group.id.clone(),
                name: group.name.clone(),
            });
        } else if fix.rename {
            steps.push(Step::RenameGroup {
                group_id: group.id.clone(),
                name: group.name.clone(),
            });
        }
        if fix.missing {
            add = group.members.clone();
        }
        if !fix.remove.is_empty() {
            steps.push(Step::RemoveGroupMembers {
                group_id: group.id.clone(),
                user_ids: fix.remove,
            });
        }
        if !add.is_empty() {
            steps.push(Step::AddGroupMembers {
                group_id: group.id.clone(),
                user_ids: add,
            });
        }
        repairs.push(Repair {
            kind: ResourceKind::Group,
            id: group.id.clone(),
            revision: Some(group.revision),
            name: group.name.clone(),
            steps,
            drifts: fix.drifts,
        });
    }
    for r in &mut unmanaged {
        r.drifts += leaving.get(r.id.as_str()).copied().unwrap_or(0);
    }
    repairs.extend(unmanaged);
    repairs.sort_by_key(Repair::phase);
    repairs
}
