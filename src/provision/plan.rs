//! The plan: the difference between a resource's old and new SCIM state, as the ordered list
//! of Tableau calls that makes Tableau match (DESIGN.md, "Tableau mapping"). Pure: no I/O, no
//! clock, so every IdP lifecycle is a unit test and a journaled plan can be replayed.
//!
//! Ids in steps are SCIM ids. The step runner maps them to Tableau LUIDs (the store keeps the
//! mapping); `AddUser` and `CreateGroup` are the steps that create it.

use super::mapping::{email, extension_string, full_name, user_name};
use super::rules::{ProvisionPolicy, UserNameChange, desired_site_role, extension_site_role};
use super::site_role::SiteRole;
use crate::scim::ScimError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// One Tableau REST call (or, for the member steps, one logical call the step runner may split
/// into bulk or parallel single calls). Serialised into the journal, so the variant and field
/// names are a storage format: add, do not rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum Step {
    /// `POST /users` with `name`, `siteRole` and at most one of `authSetting` and
    /// `idpConfigurationId` (Tableau refuses both). `StepRunner`: on 409000 look the user up by
    /// name and link it (logged); read `siteRole` back, since Tableau may downgrade it to
    /// Unlicensed when licences run out.
    AddUser {
        user_id: String,
        name: String,
        site_role: SiteRole,
        auth_setting: Option<String>,
        idp_configuration_id: Option<String>,
    },
    /// `PUT /users/{luid}`; only the fields that change are `Some`.
    UpdateUser {
        user_id: String,
        full_name: Option<String>,
        email: Option<String>,
        site_role: Option<SiteRole>,
    },
    /// `DELETE /users/{luid}[?mapAssetsTo=…]`; `map_assets_to` is a Tableau user *name* (the
    /// configured content owner), resolved to a LUID by the step runner.
    RemoveUser {
        user_id: String,
        map_assets_to: Option<String>,
    },
    /// `POST /groups`. `StepRunner`: on 409009 look the group up by name and link it (logged).
    CreateGroup {
        group_id: String,
        name: String,
    },
    RenameGroup {
        group_id: String,
        name: String,
    },
    DeleteGroup {
        group_id: String,
    },
    AddGroupMembers {
        group_id: String,
        user_ids: Vec<String>,
    },
    RemoveGroupMembers {
        group_id: String,
        user_ids: Vec<String>,
    },
    /// A rename by recreate, first (read-only): `409 uniqueness` when Tableau already has a
    /// user called `name`, so the rename changes nothing rather than take over someone else's
    /// account. The engine makes its record durable before the next step runs: once the add
    /// has run, a repeated check would find the operation's own new user.
    CheckUserNameFree {
        user_id: String,
        name: String,
    },
    /// A rename by recreate: Add User under the new name, as `AddUser` (409000 links, the role
    /// is read back). The check before it proved the name free, so a user it finds (a repeat
    /// after a crash) is this operation's own, and compensation removes it like one it created.
    AddRenamedUser {
        user_id: String,
        name: String,
        site_role: SiteRole,
        auth_setting: Option<String>,
        idp_configuration_id: Option<String>,
    },
    /// A rename by recreate: the new user joins every Tableau group the old user is in (All
    /// Users aside), also groups tableau-scim does not manage.
    CopyGroups {
        user_id: String,
        from: OldUser,
    },
    /// A rename by recreate, last: the old user's content moves to the new user and the old
    /// user is removed — Remove User `mapAssetsTo` the new user, or, where Tableau refuses
    /// that to the bridge's sign-in (403), the owner of each project, workbook, data source
    /// and flow changed, then a plain Remove User. Never undone (see `compensation.rs`).
    RetireOldUser {
        user_id: String,
        from: OldUser,
    },
    /// Undo of `AddRenamedUser`: Remove User for the new user, its content (if any was moved
    /// already) mapped back to the old user `content_to` while that user exists.
    RemoveRenamedUser {
        user_id: String,
        content_to: String,
    },
    /// `DELETE /users/{luid}[?mapAssetsTo=…]` of a Tableau user no SCIM resource manages
    /// (`reconcile --apply --remove-unmanaged`): it has a LUID and a name, no SCIM id.
    RemoveUnmanagedUser {
        luid: String,
        name: String,
        map_assets_to: Option<String>,
    },
}

/// The Tableau user a rename replaces. Its LUID is the one the store holds until the rename
/// commits (else it is found by `name`), which is why the step carries the name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldUser {
    pub name: String,
}

impl Step {
    /// The variant name, as in the journal's `step` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::AddUser { .. } => "AddUser",
            Step::UpdateUser { .. } => "UpdateUser",
            Step::RemoveUser { .. } => "RemoveUser",
            Step::CreateGroup { .. } => "CreateGroup",
            Step::RenameGroup { .. } => "RenameGroup",
            Step::DeleteGroup { .. } => "DeleteGroup",
            Step::AddGroupMembers { .. } => "AddGroupMembers",
            Step::RemoveGroupMembers { .. } => "RemoveGroupMembers",
            Step::CheckUserNameFree { .. } => "CheckUserNameFree",
            Step::AddRenamedUser { .. } => "AddRenamedUser",
            Step::CopyGroups { .. } => "CopyGroups",
            Step::RetireOldUser { .. } => "RetireOldUser",
            Step::RemoveRenamedUser { .. } => "RemoveRenamedUser",
            Step::RemoveUnmanagedUser { .. } => "RemoveUnmanagedUser",
        }
    }

    /// The SCIM id of the user or group the step acts on (for an unmanaged user, its LUID).
    pub fn resource_id(&self) -> &str {
        match self {
            Step::AddUser { user_id, .. }
            | Step::UpdateUser { user_id, .. }
            | Step::RemoveUser { user_id, .. }
            | Step::CheckUserNameFree { user_id, .. }
            | Step::AddRenamedUser { user_id, .. }
            | Step::CopyGroups { user_id, .. }
            | Step::RetireOldUser { user_id, .. }
            | Step::RemoveRenamedUser { user_id, .. } => user_id,
            Step::CreateGroup { group_id, .. }
            | Step::RenameGroup { group_id, .. }
            | Step::DeleteGroup { group_id }
            | Step::AddGroupMembers { group_id, .. }
            | Step::RemoveGroupMembers { group_id, .. } => group_id,
            Step::RemoveUnmanagedUser { luid, .. } => luid,
        }
    }
}

/// A user's change. `old`/`new` are the stored and desired documents (`None` = create /
/// delete). `old_role`/`new_role` are the computed site roles (`desired_site_role` with the
/// user's groups), which only the engine can compute because it knows the groups. On create a
/// `None` `new_role` is computed from the document alone, which is exact: a new user is in no
/// group yet. On update a `None` `new_role` leaves the role alone.
#[derive(Debug, Clone, Copy)]
pub struct UserChange<'a> {
    pub id: &'a str,
    pub old: Option<&'a Map<String, Value>>,
    pub new: Option<&'a Map<String, Value>>,
    pub old_role: Option<SiteRole>,
    pub new_role: Option<SiteRole>,
}

/// The steps for one user change; errors are the SCIM errors to answer with (nothing is then
/// sent to Tableau or committed).
pub fn plan_user(change: &UserChange, policy: &ProvisionPolicy) -> Result<Vec<Step>, ScimError> {
    // The one guard for an invalid `siteRoles`, whichever way the engine computed the roles.
    if let Some(new) = change.new {
        extension_site_role(new)?;
    }
    match (change.old, change.new) {
        (None, Some(new)) => plan_user_create(change, new, policy),
        (Some(old), Some(new)) => plan_user_update(change, old, new, policy),
        (Some(_), None) => Ok(vec![Step::RemoveUser {
            user_id: change.id.to_string(),
            map_assets_to: policy.content_owner.clone(),
        }]),
        (None, None) => Err(ScimError::internal(
            "plan_user: a change needs an old or a new document",
        )),
    }
}

/// `AddUser`, then `UpdateUser` for `fullName`/`email`: Add User accepts only name, site role
/// and authentication (reference §2.3).
fn plan_user_create(
    change: &UserChange,
    new: &Map<String, Value>,
    policy: &ProvisionPolicy,
) -> Result<Vec<Step>, ScimError> {
    let name = user_name(new)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required to create a Tableau user"))?;
    let site_role = match change.new_role {
        Some(role) => role,
        None => desired_site_role(new, &[], policy)?,
    };
    let (auth_setting, idp_configuration_id) = authentication(new, policy);
    let mut steps = vec![Step::AddUser {
        user_id: change.id.to_string(),
        name: name.to_string(),
        site_role,
        auth_setting,
        idp_configuration_id,
    }];
    steps.extend(name_and_email(change.id, new));
    Ok(steps)
}

/// The `UpdateUser` that gives a just-added user its full name and e-mail (Add User takes
/// neither), when the document has one.
fn name_and_email(user_id: &str, new: &Map<String, Value>) -> Option<Step> {
    let (full_name, email) = (full_name(new), email(new));
    (full_name.is_some() || email.is_some()).then(|| Step::UpdateUser {
        user_id: user_id.to_string(),
        full_name,
        email,
        site_role: None,
    })
}

/// The new user's `authSetting`/`idpConfigurationId`. The user's extension overrides the
/// policy as a pair (a user who names an IdP configuration must not inherit the policy's
/// `authSetting`), and `idpConfigurationId` wins over `authSetting` because Tableau refuses
/// both and the configuration id is the more specific (it implies its authentication type,
/// and Tableau requires it for configurations created after January 2025, reference §2.2).
fn authentication(
    user: &Map<String, Value>,
    policy: &ProvisionPolicy,
) -> (Option<String>, Option<String>) {
    let from_user = (
        extension_string(user, "authSetting"),
        extension_string(user, "idpConfigurationId"),
    );
    let (auth, idp) = match from_user {
        (None, None) => (
            policy.auth_setting.clone(),
            policy.idp_configuration_id.clone(),
        ),
        pair => pair,
    };
    if idp.is_some() {
        (None, idp)
    } else {
        (auth, None)
    }
}

/// Only what changed. A field removed from the SCIM document is left as it is in Tableau:
/// Tableau has no documented way to clear `fullName`, and refuses an empty `email` as invalid.
/// `authSetting` is for new users only (DESIGN.md), so a later change does not move an
/// existing user to another identity provider behind the admin's back.
fn plan_user_update(
    change: &UserChange,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    policy: &ProvisionPolicy,
) -> Result<Vec<Step>, ScimError> {
    if let Some((old_name, new_name)) = check_user_name(user_name(old), user_name(new), policy)? {
        return plan_recreate(change, old_name, new_name, new, policy);
    }
    let changed = |o: Option<String>, n: Option<String>| n.filter(|n| Some(n) != o.as_ref());
    let full_name = changed(full_name(old), full_name(new));
    let email = changed(email(old), email(new));
    let site_role = change.new_role.filter(|r| Some(*r) != change.old_role);
    if full_name.is_none() && email.is_none() && site_role.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![Step::UpdateUser {
        user_id: change.id.to_string(),
        full_name,
        email,
        site_role,
    }])
}

/// Tableau user names are immutable (reference §0.7). They are also case-insensitive (409000
/// "name clash" ignores case; `name:cieq:` finds the user), so a change of case only still
/// names the same Tableau user: it needs no Tableau call, and the store keeps the IdP's new
/// spelling. Any other change is refused, or with `recreate` is `Some((old, new))`: the names
/// of the user to replace and of the one to add.
fn check_user_name<'a>(
    old: Option<&'a str>,
    new: Option<&'a str>,
    policy: &ProvisionPolicy,
) -> Result<Option<(&'a str, &'a str)>, ScimError> {
    let (Some(old), Some(new)) = (old, new) else {
        return Ok(None);
    };
    if old.to_lowercase() == new.to_lowercase() {
        return Ok(None);
    }
    match policy.on_user_name_change {
        UserNameChange::Refuse => Err(ScimError::mutability(format!(
            "userName cannot change in Tableau: Tableau user names are immutable, so '{old}' cannot \
             become '{new}'. Restore the old userName in the identity provider, or unassign the \
             user and assign it again under the new name (a new Tableau user), or have the \
             bridge do the rename: provision.on_user_name_change = \"recreate\" adds the user \
             under the new name, moves its groups and content and removes the old user"
        ))),
        UserNameChange::Recreate => Ok(Some((old, new))),
    }
}

/// A rename by recreate, in this order and for these reasons:
/// 1. `CheckUserNameFree`: a name Tableau already has is refused before anything changes;
/// 2. `AddRenamedUser` with the computed site role and the authentication a new user gets,
///    then `UpdateUser` for its full name and e-mail (Add User takes neither);
/// 3. `CopyGroups`, then 4. `RetireOldUser` (content moved, old user removed): the old user
///    goes last, so until then every failure leaves it whole, and an undo needs only remove
///    the new user.
fn plan_recreate(
    change: &UserChange,
    old_name: &str,
    new_name: &str,
    new: &Map<String, Value>,
    policy: &ProvisionPolicy,
) -> Result<Vec<Step>, ScimError> {
    let user_id = change.id.to_string();
    let site_role = match change.new_role {
        Some(role) => role,
        None => desired_site_role(new, &[], policy)?,
    };
    let (auth_setting, idp_configuration_id) = authentication(new, policy);
    let from = OldUser {
        name: old_name.to_string(),
    };
    let mut steps = vec![
        Step::CheckUserNameFree {
            user_id: user_id.clone(),
            name: new_name.to_string(),
        },
        Step::AddRenamedUser {
            user_id: user_id.clone(),
            name: new_name.to_string(),
            site_role,
            auth_setting,
            idp_configuration_id,
        },
    ];
    steps.extend(name_and_email(&user_id, new));
    steps.push(Step::CopyGroups {
        user_id: user_id.clone(),
        from: from.clone(),
    });
    steps.push(Step::RetireOldUser { user_id, from });
    Ok(steps)
}

/// A group's change. Names are SCIM `displayName`s (`None` = create / delete); member lists are
/// the already diffed SCIM user ids; `role_changes` are the users whose computed site role
/// changes because of this change (see `rules::role_changes`).
#[derive(Debug, Clone, Copy)]
pub struct GroupChange<'a> {
    pub id: &'a str,
    pub old_name: Option<&'a str>,
    pub new_name: Option<&'a str>,
    pub added_users: &'a [String],
    pub removed_users: &'a [String],
    pub role_changes: &'a [(String, SiteRole)],
}

/// The steps, in this order and for these reasons:
/// 1. `CreateGroup` / `RenameGroup` first: they are the steps Tableau most often refuses
///    (409009, the name is taken), and a refusal then changes nothing else. A rename compares
///    exactly: Tableau keeps and shows the name's case, so a case change is a rename.
/// 2. Role `UpdateUser`s next, before the membership changes they follow from: the likeliest
///    permanent failure there is a role whose licence tier is full (409014), and failing
///    before the members move keeps the Tableau group in step with the SCIM group, which is
///    not committed either. (After a refused rename nothing has changed at all.)
/// 3. `RemoveGroupMembers` before `AddGroupMembers`: while a replacement (Okta's PUT) is half
///    done, a member too few grants less than a member too many.
///
/// Delete is `DeleteGroup` then the role updates (deleting a group drops its memberships in
/// Tableau, so no member removal is needed, and a refused delete changes no role).
pub fn plan_group(change: &GroupChange) -> Vec<Step> {
    let group_id = change.id.to_string();
    let mut steps = Vec::new();
    match (change.old_name, change.new_name) {
        (Some(_), None) => {
            steps.push(Step::DeleteGroup { group_id });
            push_role_updates(&mut steps, change.role_changes);
            return steps;
        }
        (None, Some(name)) => steps.push(Step::CreateGroup {
            group_id: group_id.clone(),
            name: name.to_string(),
        }),
        (Some(old), Some(new)) if old != new => steps.push(Step::RenameGroup {
            group_id: group_id.clone(),
            name: new.to_string(),
        }),
        // Same name, or no names at all (a membership-only change).
        _ => {}
    }
    push_role_updates(&mut steps, change.role_changes);
    let removed = unique(change.removed_users);
    if !removed.is_empty() {
        steps.push(Step::RemoveGroupMembers {
            group_id: group_id.clone(),
            user_ids: removed,
        });
    }
    let added = unique(change.added_users);
    if !added.is_empty() {
        steps.push(Step::AddGroupMembers {
            group_id,
            user_ids: added,
        });
    }
    steps
}

fn push_role_updates(steps: &mut Vec<Step>, role_changes: &[(String, SiteRole)]) {
    steps.extend(role_changes.iter().map(|(user_id, role)| Step::UpdateUser {
        user_id: user_id.clone(),
        full_name: None,
        email: None,
        site_role: Some(*role),
    }));
}

/// The ids once each, in first-seen order (a repeated id would be a repeated Tableau call).
fn unique(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
