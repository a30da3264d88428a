//! Carrying out one planned step against Tableau, safely repeatable: an add that finds the
//! user or group already there links it (409000 / 409009), adding an existing member succeeds
//! (409011), removing what is gone succeeds (404). Every HTTP exchange of the step is captured
//! for the journal (method, path, status, Tableau code, duration, the bodies with their
//! secrets redacted; never a header).

use super::demotion;
use super::errors::{
    configuration_fault, is_configuration_fault, licence_downgrade, scim_error_for, transient_cause,
};
use super::mapping::user_name;
use super::plan::Step;
use crate::model::ResourceKind;
use crate::scim::{ErrorKind, ScimError};
use crate::store::{StepOutcome, StepState, Store};
use crate::tableau::{
    CallRecord, TableauClient, TableauCode, TableauError, UserUpdate, record_calls,
};
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::mpsc;

/// Why a step did not complete.
#[derive(Debug)]
pub enum StepFailure {
    /// Throttling, 5xx, timeouts, lost connections, the store briefly unavailable: the
    /// operation stays in the journal and is resumed later.
    Transient(String),
    /// Tableau (or our own state) refuses the change: the operation fails with this error.
    Permanent(ScimError),
    /// The bridge's own configuration is at fault (Tableau refuses its credentials, the site
    /// or URL is wrong, the content owner does not exist): not the change's fault, so the
    /// operation waits, unfailed, and the IdP gets this 503 until the configuration is fixed.
    Configuration(ScimError),
}

pub struct StepResult {
    pub outcome: StepOutcome,
    pub failure: Option<StepFailure>,
}

/// Runs one operation's planned steps against Tableau, one at a time (`run`), each safely
/// repeatable and its HTTP exchanges recorded; remembers the LUIDs it learns (SCIM id →
/// Tableau LUID) for the steps after. Only the engine makes one (`Engine::run` and the
/// compensation), for an operation already journaled.
pub struct StepRunner<'a> {
    pub(super) client: &'a TableauClient,
    pub(super) store: &'a dyn Store,
    pub(super) tenant: &'a str,
    pub luids: HashMap<String, String>,
}

/// What a step did, besides its calls: the LUID it produced or acted on, and a note for the
/// journal (e.g. "linked the existing Tableau user").
#[derive(Default)]
pub(super) struct Done {
    pub(super) luid: Option<String>,
    pub(super) note: Option<String>,
}

fn transient(e: &TableauError) -> StepFailure {
    StepFailure::Transient(transient_cause(e))
}

pub(super) fn classify(step: &str, e: TableauError) -> StepFailure {
    if is_configuration_fault(&e) {
        StepFailure::Configuration(configuration_fault(&e))
    } else if e.is_transient() {
        transient(&e)
    } else {
        StepFailure::Permanent(scim_error_for(step, &e))
    }
}

pub(super) fn store_failure(e: crate::store::StoreError) -> StepFailure {
    StepFailure::Transient(format!("store: {e}"))
}

impl<'a> StepRunner<'a> {
    pub fn new(client: &'a TableauClient, store: &'a dyn Store, tenant: &'a str) -> Self {
        Self {
            client,
            store,
            tenant,
            luids: HashMap::new(),
        }
    }

    pub async fn run(&mut self, step: &Step) -> StepResult {
        let (tx, mut rx) = mpsc::unbounded_channel::<CallRecord>();
        let started = Instant::now();
        let result = record_calls(tx, self.run_step(step)).await;
        let mut calls = Vec::new();
        while let Ok(c) = rx.try_recv() {
            calls.push(c);
        }
        // A failed step reports the call that failed, not a look-up made to explain it.
        let last = match &result {
            Err(_) => calls
                .iter()
                .rev()
                .find(|c| c.status.is_some_and(|s| s >= 400))
                .or(calls.last()),
            Ok(_) => calls.last(),
        };
        let mut outcome = StepOutcome {
            state: StepState::Done,
            method: last.map(|c| c.method.clone()),
            path: last.map(|c| c.path.clone()),
            request_body: last.and_then(|c| c.request_body.clone()),
            http_status: last.and_then(|c| c.status).map(i64::from),
            tableau_code: calls.iter().rev().find_map(|c| c.code.clone()),
            duration_ms: Some(started.elapsed().as_millis() as i64),
            luid: None,
            error: None,
            calls: (!calls.is_empty()).then(|| super::exchanges::calls_json(&calls)),
        };
        let summary = (calls.len() > 1).then(|| format!("{} Tableau calls", calls.len()));
        match result {
            Ok(done) => {
                if let Some(l) = &done.luid {
                    self.luids.insert(step.resource_id().to_string(), l.clone());
                }
                outcome.luid = done.luid;
                outcome.error = match (done.note, summary) {
                    (Some(n), Some(s)) => Some(format!("{n}; {s}")),
                    (n, s) => n.or(s),
                };
                StepResult {
                    outcome,
                    failure: None,
                }
            }
            Err(f) => {
                outcome.state = StepState::Failed;
                outcome.luid = self.luids.get(step.resource_id()).cloned();
                outcome.error = Some(match &f {
                    StepFailure::Transient(m) => format!("transient: {m}"),
                    StepFailure::Configuration(e) => format!("waiting: {}", e.detail),
                    StepFailure::Permanent(e) => e.detail.clone(),
                });
                StepResult {
                    outcome,
                    failure: Some(f),
                }
            }
        }
    }

    /// The LUID of a local user or group: known from this operation, stored on the resource,
    /// or found in Tableau by name (and then stored, so the link is made once).
    pub(super) async fn luid_of(
        &mut self,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<String>, StepFailure> {
        if let Some(l) = self.luids.get(id) {
            return Ok(Some(l.clone()));
        }
        let Some(res) = self
            .store
            .get(self.tenant, kind, id, false)
            .await
            .map_err(store_failure)?
        else {
            return Ok(None);
        };
        if let Some(l) = res.tableau_luid {
            self.luids.insert(id.to_string(), l.clone());
            return Ok(Some(l));
        }
        let found = match kind {
            ResourceKind::User => match user_name(&res.doc) {
                Some(name) => self
                    .client
                    .find_user_by_name(name)
                    .await
                    .map_err(|e| classify("FindUser", e))?
                    .map(|u| u.luid),
                None => None,
            },
            ResourceKind::Group => match res.doc.get("displayName").and_then(|v| v.as_str()) {
                Some(name) => self
                    .client
                    .find_group_by_name(name)
                    .await
                    .map_err(|e| classify("FindGroup", e))?
                    .map(|g| g.luid),
                None => None,
            },
        };
        if let Some(l) = &found {
            self.claim(kind, id, l).await?;
            tracing::info!(kind = kind.as_str(), %id, luid = %l, "linked existing Tableau resource by name");
            self.store
                .set_luid(self.tenant, kind, id, Some(l))
                .await
                .map_err(|e| match e {
                    // Another resource took the LUID since `claim` looked: the unique index.
                    crate::store::StoreError::Conflict { .. } => {
                        StepFailure::Permanent(ScimError::from(e))
                    }
                    e => store_failure(e),
                })?;
            self.luids.insert(id.to_string(), l.clone());
        }
        Ok(found)
    }

    /// Before linking a Tableau user or group found by name to the resource `id`: a permanent
    /// `409` when another resource already holds its LUID (one LUID, one resource).
    async fn claim(&self, kind: ResourceKind, id: &str, luid: &str) -> Result<(), StepFailure> {
        match super::luid::check_unclaimed(self.store, self.tenant, kind, id, luid)
            .await
            .map_err(store_failure)?
        {
            Some(err) => Err(StepFailure::Permanent(err)),
            None => Ok(()),
        }
    }

    /// LUIDs of the users among `ids` that exist in Tableau; the rest are named in the note.
    async fn user_luids(
        &mut self,
        ids: &[String],
    ) -> Result<(Vec<String>, Vec<String>), StepFailure> {
        let mut luids = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.luid_of(ResourceKind::User, id).await? {
                Some(l) => luids.push(l),
                None => missing.push(id.clone()),
            }
        }
        Ok((luids, missing))
    }

    async fn run_step(&mut self, step: &Step) -> Result<Done, StepFailure> {
        let kind = step.kind();
        match step {
            Step::AddUser {
                name,
                site_role,
                auth_setting,
                idp_configuration_id,
                ..
            }
            | Step::AddRenamedUser {
                name,
                site_role,
                auth_setting,
                idp_configuration_id,
                ..
            } => {
                let wanted = site_role.as_str();
                match self
                    .client
                    .add_user(
                        name,
                        wanted,
                        auth_setting.as_deref(),
                        idp_configuration_id.as_deref(),
                    )
                    .await
                {
                    Ok(u) => {
                        if !u.site_role.eq_ignore_ascii_case(wanted) {
                            // Tableau downgrades silently when no licence of the tier is left.
                            self.luids
                                .insert(step.resource_id().to_string(), u.luid.clone());
                            return Err(StepFailure::Permanent(licence_downgrade(
                                name,
                                wanted,
                                &u.site_role,
                            )));
                        }
                        Ok(Done {
                            luid: Some(u.luid),
                            note: None,
                        })
                    }
                    Err(e) if e.code() == Some(&TableauCode::UserConflict) => {
                        let existing = self
                            .client
                            .find_user_by_name(name)
                            .await
                            .map_err(|e| classify(kind, e))?;
                        let Some(u) = existing else {
                            return Err(StepFailure::Permanent(scim_error_for(kind, &e)));
                        };
                        self.claim(ResourceKind::User, step.resource_id(), &u.luid)
                            .await?;
                        tracing::info!(user = %name, luid = %u.luid, "linked existing Tableau user (409000)");
                        self.luids
                            .insert(step.resource_id().to_string(), u.luid.clone());
                        let mut note = "linked the existing Tableau user (409000)".to_string();
                        if !u.site_role.eq_ignore_ascii_case(wanted) {
                            let update = UserUpdate {
                                site_role: Some(wanted.to_string()),
                                ..Default::default()
                            };
                            if let Err(e) = self.client.update_user(&u.luid, &update).await {
                                return Err(match e.code() {
                                    Some(TableauCode::UserUpdateProblem) => StepFailure::Permanent(
                                        demotion::blocked(self.client, &u.luid, *site_role, &e)
                                            .await,
                                    ),
                                    _ => classify(kind, e),
                                });
                            }
                            note.push_str(&format!("; site role {} -> {wanted}", u.site_role));
                        }
                        Ok(Done {
                            luid: Some(u.luid),
                            note: Some(note),
                        })
                    }
                    Err(e) => Err(classify(kind, e)),
                }
            }
            Step::UpdateUser {
                user_id,
                full_name,
                email,
                site_role,
            } => {
                let Some(luid) = self.luid_of(ResourceKind::User, user_id).await? else {
                    return Ok(Done {
                        luid: None,
                        note: Some("the user has no Tableau account; nothing to update".into()),
                    });
                };
                let update = UserUpdate {
                    full_name: full_name.clone(),
                    email: email.clone(),
                    site_role: site_role.map(|r| r.as_str().to_string()),
                };
                match self.client.update_user(&luid, &update).await {
                    Ok(_) => Ok(Done {
                        luid: Some(luid),
                        note: None,
                    }),
                    Err(e) if e.code() == Some(&TableauCode::UserUpdateProblem) => {
                        match site_role {
                            Some(role) => Err(StepFailure::Permanent(
                                demotion::blocked(self.client, &luid, *role, &e).await,
                            )),
                            None => Err(classify(kind, e)),
                        }
                    }
                    Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
                        self.store
                            .set_luid(self.tenant, ResourceKind::User, user_id, None)
                            .await
                            .map_err(store_failure)?;
                        Err(StepFailure::Permanent(ScimError::new(
                            ErrorKind::Conflict,
                            format!(
                                "the Tableau user {luid} was removed outside tableau-scim; the link is cleared, retry to provision it again"
                            ),
                        )))
                    }
                    Err(e) => Err(classify(kind, e)),
                }
            }
            Step::RemoveUser {
                user_id,
                map_assets_to,
            } => {
                let Some(luid) = self.luid_of(ResourceKind::User, user_id).await? else {
                    return Ok(Done {
                        luid: None,
                        note: Some("the user has no Tableau account".into()),
                    });
                };
                self.remove_tableau_user(kind, luid, map_assets_to.as_deref())
                    .await
            }
            Step::RemoveUnmanagedUser {
                luid,
                map_assets_to,
                ..
            } => {
                self.remove_tableau_user(kind, luid.clone(), map_assets_to.as_deref())
                    .await
            }
            Step::CreateGroup { name, .. } => match self.client.create_group(name).await {
                Ok(g) => Ok(Done {
                    luid: Some(g.luid),
                    note: None,
                }),
                Err(e) if e.code() == Some(&TableauCode::GroupNameConflict) => {
                    match self
                        .client
                        .find_group_by_name(name)
                        .await
                        .map_err(|e| classify(kind, e))?
                    {
                        Some(g) => {
                            self.claim(ResourceKind::Group, step.resource_id(), &g.luid)
                                .await?;
                            tracing::info!(group = %name, luid = %g.luid, "linked existing Tableau group (409009)");
                            Ok(Done {
                                luid: Some(g.luid),
                                note: Some("linked the existing Tableau group (409009)".into()),
                            })
                        }
                        None => Err(StepFailure::Permanent(scim_error_for(kind, &e))),
                    }
                }
                Err(e) => Err(classify(kind, e)),
            },
            Step::RenameGroup { group_id, name } => {
                let Some(luid) = self.luid_of(ResourceKind::Group, group_id).await? else {
                    let g = self
                        .client
                        .create_group(name)
                        .await
                        .map_err(|e| classify(kind, e))?;
                    return Ok(Done {
                        luid: Some(g.luid),
                        note: Some("the group was missing in Tableau and was created".into()),
                    });
                };
                self.client
                    .rename_group(&luid, name)
                    .await
                    .map_err(|e| classify(kind, e))?;
                Ok(Done {
                    luid: Some(luid),
                    note: None,
                })
            }
            Step::DeleteGroup { group_id } => {
                let Some(luid) = self.luid_of(ResourceKind::Group, group_id).await? else {
                    return Ok(Done {
                        luid: None,
                        note: Some("the group has no Tableau counterpart".into()),
                    });
                };
                match self.client.delete_group(&luid).await {
                    Ok(()) => Ok(Done {
                        luid: Some(luid),
                        note: None,
                    }),
                    Err(e) if e.code() == Some(&TableauCode::GroupNotFound) => Ok(Done {
                        luid: Some(luid),
                        note: Some("already deleted in Tableau (404012)".into()),
                    }),
                    Err(e) => Err(classify(kind, e)),
                }
            }
            Step::CheckUserNameFree { name, .. } => {
                match self
                    .client
                    .find_user_by_name(name)
                    .await
                    .map_err(|e| classify(kind, e))?
                {
                    Some(u) => Err(StepFailure::Permanent(super::rename::name_taken(name, &u))),
                    None => Ok(Done::default()),
                }
            }
            Step::CopyGroups { user_id, from } => {
                super::rename::copy_groups(self, user_id, from).await
            }
            Step::RetireOldUser { user_id, from } => {
                super::rename::retire_old_user(self, user_id, from).await
            }
            Step::RemoveRenamedUser {
                user_id,
                content_to,
            } => super::rename::remove_renamed_user(self, user_id, content_to).await,
            Step::AddGroupMembers { group_id, user_ids }
            | Step::RemoveGroupMembers { group_id, user_ids } => {
                let adding = matches!(step, Step::AddGroupMembers { .. });
                let Some(group) = self.luid_of(ResourceKind::Group, group_id).await? else {
                    return Err(StepFailure::Permanent(ScimError::new(
                        ErrorKind::Conflict,
                        format!("group {group_id} has no Tableau counterpart"),
                    )));
                };
                let (luids, missing) = self.user_luids(user_ids).await?;
                if !luids.is_empty() {
                    let r = if adding {
                        self.client.add_group_members(&group, &luids).await
                    } else {
                        self.client.remove_group_members(&group, &luids).await
                    };
                    r.map_err(|e| classify(kind, e))?;
                }
                let note = (!missing.is_empty()).then(|| {
                    format!(
                        "{} member(s) without a Tableau account skipped: {}",
                        missing.len(),
                        missing.join(", ")
                    )
                });
                Ok(Done {
                    luid: Some(group),
                    note,
                })
            }
        }
    }

    /// `DELETE /users/{luid}`, moving content to `map_assets_to` (a user name) first when
    /// given; gone already (404002) and kept as Unlicensed for owning content (409003) are done.
    async fn remove_tableau_user(
        &mut self,
        kind: &str,
        luid: String,
        map_assets_to: Option<&str>,
    ) -> Result<Done, StepFailure> {
        let owner = match map_assets_to {
            Some(name) => match self
                .client
                .find_user_by_name(name)
                .await
                .map_err(|e| classify(kind, e))?
            {
                Some(u) => Some(u.luid),
                None => {
                    return Err(StepFailure::Configuration(ScimError::new(
                                ErrorKind::Unavailable,
                                format!("the configured content owner '{name}' does not exist in Tableau; fix provision.content_owner"),
                            ).with_retry_after(super::errors::RETRY_AFTER_SECS)));
                }
            },
            None => None,
        };
        match self.client.remove_user(&luid, owner.as_deref()).await {
                    Ok(()) => Ok(Done { luid: Some(luid), note: None }),
                    Err(e) if e.code() == Some(&TableauCode::UserNotFound) => {
                        Ok(Done { luid: Some(luid), note: Some("already removed from Tableau (404002)".into()) })
                    }
                    Err(e) if e.code() == Some(&TableauCode::UserOwnsContent) => Ok(Done {
                        luid: Some(luid),
                        note: Some("the user owns content: Tableau kept them as Unlicensed (409003); set provision.content_owner to transfer content and remove them".into()),
                    }),
                    Err(e) => Err(classify(kind, e)),
                }
    }
}
