//! The kinds of drift between Tableau and the bridge's desired state, as the report names them.
//! Serialised into `reconcile --format json`: the tag (`kind`) and field names are a published
//! format (docs/operations.md): add, do not rename.

use serde::{Deserialize, Serialize};

/// One difference. `id` is the SCIM id of the resource that wants the change; `tableau_luid`
/// the Tableau user or group compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// No Tableau user has the stored LUID or the user's name (`stored_luid`: the LUID the
    /// store held, gone from Tableau, if any).
    UserMissing {
        id: String,
        user_name: String,
        stored_luid: Option<String>,
    },
    /// The stored LUID (or none, `null`) does not name the Tableau user of this name.
    UserLuidStale {
        id: String,
        user_name: String,
        stored_luid: Option<String>,
        tableau_luid: String,
    },
    /// The site role differs. `seats_full`: Tableau shows `Unlicensed` where a licensed role
    /// is wanted and the wanted role's licence tier is full, which is how Tableau downgrades a
    /// user when seats run out (`null` when Tableau reports no capacity for the tier).
    UserSiteRole {
        id: String,
        user_name: String,
        tableau_luid: String,
        expected: String,
        actual: String,
        seats_full: Option<bool>,
    },
    /// Full name or e-mail differ (a field the SCIM document does not set is not compared).
    UserAttributes {
        id: String,
        user_name: String,
        tableau_luid: String,
        full_name: Option<FieldChange>,
        email: Option<FieldChange>,
    },
    /// A Tableau user no SCIM resource manages; removed only with `--remove-unmanaged`.
    /// (Administrators are not drift: the report names them apart, and nothing touches them.)
    UserUnmanaged {
        tableau_luid: String,
        user_name: String,
        site_role: String,
    },
    /// No Tableau group has the stored LUID or the group's name.
    GroupMissing {
        id: String,
        name: String,
        stored_luid: Option<String>,
        members: usize,
    },
    /// The stored LUID (or none) does not name the Tableau group of this name.
    GroupLuidStale {
        id: String,
        name: String,
        stored_luid: Option<String>,
        tableau_luid: String,
    },
    /// The linked Tableau group has another name (a case change counts: Tableau shows it).
    GroupRenamed {
        id: String,
        name: String,
        tableau_luid: String,
        tableau_name: String,
    },
    /// A member of the SCIM group is not a member of its Tableau group.
    MemberMissing {
        group_id: String,
        group_name: String,
        user_id: String,
        user_name: String,
    },
    /// A member of the Tableau group is no member of the SCIM group. `user_id` is `null` for
    /// a Tableau user no resource manages: it leaves the group only with the user
    /// (`--remove-unmanaged`).
    MemberExtra {
        group_id: String,
        group_name: String,
        tableau_user_luid: String,
        user_name: String,
        user_id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub expected: String,
    pub actual: Option<String>,
}

/// Every kind, in report order (the metrics' `kind` label values).
pub const KINDS: [&str; 10] = [
    "user_missing",
    "user_luid_stale",
    "user_site_role",
    "user_attributes",
    "user_unmanaged",
    "group_missing",
    "group_luid_stale",
    "group_renamed",
    "member_missing",
    "member_extra",
];

impl Drift {
    pub fn kind(&self) -> &'static str {
        match self {
            Drift::UserMissing { .. } => KINDS[0],
            Drift::UserLuidStale { .. } => KINDS[1],
            Drift::UserSiteRole { .. } => KINDS[2],
            Drift::UserAttributes { .. } => KINDS[3],
            Drift::UserUnmanaged { .. } => KINDS[4],
            Drift::GroupMissing { .. } => KINDS[5],
            Drift::GroupLuidStale { .. } => KINDS[6],
            Drift::GroupRenamed { .. } => KINDS[7],
            Drift::MemberMissing { .. } => KINDS[8],
            Drift::MemberExtra { .. } => KINDS[9],
        }
    }

    /// The id of the resource whose repair takes it on: the SCIM id (the group's for a
    /// membership), or the LUID of an unmanaged user.
    pub fn resource_id(&self) -> &str {
        match self {
            Drift::UserMissing { id, .. }
            | Drift::UserLuidStale { id, .. }
            | Drift::UserSiteRole { id, .. }
            | Drift::UserAttributes { id, .. }
            | Drift::GroupMissing { id, .. }
            | Drift::GroupLuidStale { id, .. }
            | Drift::GroupRenamed { id, .. } => id,
            Drift::UserUnmanaged { tableau_luid, .. } => tableau_luid,
            Drift::MemberMissing { group_id, .. } | Drift::MemberExtra { group_id, .. } => group_id,
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        let luid = |l: &Option<String>| match l {
            Some(l) => format!("stored LUID {l} is gone from Tableau"),
            None => "never linked".to_string(),
        };
        match self {
            Drift::UserMissing {
                user_name,
                stored_luid,
                ..
            } => format!("user {user_name}: not in Tableau ({})", luid(stored_luid)),
            Drift::UserLuidStale {
                user_name,
                stored_luid,
                tableau_luid,
                ..
            } => format!(
                "user {user_name}: {}; Tableau has it as {tableau_luid}",
                luid(stored_luid)
            ),
            Drift::UserSiteRole {
                user_name,
                expected,
                actual,
                seats_full,
                ..
            } => {
                let why = match seats_full {
                    Some(true) => " (Tableau downgraded it: no licence left in the tier)",
                    _ => "",
                };
                format!("user {user_name}: site role {actual}, expected {expected}{why}")
            }
            Drift::UserAttributes {
                user_name,
                full_name,
                email,
                ..
            } => {
                let mut parts = Vec::new();
                for (field, change) in [("full name", full_name), ("e-mail", email)] {
                    if let Some(c) = change {
                        parts.push(format!(
                            "{field} {:?}, expected {:?}",
                            c.actual.as_deref().unwrap_or(""),
                            c.expected
                        ));
                    }
                }
                format!("user {user_name}: {}", parts.join("; "))
            }
            Drift::UserUnmanaged {
                user_name,
                site_role,
                ..
            } => format!("user {user_name}: in Tableau ({site_role}), managed by no SCIM resource"),
            Drift::GroupMissing {
                name,
                stored_luid,
                members,
                ..
            } => format!(
                "group {name}: not in Tableau ({}; {members} member(s))",
                luid(stored_luid)
            ),
            Drift::GroupLuidStale {
                name,
                stored_luid,
                tableau_luid,
                ..
            } => format!(
                "group {name}: {}; Tableau has it as {tableau_luid}",
                luid(stored_luid)
            ),
            Drift::GroupRenamed {
                name, tableau_name, ..
            } => format!("group {name}: called {tableau_name:?} in Tableau"),
            Drift::MemberMissing {
                group_name,
                user_name,
                ..
            } => format!("group {group_name}: member {user_name} missing in Tableau"),
            Drift::MemberExtra {
                group_name,
                user_name,
                user_id,
                ..
            } => {
                let unmanaged = if user_id.is_none() {
                    " (an unmanaged user)"
                } else {
                    ""
                };
                format!("group {group_name}: {user_name} is a member in Tableau only{unmanaged}")
            }
        }
    }
}
