//! The Tableau side of a rename by recreate (`provision.on_user_name_change = "recreate"`):
//! the steps after the new user is added — its groups, the old user's content, the old user's
//! removal — and the undo that removes the new user again. Each is safe to repeat: the old
//! user found gone means the step already ran (the old user goes last, and only once the
//! steps before it are done), and adding a member or moving an owner twice changes nothing.
//!
//! Two Tableau users stand for one SCIM user while a rename runs. The new one's LUID is what
//! the operation's `AddRenamedUser` produced (the step runner's map, restored from the journal
//! on resume); the old one's is what the store still holds, since the store changes only when
//! the operation commits — or, for a user never linked, the one Tableau has under the old name.

use super::plan::OldUser;
use super::step_runner::{Done, StepFailure, StepRunner, classify, store_failure};
use crate::model::ResourceKind;
use crate::scim::{ErrorKind, ScimError};
use crate::tableau::{ContentKind, TableauCode, TableauError, TableauUser};

/// Tableau's built-in group of every user: a new user is in it already.
const ALL_USERS: &str = "All Users";

/// The `409` of a rename onto a name Tableau already has.
pub fn name_taken(name: &str, existing: &TableauUser) -> ScimError {
    ScimError::uniqueness(format!(
        "userName '{name}' is already taken in Tableau by the user '{}' ({}); Tableau user \
         names are unique regardless of case, so the user cannot be renamed onto it, and \
         nothing was changed. Remove or rename that Tableau user first, or choose another \
         userName",
        existing.name, existing.luid
    ))
}

/// The new user's LUID, known since `AddRenamedUser` ran.
fn new_luid(runner: &StepRunner<'_>, user_id: &str) -> Result<String, StepFailure> {
    runner.luids.get(user_id).cloned().ok_or_else(|| {
        StepFailure::Permanent(ScimError::internal(
            "a rename step ran before the new Tableau user was added",
        ))
    })
}

/// The old user's LUID, or `None` when Tableau has no such user any more.
async fn old_luid(
    runner: &StepRunner<'_>,
    user_id: &str,
    from: &OldUser,
    new: &str,
) -> Result<Option<String>, StepFailure> {
    let stored = runner
        .store
        .get(runner.tenant, ResourceKind::User, user_id, false)
        .await
        .map_err(store_failure)?
        .and_then(|u| u.tableau_luid)
        .filter(|l| l != new);
    if stored.is_some() {
        return Ok(stored);
    }
    let found = runner
        .client
        .find_user_by_name(&from.name)
        .await
        .map_err(|e| classify("FindUser", e))?;
    Ok(found.map(|u| u.luid).filter(|l| l != new))
}

fn done(new: &str, note: impl Into<String>) -> Result<Done, StepFailure> {
    Ok(Done {
        luid: Some(new.to_string()),
        note: Some(note.into()),
    })
}

fn code_of(e: &TableauError) -> String {
    e.code()
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// The new user joins each Tableau group of the old user (All Users aside). Read from
/// Tableau (Get Groups for a User, API 3.7+), so groups made outside tableau-scim carry over
/// too; an older API gives the SCIM groups the store knows.
pub(super) async fn copy_groups(
    runner: &mut StepRunner<'_>,
    user_id: &str,
    from: &OldUser,
) -> Result<Done, StepFailure> {
    let kind = "CopyGroups";
    let new = new_luid(runner, user_id)?;
    let Some(old) = old_luid(runner, user_id, from, &new).await? else {
        return done(
            &new,
            "the old user is no longer in Tableau: its groups were copied before it was removed",
        );
    };
    let groups: Vec<String> = match runner.client.groups_of_user(&old).await {
        Ok(Some(groups)) => groups
            .into_iter()
            .map(|g| g.group)
            .filter(|g| !g.name.eq_ignore_ascii_case(ALL_USERS))
            .map(|g| g.luid)
            .collect(),
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
            return done(&new, "the old user is no longer in Tableau (404002)");
        }
        Err(e) => return Err(classify(kind, e)),
        // Before API 3.7 Tableau cannot list a user's groups: the SCIM groups it is in.
        Ok(None) => {
            let user = runner
                .store
                .get(runner.tenant, ResourceKind::User, user_id, true)
                .await
                .map_err(store_failure)?;
            let mut luids = Vec::new();
            for g in user.map(|u| u.groups).unwrap_or_default() {
                if let Some(l) = runner.luid_of(ResourceKind::Group, &g.id).await? {
                    luids.push(l);
                }
            }
            luids
        }
    };
    let member = [new.clone()];
    for group in &groups {
        runner
            .client
            .add_group_members(group, &member)
            .await
            .map_err(|e| classify(kind, e))?;
    }
    done(
        &new,
        format!(
            "added to the {} group(s) of the old user {old}",
            groups.len()
        ),
    )
}

/// The old user's content moves to the new user, and the old user is removed: Remove User
/// with `mapAssetsTo`, which moves everything the user owns at once; where Tableau refuses
/// that parameter to the bridge's sign-in (403: on Tableau Server only server administrators
/// may use it), each project, workbook, data source and flow is given to the new user, then
/// the old user is removed. What is left (a kind the REST API cannot reassign) keeps the old
/// user as Tableau does (409003, Unlicensed), and the journal says so.
pub(super) async fn retire_old_user(
    runner: &mut StepRunner<'_>,
    user_id: &str,
    from: &OldUser,
) -> Result<Done, StepFailure> {
    let kind = "RetireOldUser";
    let new = new_luid(runner, user_id)?;
    let Some(old) = old_luid(runner, user_id, from, &new).await? else {
        return done(&new, "the old user is already removed from Tableau");
    };
    match runner.client.remove_user(&old, Some(&new)).await {
        Ok(()) => done(
            &new,
            format!("removed the old user {old}; its content moved to {new} (mapAssetsTo)"),
        ),
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
            gone_or_new_missing(runner, &old, &new).await
        }
        Err(e) if matches!(e.code(), Some(TableauCode::Forbidden(_))) => {
            item_by_item(runner, &old, &new, &code_of(&e)).await
        }
        Err(e) => Err(classify(kind, e)),
    }
}

/// 404002 names either user: the old one already removed (done), or the new one removed
/// outside tableau-scim (the rename cannot finish; compensation undoes the rest).
async fn gone_or_new_missing(
    runner: &StepRunner<'_>,
    old: &str,
    new: &str,
) -> Result<Done, StepFailure> {
    match runner.client.get_user(old).await {
        Ok(_) => Err(StepFailure::Permanent(ScimError::new(
            ErrorKind::Conflict,
            format!(
                "the new Tableau user {new} was removed outside tableau-scim during the rename; \
                 nothing was renamed, retry to rename again"
            ),
        ))),
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => done(
            new,
            format!("the old user {old} was already removed (404002)"),
        ),
        Err(e) => Err(classify("RetireOldUser", e)),
    }
}

async fn item_by_item(
    runner: &StepRunner<'_>,
    old: &str,
    new: &str,
    refusal: &str,
) -> Result<Done, StepFailure> {
    let kind = "RetireOldUser";
    let old_user = match runner.client.get_user(old).await {
        Ok(u) => u,
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
            return done(
                new,
                format!("the old user {old} was already removed (404002)"),
            );
        }
        Err(e) => return Err(classify(kind, e)),
    };
    let (mut moved, mut refused) = (0usize, Vec::new());
    for content in ContentKind::ALL {
        if !runner
            .client
            .has_content_kind(content)
            .await
            .map_err(|e| classify(kind, e))?
        {
            continue;
        }
        let items = runner
            .client
            .owned_content(content, old, &old_user.name)
            .await
            .map_err(|e| classify(kind, e))?;
        for item in items {
            match runner
                .client
                .set_content_owner(content, &item.id, new)
                .await
            {
                Ok(()) => moved += 1,
                Err(e) if e.is_transient() => return Err(classify(kind, e)),
                Err(e) => {
                    refused.push(format!(
                        "{} '{}' {} ({})",
                        content.element(),
                        item.name,
                        item.id,
                        code_of(&e)
                    ));
                }
            }
        }
    }
    let mut note =
        format!("mapAssetsTo refused ({refusal}): {moved} item(s) given to {new} one by one");
    if !refused.is_empty() {
        note.push_str(&format!("; not moved: {}", refused.join(", ")));
    }
    match runner.client.remove_user(old, None).await {
        Ok(()) => note.push_str(&format!("; removed the old user {old}")),
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
            note.push_str(&format!("; the old user {old} was already removed"))
        }
        Err(e) if e.code() == Some(&TableauCode::UserOwnsContent) => note.push_str(&format!(
            "; the old user {old} still owns content the REST API cannot give to another user, \
             so Tableau kept it as Unlicensed (409003): move that content in Tableau and remove \
             the user there"
        )),
        Err(e) => return Err(classify(kind, e)),
    }
    done(new, note)
}

/// The undo of `AddRenamedUser`: the new user removed, anything it received mapped back to
/// the old user while that user exists.
pub(super) async fn remove_renamed_user(
    runner: &mut StepRunner<'_>,
    user_id: &str,
    content_to: &str,
) -> Result<Done, StepFailure> {
    let kind = "RemoveRenamedUser";
    let Some(new) = runner.luids.get(user_id).cloned() else {
        return Ok(Done {
            luid: None,
            note: Some("no new Tableau user to remove".into()),
        });
    };
    let back = runner
        .client
        .find_user_by_name(content_to)
        .await
        .map_err(|e| classify(kind, e))?
        .map(|u| u.luid)
        .filter(|l| *l != new);
    match runner.client.remove_user(&new, back.as_deref()).await {
        Ok(()) => Ok(Done {
            luid: Some(new),
            note: None,
        }),
        Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
            done(&new, "already removed from Tableau (404002)")
        }
        Err(e) if e.code() == Some(&TableauCode::UserOwnsContent) => done(
            &new,
            "the new user owns content and the old user is gone: Tableau kept it as Unlicensed (409003)",
        ),
        Err(e) => Err(classify(kind, e)),
    }
}
