//! The desired state the bridge holds: every stored user and group, with the site role the
//! rules give each user (`provision::rules`) and the user members of each group. Nested group
//! members are left out, as the planner leaves them out: Tableau groups hold users only.

use crate::model::{Resource, ResourceKind};
use crate::provision::mapping::{email, full_name, user_name};
use crate::provision::rules::{ProvisionPolicy, desired_site_role};
use crate::provision::site_role::SiteRole;
use crate::store::{Store, StoreResult};
use serde_json::{Map, Value};

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

/// Every stored user and group of `tenant`, with relations.
pub async fn load(
    store: &dyn Store,
    tenant: &str,
    policy: &ProvisionPolicy,
) -> StoreResult<Desired> {
    let users = store.list(tenant, ResourceKind::User, None, true).await?;
    let groups = store.list(tenant, ResourceKind::Group, None, true).await?;
    Ok(Desired::from_resources(&users, &groups, policy))
}
