//! Pure: the desired state and what was read from Tableau → the drifts. No I/O, so every kind
//! of drift is a unit test (`diff_tests.rs`).
//!
//! A resource is matched to its Tableau counterpart by its stored LUID; failing that, by name,
//! case-insensitively as Tableau compares names (then the stored link is stale, and the
//! repair links the one found). Fields are compared with the counterpart found either way.

use super::desired::{Desired, DesiredGroup, DesiredUser};
use super::drift::{Drift, FieldChange};
use crate::provision::site_role::SiteRole;
use crate::tableau::{TableauGroup, TableauUser};
use std::collections::{HashMap, HashSet};

/// What was read from Tableau.
#[derive(Debug, Clone, Default)]
pub struct TableauState {
    pub users: Vec<TableauUser>,
    pub groups: Vec<TableauGroup>,
    /// Member user LUIDs of the Tableau groups matched to managed groups, by group LUID.
    pub members: HashMap<String, Vec<String>>,
    /// Licence capacity per tier (`Creator`, `Explorer`, `Viewer`) when Tableau reports it.
    pub capacity: Vec<(&'static str, u64)>,
}

/// How a resource found its Tableau counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a, T> {
    ByLuid(&'a T),
    /// By name: the stored LUID is absent or stale.
    ByName(&'a T),
    Missing,
}

impl<'a, T> Found<'a, T> {
    pub fn get(self) -> Option<&'a T> {
        match self {
            Found::ByLuid(t) | Found::ByName(t) => Some(t),
            Found::Missing => None,
        }
    }
}

/// Tableau's entries indexed by LUID and by lower-case name.
struct Index<'a, T> {
    by_luid: HashMap<&'a str, &'a T>,
    by_name: HashMap<String, &'a T>,
}

impl<'a, T> Index<'a, T> {
    fn new(items: &'a [T], luid: impl Fn(&T) -> &str, name: impl Fn(&T) -> &str) -> Self {
        let mut by_name = HashMap::with_capacity(items.len());
        for item in items {
            by_name.entry(name(item).to_lowercase()).or_insert(item);
        }
        Self {
            by_luid: items.iter().map(|i| (luid(i), i)).collect(),
            by_name,
        }
    }

    fn find(&self, luid: Option<&str>, name: &str) -> Found<'a, T> {
        if let Some(t) = luid.and_then(|l| self.by_luid.get(l)) {
            return Found::ByLuid(t);
        }
        match self.by_name.get(&name.to_lowercase()) {
            Some(t) => Found::ByName(t),
            None => Found::Missing,
        }
    }
}

/// Each managed group's Tableau counterpart, in the order of `desired.groups`: whose members
/// must be read.
pub fn match_groups<'a>(
    desired: &Desired,
    groups: &'a [TableauGroup],
) -> Vec<Found<'a, TableauGroup>> {
    let index = Index::new(groups, |g| &g.luid, |g| &g.name);
    desired
        .groups
        .iter()
        .map(|g| index.find(g.luid.as_deref(), &g.name))
        .collect()
}

/// Whether a Tableau site role string is an administrator's.
pub fn is_administrator(site_role: &str) -> bool {
    site_role.to_ascii_lowercase().contains("administrator")
}

/// The outcome of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compared {
    pub drifts: Vec<Drift>,
    /// Names of the unmanaged Tableau users who are administrators (the bridge's own account
    /// among them): not drift, never touched, listed apart.
    pub administrators: Vec<String>,
}

/// Every drift, users first (managed, then unmanaged), then groups and their members.
pub fn diff(desired: &Desired, tableau: &TableauState) -> Compared {
    let mut administrators = Vec::new();
    let users = Index::new(&tableau.users, |u| &u.luid, |u| &u.name);
    let mut drifts = Vec::new();
    // Tableau LUID → the managed user it stands for.
    let mut managed: HashMap<&str, &DesiredUser> = HashMap::new();
    let used = seats_used(&tableau.users);
    for user in &desired.users {
        let found = users.find(user.luid.as_deref(), &user.user_name);
        match found {
            Found::Missing => drifts.push(Drift::UserMissing {
                id: user.id.clone(),
                user_name: user.user_name.clone(),
                stored_luid: user.luid.clone(),
            }),
            Found::ByName(t) => drifts.push(Drift::UserLuidStale {
                id: user.id.clone(),
                user_name: user.user_name.clone(),
                stored_luid: user.luid.clone(),
                tableau_luid: t.luid.clone(),
            }),
            Found::ByLuid(_) => {}
        }
        if let Some(t) = found.get() {
            // Two resources cannot hold one LUID (the store's unique index); two names that
            // differ only in case cannot exist either: the first keeps the match.
            managed.entry(t.luid.as_str()).or_insert(user);
            compare_user(user, t, &used, &tableau.capacity, &mut drifts);
        }
    }
    for t in &tableau.users {
        if managed.contains_key(t.luid.as_str()) {
            continue;
        }
        if is_administrator(&t.site_role) {
            administrators.push(t.name.clone());
        } else {
            drifts.push(Drift::UserUnmanaged {
                tableau_luid: t.luid.clone(),
                user_name: t.name.clone(),
                site_role: t.site_role.clone(),
            });
        }
    }
    let names: HashMap<&str, &str> = tableau
        .users
        .iter()
        .map(|u| (u.luid.as_str(), u.name.as_str()))
        .collect();
    // SCIM user id → its Tableau LUID, for the users that have one.
    let luid_of: HashMap<&str, &str> = managed
        .iter()
        .map(|(luid, user)| (user.id.as_str(), *luid))
        .collect();
    let user_names: HashMap<&str, &str> = desired
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.user_name.as_str()))
        .collect();
    let found_groups = match_groups(desired, &tableau.groups);
    for (group, found) in desired.groups.iter().zip(found_groups) {
        let t = match found {
            Found::Missing => {
                drifts.push(Drift::GroupMissing {
                    id: group.id.clone(),
                    name: group.name.clone(),
                    stored_luid: group.luid.clone(),
                    members: group.members.len(),
                });
                continue;
            }
            Found::ByName(t) => {
                drifts.push(Drift::GroupLuidStale {
                    id: group.id.clone(),
                    name: group.name.clone(),
                    stored_luid: group.luid.clone(),
                    tableau_luid: t.luid.clone(),
                });
                t
            }
            Found::ByLuid(t) => {
                if t.name != group.name {
                    drifts.push(Drift::GroupRenamed {
                        id: group.id.clone(),
                        name: group.name.clone(),
                        tableau_luid: t.luid.clone(),
                        tableau_name: t.name.clone(),
                    });
                }
                t
            }
        };
        let actual = tableau
            .members
            .get(&t.luid)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        compare_members(
            group,
            actual,
            &luid_of,
            &user_names,
            &managed,
            &names,
            &mut drifts,
        );
    }
    Compared {
        drifts,
        administrators,
    }
}

fn compare_user(
    user: &DesiredUser,
    t: &TableauUser,
    used: &HashMap<&'static str, u64>,
    capacity: &[(&'static str, u64)],
    drifts: &mut Vec<Drift>,
) {
    let expected = user.site_role.as_str();
    if !t.site_role.eq_ignore_ascii_case(expected) {
        let downgraded = t
            .site_role
            .eq_ignore_ascii_case(SiteRole::Unlicensed.as_str())
            && user.site_role != SiteRole::Unlicensed;
        let seats_full = if downgraded {
            tier(user.site_role).and_then(|tier| {
                let cap = capacity.iter().find(|(t, _)| *t == tier)?.1;
                Some(used.get(tier).copied().unwrap_or(0) >= cap)
            })
        } else {
            None
        };
        drifts.push(Drift::UserSiteRole {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
            tableau_luid: t.luid.clone(),
            expected: expected.to_string(),
            actual: t.site_role.clone(),
            seats_full,
        });
    }
    let change = |want: &Option<String>, have: &Option<String>| -> Option<FieldChange> {
        let want = want.as_ref()?;
        (Some(want) != have.as_ref()).then(|| FieldChange {
            expected: want.clone(),
            actual: have.clone(),
        })
    };
    let full_name = change(&user.full_name, &t.full_name);
    let email = change(&user.email, &t.email);
    if full_name.is_some() || email.is_some() {
        drifts.push(Drift::UserAttributes {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
            tableau_luid: t.luid.clone(),
            full_name,
            email,
        });
    }
}

fn compare_members(
    group: &DesiredGroup,
    actual: &[String],
    luid_of: &HashMap<&str, &str>,
    user_names: &HashMap<&str, &str>,
    managed: &HashMap<&str, &DesiredUser>,
    names: &HashMap<&str, &str>,
    drifts: &mut Vec<Drift>,
) {
    let actual_set: HashSet<&str> = actual.iter().map(String::as_str).collect();
    let mut wanted: HashSet<&str> = HashSet::new();
    for member in &group.members {
        let Some(name) = user_names.get(member.as_str()) else {
            // A member the store holds but the desired state left out (unreadable).
            continue;
        };
        let luid = luid_of.get(member.as_str()).copied();
        if let Some(l) = luid {
            wanted.insert(l);
        }
        if luid.is_none_or(|l| !actual_set.contains(l)) {
            drifts.push(Drift::MemberMissing {
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                user_id: member.clone(),
                user_name: name.to_string(),
            });
        }
    }
    for l in actual {
        if wanted.contains(l.as_str()) {
            continue;
        }
        drifts.push(Drift::MemberExtra {
            group_id: group.id.clone(),
            group_name: group.name.clone(),
            tableau_user_luid: l.clone(),
            user_name: names.get(l.as_str()).unwrap_or(&"?").to_string(),
            user_id: managed.get(l.as_str()).map(|u| u.id.clone()),
        });
    }
}

/// The licence tier a role takes a seat of (Unlicensed takes none).
pub fn tier(role: SiteRole) -> Option<&'static str> {
    match role {
        SiteRole::Unlicensed => None,
        SiteRole::Viewer => Some("Viewer"),
        SiteRole::Explorer | SiteRole::ExplorerCanPublish | SiteRole::SiteAdministratorExplorer => {
            Some("Explorer")
        }
        SiteRole::Creator | SiteRole::SiteAdministratorCreator => Some("Creator"),
    }
}

/// Seats taken per tier, from the users' Tableau roles. A server administrator takes a
/// Creator seat; other roles outside the seven assignable ones (guests, support users) none.
pub fn seats_used(users: &[TableauUser]) -> HashMap<&'static str, u64> {
    let mut used = HashMap::new();
    for u in users {
        let t = if u.site_role.eq_ignore_ascii_case("ServerAdministrator") {
            Some("Creator")
        } else {
            u.site_role.parse::<SiteRole>().ok().and_then(tier)
        };
        if let Some(t) = t {
            *used.entry(t).or_insert(0) += 1;
        }
    }
    used
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
