//! The desired state the bridge holds: every stored user and group, with the site role the
//! rules give each user (`provision::rules`) and the user members of each group. Nested group
//! members are left out, as the planner leaves them out: Tableau groups hold users only.

use crate::model::{GroupRef, Resource, ResourceKind};
use crate::provision::mapping::{email, full_name, user_name};
use crate::provision::rules::{ProvisionPolicy, desired_site_role};
use crate::provision::site_role::SiteRole;
use crate::store::{Store, StoreResult};
use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredUser {
    pub id: String,
    pub user_name: String,
    pub revision: i64,
    pub luid: Option<String>,
    pub site_role: SiteRole,
    pub full_name: Option<String>,
    pub email: Option<String>,
    /// The stored document: a user added again is planned from it (`plan::plan_user`).
    pub doc: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGroup {
    pub id: String,
    pub name: String,
    pub revision: i64,
    pub luid: Option<String>,
    /// SCIM ids of the user members.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    pub users: Vec<DesiredUser>,
    pub groups: Vec<DesiredGroup>,
    /// Resources that cannot be compared (no `userName`, a `siteRoles` value the rules
    /// refuse): named in the report, never repaired.
    pub unreadable: Vec<String>,
}

impl Desired {
    /// From stored resources (loaded with their relations).
    pub fn from_resources(
        users: &[Resource],
        groups: &[Resource],
        policy: &ProvisionPolicy,
    ) -> Self {
        let mut desired = Desired::default();
        for u in users {
            let Some(name) = user_name(&u.doc).filter(|n| !n.trim().is_empty()) else {
                desired
                    .unreadable
                    .push(format!("User {}: no userName", u.id));
                continue;
            };
            let group_names: Vec<String> = u.groups.iter().map(|g| g.display.clone()).collect();
            let site_role = match desired_site_role(&u.doc, &group_names, policy) {
                Ok(role) => role,
                Err(e) => {
                    desired
                        .unreadable
                        .push(format!("User {} ({name}): {}", u.id, e.detail));
                    continue;
                }
            };
            desired.users.push(DesiredUser {
                id: u.id.clone(),
                user_name: name.to_string(),
                revision: u.revision,
                luid: u.tableau_luid.clone(),
                site_role,
                full_name: full_name(&u.doc),
                email: email(&u.doc),
                doc: u.doc.clone(),
            });
        }
        for g in groups {
            let Some(name) = g.str_attr("displayName").filter(|n| !n.trim().is_empty()) else {
                desired
                    .unreadable
                    .push(format!("Group {}: no displayName", g.id));
                continue;
            };
            desired.groups.push(DesiredGroup {
                id: g.id.clone(),
                name: name.to_string(),
                revision: g.revision,
                luid: g.tableau_luid.clone(),
                members: g
                    .members
                    .iter()
                    .filter(|m| m.kind == ResourceKind::User)
                    .map(|m| m.id.clone())
                    .collect(),
            });
        }
        desired
    }
}

/// Every stored user and group of `tenant`. The users' groups are taken from the groups'
/// members rather than loaded per user: one pass over the memberships, where asking SQLite for
/// the groups of 100,000 users at once took minutes (it scanned the id list per membership).
pub async fn load(
    store: &dyn Store,
    tenant: &str,
    policy: &ProvisionPolicy,
) -> StoreResult<Desired> {
    let mut users = store.list(tenant, ResourceKind::User, None, false).await?;
    let groups = store.list(tenant, ResourceKind::Group, None, true).await?;
    let mut groups_of: HashMap<&str, Vec<GroupRef>> = HashMap::new();
    for g in &groups {
        let display = g.str_attr("displayName").unwrap_or_default();
        for m in g.members.iter().filter(|m| m.kind == ResourceKind::User) {
            groups_of.entry(m.id.as_str()).or_default().push(GroupRef {
                id: g.id.clone(),
                display: display.to_string(),
            });
        }
    }
    for u in &mut users {
        if let Some(gs) = groups_of.remove(u.id.as_str()) {
            u.groups = gs;
        }
    }
    Ok(Desired::from_resources(&users, &groups, policy))
}
