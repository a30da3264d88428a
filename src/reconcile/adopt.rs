//! `reconcile --adopt`: before going live on a site with existing users, what the bridge will
//! do with each Tableau user and group — link it to a SCIM resource (matching names
//! case-insensitively, as Tableau compares them), create one that is missing, or leave it
//! alone. Pure: the read and the names in, the forecast out.
//!
//! Nothing is recorded ahead of the push (docs/operations.md, "Adopting existing users"): the
//! step runner already links on the IdP's first POST — `AddUser` answered 409000 (`CreateGroup`,
//! 409009) looks the name up and links that Tableau user, checked by `provision::luid` (one
//! LUID, one resource) and committed with the new resource in one transaction. A link
//! recorded earlier would be a second path to the same end that can go stale (the Tableau
//! user deleted or renamed before the push); the forecast tells the admin what that path will
//! do, so the first push holds no surprise and creates no duplicate.

use super::desired::Desired;
use super::diff::is_administrator;
use crate::tableau::{TableauGroup, TableauUser};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

/// What will happen to one user or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Already linked (a stored resource with its Tableau LUID).
    Linked,
    /// The Tableau user or group of this name (any case) will be linked, not added again.
    Link,
    /// No Tableau user or group of this name: one will be added.
    Create,
    /// A Tableau user or group no name matches: left as it is (reconcile reports it as
    /// unmanaged; it is removed only by `reconcile --apply --remove-unmanaged`).
    Leave,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub resource_type: &'static str,
    pub action: Action,
    /// The name as the IdP sends it (or, for `leave`, as Tableau has it).
    pub name: String,
    /// The stored resource, when there is one (the IdP has pushed it).
    pub scim_id: Option<String>,
    pub tableau_luid: Option<String>,
    pub tableau_name: Option<String>,
    pub tableau_site_role: Option<String>,
    /// The role the rules give a stored user, which a link sets; `null` for names the IdP has
    /// not pushed yet (the role then follows from what it sends).
    pub expected_site_role: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// `users`/`groups` → action → count.
    pub counts: BTreeMap<&'static str, BTreeMap<Action, usize>>,
    pub entries: Vec<Entry>,
}

/// The names the IdP will push, beyond those already stored (e.g. exported from the IdP's
/// assignments), one list per kind.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// Names one a line; blank lines and lines starting with `#` are skipped.
pub fn parse_names(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

struct Side<'a> {
    luid: &'a str,
    name: &'a str,
    role: Option<&'a str>,
}

/// One kind's forecast: stored resources (id, name, luid, expected role), then listed names.
fn forecast_kind<'a>(
    resource_type: &'static str,
    stored: Vec<(String, String, Option<String>, Option<String>)>,
    listed: &[String],
    tableau: &'a [Side<'a>],
    skip: impl Fn(&Side) -> bool,
    entries: &mut Vec<Entry>,
) {
    let by_luid: HashMap<&'a str, &'a Side<'a>> = tableau.iter().map(|t| (t.luid, t)).collect();
    let mut by_name: HashMap<String, &'a Side<'a>> = HashMap::new();
    for t in tableau {
        by_name.entry(t.name.to_lowercase()).or_insert(t);
    }
    let mut claimed: HashSet<&'a str> = HashSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |name: &str,
                    id: Option<String>,
                    luid: Option<&str>,
                    expected: Option<String>,
                    claimed: &mut HashSet<&'a str>| {
        let (action, t): (Action, Option<&'a Side<'a>>) =
            match luid.and_then(|l| by_luid.get(l).copied()) {
                Some(t) => (Action::Linked, Some(t)),
                None => match by_name.get(&name.to_lowercase()) {
                    Some(t) if !claimed.contains(t.luid) => (Action::Link, Some(*t)),
                    _ => (Action::Create, None),
                },
            };
        if let Some(t) = t {
            claimed.insert(t.luid);
        }
        entries.push(Entry {
            resource_type,
            action,
            name: name.to_string(),
            scim_id: id,
            tableau_luid: t.map(|t| t.luid.to_string()),
            tableau_name: t.map(|t| t.name.to_string()),
            tableau_site_role: t.and_then(|t| t.role.map(str::to_string)),
            expected_site_role: expected,
        });
    };
    for (id, name, luid, expected) in stored {
        seen.insert(name.to_lowercase());
        push(&name, Some(id), luid.as_deref(), expected, &mut claimed);
    }
    for name in listed {
        if seen.insert(name.to_lowercase()) {
            push(name, None, None, None, &mut claimed);
        }
    }
    for t in tableau {
        if !claimed.contains(t.luid) && !skip(t) {
            entries.push(Entry {
                resource_type,
                action: Action::Leave,
                name: t.name.to_string(),
                scim_id: None,
                tableau_luid: Some(t.luid.to_string()),
                tableau_name: Some(t.name.to_string()),
                tableau_site_role: t.role.map(str::to_string),
                expected_site_role: None,
            });
        }
    }
}

/// The forecast for the stored resources and `names`, against Tableau's users and groups.
pub fn forecast(
    desired: &Desired,
    names: &Names,
    users: &[TableauUser],
    groups: &[TableauGroup],
) -> Forecast {
    let mut entries = Vec::new();
    let user_sides: Vec<Side> = users
        .iter()
        .map(|u| Side {
            luid: &u.luid,
            name: &u.name,
            role: Some(&u.site_role),
        })
        .collect();
    let stored_users = desired
        .users
        .iter()
        .map(|u| {
            (
                u.id.clone(),
                u.user_name.clone(),
                u.luid.clone(),
                Some(u.site_role.as_str().to_string()),
            )
        })
        .collect();
    forecast_kind(
        "User",
        stored_users,
        &names.users,
        &user_sides,
        |_| false,
        &mut entries,
    );
    let group_sides: Vec<Side> = groups
        .iter()
        .map(|g| Side {
            luid: &g.luid,
            name: &g.name,
            role: None,
        })
        .collect();
    let stored_groups = desired
        .groups
        .iter()
        .map(|g| (g.id.clone(), g.name.clone(), g.luid.clone(), None))
        .collect();
    // "All Users" is Tableau's own; no IdP manages it.
    forecast_kind(
        "Group",
        stored_groups,
        &names.groups,
        &group_sides,
        |t| t.name == "All Users",
        &mut entries,
    );
    let mut counts: BTreeMap<&'static str, BTreeMap<Action, usize>> = BTreeMap::new();
    for e in &entries {
        let key = if e.resource_type == "User" {
            "users"
        } else {
            "groups"
        };
        *counts.entry(key).or_default().entry(e.action).or_default() += 1;
    }
    Forecast { counts, entries }
}

impl Forecast {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (kind, counts) in &self.counts {
            let n = |a: Action| counts.get(&a).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{kind}: {} to link, {} to create, {} left alone, {} already linked",
                n(Action::Link),
                n(Action::Create),
                n(Action::Leave),
                n(Action::Linked)
            );
        }
        let _ = writeln!(out);
        for e in self.entries.iter().filter(|e| e.action != Action::Linked) {
            let what = e.resource_type.to_lowercase();
            let line = match e.action {
                Action::Link => {
                    let tableau = e.tableau_name.as_deref().unwrap_or("?");
                    let role = match (&e.tableau_site_role, &e.expected_site_role) {
                        (Some(have), Some(want)) if !have.eq_ignore_ascii_case(want) => {
                            format!(", site role {have} -> {want}")
                        }
                        (Some(have), _) => format!(", {have}"),
                        _ => String::new(),
                    };
                    let when = if e.scim_id.is_some() {
                        "on the next reconcile --apply"
                    } else {
                        "on the IdP's first push"
                    };
                    format!(
                        "link    {what} {} -> Tableau {tableau}{role} ({when})",
                        e.name
                    )
                }
                Action::Create => format!("create  {what} {}", e.name),
                Action::Leave => {
                    let admin = match &e.tableau_site_role {
                        Some(r) if is_administrator(r) => " (administrator)",
                        _ => "",
                    };
                    format!("leave   {what} {}{admin}", e.name)
                }
                Action::Linked => continue,
            };
            let _ = writeln!(out, "{line}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::site_role::SiteRole;
    use crate::reconcile::desired::DesiredUser;

    fn tuser(luid: &str, name: &str) -> TableauUser {
        TableauUser {
            luid: luid.into(),
            name: name.into(),
            site_role: "Creator".into(),
            full_name: None,
            email: None,
        }
    }

    fn stored(id: &str, name: &str, luid: Option<&str>) -> DesiredUser {
        DesiredUser {
            id: id.into(),
            user_name: name.into(),
            revision: 1,
            luid: luid.map(Into::into),
            site_role: SiteRole::Viewer,
            full_name: None,
            email: None,
            doc: Default::default(),
        }
    }

    #[test]
    fn each_name_links_once_case_insensitively() {
        let desired = Desired {
            users: vec![
                stored("s1", "kept@x", Some("L1")),
                stored("s2", "Pat@X", None),
            ],
            ..Default::default()
        };
        let names = Names {
            // pat@x is stored already (any case); ANN@x links the Tableau user "ann@x".
            users: parse_names("pat@x\nANN@x\n# comment\n\nnew@x"),
            groups: vec![],
        };
        let users = [
            tuser("L1", "kept@x"),
            tuser("L2", "pat@x"),
            tuser("L3", "ann@x"),
            tuser("L4", "manual@x"),
        ];
        let f = forecast(&desired, &names, &users, &[]);
        let got: Vec<(&str, Action, Option<&str>)> = f
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.action, e.tableau_luid.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("kept@x", Action::Linked, Some("L1")),
                ("Pat@X", Action::Link, Some("L2")),
                ("ANN@x", Action::Link, Some("L3")),
                ("new@x", Action::Create, None),
                ("manual@x", Action::Leave, Some("L4")),
            ]
        );
        assert_eq!(f.entries[1].expected_site_role.as_deref(), Some("Viewer"));
        assert!(f.to_text().contains("site role Creator -> Viewer"));
        assert_eq!(f.counts["users"][&Action::Link], 2);
    }
}
