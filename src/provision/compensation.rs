//! Compensation: when an operation cannot finish — Tableau refuses a step permanently after
//! earlier steps of the same operation succeeded, or the store refuses the commit itself — the
//! engine undoes what the operation already did in Tableau, so the end state is as if the
//! request never came (issue 9: "a failed change is undone or finished, never left half-way").
//!
//! The undo steps are computed once, when the failure happens, from the steps that ran and the
//! store's state (which the failed operation never changed: the store commits only with
//! success). They are journaled like any other step (kind `undo:<Step>`, after the failed step,
//! replacing the steps that will not run), each carrying the LUID it acts on and the error the
//! operation finally fails with, so a crash mid-compensation resumes them from the journal.
//! The operation then ends `failed`; `ops` lists the undo steps.
//!
//! What cannot be undone is left, and said: a removed user stays removed (a delete has no
//! later step to fail), a field Tableau cannot clear (an e-mail or full name that had none
//! before) keeps its new value, and a Tableau user or group that existed before and was only
//! linked is never removed.
//!
//! A rename by recreate is undone by removing the new user (its content, if some was moved
//! already, mapped back to the old user) while the old user exists — also when
//! `RetireOldUser` itself is refused, which leaves the old user in place. Once that step has
//! completed, the old user is gone and the new one holds its content: the rename is then
//! only ever finished forward, never undone, since removing the new user would leave no user
//! at all. What could still fail it is the commit, which the name checks before any Tableau
//! call (the store's names, the journal's claim on the new name) and the input rules leave
//! no reason to refuse; should it be refused all the same, the new Tableau user stays, and the
//! journal shows every step that ran.

use super::mapping::{email, full_name, user_name};
use super::plan::Step;
use super::rules::{ProvisionPolicy, desired_site_role};
use crate::model::ResourceKind;
use crate::scim::{ScimError, ScimResult};
use crate::store::{PlannedStep, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// Journal kinds of undo steps start with this.
pub const UNDO_PREFIX: &str = "undo:";

/// One undo step as journaled (the step's `description`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    /// The index of the step it undoes.
    pub undoes: i64,
    /// What to do in Tableau.
    pub step: Step,
    /// The LUID the undone step produced or acted on (the store may not know it: a user being
    /// created is not in the store).
    pub luid: Option<String>,
    /// The error the operation fails with once compensated: its status and SCIM body.
    pub status: u16,
    pub error: Value,
}

impl Undo {
    pub fn kind(&self) -> String {
        format!("{UNDO_PREFIX}{}", self.step.kind())
    }
}

/// Whether a journaled step is an undo step.
pub fn is_undo(kind: &str) -> bool {
    kind.starts_with(UNDO_PREFIX)
}

/// A forward step that ran: done, or failed after creating something (a user Tableau added
/// with a lesser site role than asked).
#[derive(Debug, Clone)]
pub struct Ran {
    pub idx: i64,
    pub step: Step,
    pub luid: Option<String>,
    /// Whether the step created the user or group (Tableau answered 201), rather than linking
    /// one that already existed.
    pub created: bool,
}

/// The undo steps for the steps that ran (in the order they ran), newest first, each with the
/// index of the step it undoes and the LUID to act on.
pub async fn plan_undo(
    store: &dyn Store,
    tenant: &str,
    policy: &ProvisionPolicy,
    ran: &[Ran],
) -> ScimResult<Vec<(i64, Step, Option<String>)>> {
    // Users and groups this operation created are removed whole: nothing else done to them
    // needs undoing.
    let created = |kind: &str| -> HashSet<String> {
        ran.iter()
            .filter(|r| r.created && r.step.kind() == kind)
            .map(|r| r.step.resource_id().to_string())
            .collect()
    };
    let (mut new_users, new_groups) = (created("AddUser"), created("CreateGroup"));
    // A rename by recreate: the new user is this operation's own however it was added (see
    // `Step::AddRenamedUser`), and is removed whole — unless the old user is gone already.
    let retired = ran
        .iter()
        .any(|r| matches!(r.step, Step::RetireOldUser { .. }));
    for r in ran {
        if let Step::AddRenamedUser { user_id, .. } = &r.step
            && !retired
        {
            new_users.insert(user_id.clone());
        }
    }
    let mut undo = Vec::new();
    for r in ran.iter().rev() {
        let id = r.step.resource_id().to_string();
        let mut push = |step: Step| undo.push((r.idx, step, r.luid.clone()));
        match &r.step {
            Step::AddUser { user_id, .. } if r.created => push(Step::RemoveUser {
                user_id: user_id.clone(),
                map_assets_to: None,
            }),
            Step::CreateGroup { group_id, .. } if r.created => push(Step::DeleteGroup {
                group_id: group_id.clone(),
            }),
            Step::AddRenamedUser { user_id, .. } if !retired => {
                // Content already moved to the new user goes back to the old one.
                let old = store
                    .get(tenant, ResourceKind::User, user_id, false)
                    .await?;
                match old.as_ref().and_then(|u| user_name(&u.doc)) {
                    Some(old_name) => push(Step::RemoveRenamedUser {
                        user_id: user_id.clone(),
                        content_to: old_name.to_string(),
                    }),
                    None => push(Step::RemoveUser {
                        user_id: user_id.clone(),
                        map_assets_to: None,
                    }),
                }
            }
            Step::AddUser { .. }
            | Step::CreateGroup { .. }
            | Step::RemoveUser { .. }
            | Step::AddRenamedUser { .. }
            | Step::CheckUserNameFree { .. }
            | Step::CopyGroups { .. }
            | Step::RetireOldUser { .. }
            | Step::RemoveRenamedUser { .. }
            | Step::RemoveUnmanagedUser { .. } => {}
            Step::UpdateUser {
                user_id,
                full_name: new_full_name,
                email: new_email,
                site_role,
            } if !new_users.contains(&id) => {
                let Some(old) = store.get(tenant, ResourceKind::User, user_id, true).await? else {
                    continue;
                };
                let groups: Vec<String> = old.groups.iter().map(|g| g.display.clone()).collect();
                let restore = Step::UpdateUser {
                    user_id: user_id.clone(),
                    full_name: new_full_name.as_ref().and_then(|_| full_name(&old.doc)),
                    email: new_email.as_ref().and_then(|_| email(&old.doc)),
                    site_role: match site_role {
                        Some(_) => Some(desired_site_role(&old.doc, &groups, policy)?),
                        None => None,
                    },
                };
                if let Step::UpdateUser {
                    full_name: None,
                    email: None,
                    site_role: None,
                    ..
                } = restore
                {
                    continue;
                }
                push(restore);
            }
            Step::UpdateUser { .. } => {}
            Step::RenameGroup { group_id, .. } if !new_groups.contains(&id) => {
                let old = store
                    .get(tenant, ResourceKind::Group, group_id, false)
                    .await?;
                if let Some(name) = old.as_ref().and_then(|g| g.str_attr("displayName")) {
                    push(Step::RenameGroup {
                        group_id: group_id.clone(),
                        name: name.to_string(),
                    });
                }
            }
            Step::RenameGroup { .. } => {}
            Step::DeleteGroup { group_id } => {
                // Deleted in Tableau, still in the store: create it again with its members (a
                // new LUID, which the engine stores once the group exists again).
                let Some(old) = store
                    .get(tenant, ResourceKind::Group, group_id, true)
                    .await?
                else {
                    continue;
                };
                let Some(name) = old.str_attr("displayName") else {
                    continue;
                };
                push(Step::CreateGroup {
                    group_id: group_id.clone(),
                    name: name.to_string(),
                });
                let users: Vec<String> = old
                    .members
                    .iter()
                    .filter(|m| m.kind == ResourceKind::User)
                    .map(|m| m.id.clone())
                    .collect();
                if !users.is_empty() {
                    undo.push((
                        r.idx,
                        Step::AddGroupMembers {
                            group_id: group_id.clone(),
                            user_ids: users,
                        },
                        None,
                    ));
                }
            }
            Step::AddGroupMembers { group_id, user_ids } if !new_groups.contains(&id) => {
                push(Step::RemoveGroupMembers {
                    group_id: group_id.clone(),
                    user_ids: user_ids.clone(),
                })
            }
            Step::RemoveGroupMembers { group_id, user_ids } if !new_groups.contains(&id) => {
                push(Step::AddGroupMembers {
                    group_id: group_id.clone(),
                    user_ids: user_ids.clone(),
                })
            }
            Step::AddGroupMembers { .. } | Step::RemoveGroupMembers { .. } => {}
        }
    }
    Ok(undo)
}

/// The undo steps as journal steps from index `first`, all failing the operation with `err`.
pub fn journal_steps(
    first: i64,
    undo: Vec<(i64, Step, Option<String>)>,
    err: &ScimError,
) -> ScimResult<Vec<PlannedStep>> {
    undo.into_iter()
        .enumerate()
        .map(|(i, (undoes, step, luid))| {
            let undo = Undo {
                undoes,
                step,
                luid,
                status: err.status(),
                error: err.to_body(),
            };
            Ok(PlannedStep {
                idx: first + i as i64,
                kind: undo.kind(),
                description: serde_json::to_value(&undo).map_err(|e| {
                    ScimError::internal(format!("cannot journal an undo step: {e}"))
                })?,
            })
        })
        .collect()
}

/// The error an operation fails with once its steps are undone: the original one, saying
/// that Tableau was put back as it was (or what could not be).
pub fn compensated_error(err: &ScimError, undone: usize, not_undone: &[String]) -> ScimError {
    let mut e = err.clone();
    if not_undone.is_empty() {
        e.detail.push_str(&format!(
            " The {undone} change(s) already made in Tableau were undone."
        ));
    } else {
        e.detail.push_str(&format!(
            " Undoing the changes already made in Tableau failed: {}",
            not_undone.join("; ")
        ));
    }
    e
}

#[cfg(test)]
#[path = "compensation_tests.rs"]
mod tests;
