//! The engine's side of the mass-removal guard (`guard.rs`): deciding to hold an operation,
//! holding it, a later change superseding it, and the admin's `ops release` and `ops discard`.

use super::engine::{Answer, Engine, Finish};
use super::errors::refuses_commit_for_good;
use super::intent::Intent;
use crate::model::ResourceKind;
use crate::scim::{ErrorKind, ScimError, ScimResult};
use crate::store::{Operation, OperationState, StoreError};
use std::sync::Arc;

/// Why `release` or `discard` cannot act on an operation; one line each.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    #[error("no operation {0} in the journal")]
    Unknown(String),
    #[error("operation {id} is {state}, not held")]
    NotHeld { id: String, state: &'static str },
    #[error(
        "operation {id} is held on {kind} {resource}, but operation {other} is running on it; \
         release it once that one has finished"
    )]
    Busy {
        id: String,
        kind: &'static str,
        resource: String,
        other: String,
    },
    #[error(
        "operation {id} would act on Tableau {luid}, which {kind} {holder} manages now (a later \
         resource took it over); discard it and run `tableau-scim reconcile`"
    )]
    TakenOver {
        id: String,
        luid: String,
        kind: &'static str,
        holder: String,
    },
    #[error("{0}")]
    Scim(#[from] ScimError),
}

impl From<StoreError> for HeldError {
    fn from(e: StoreError) -> Self {
        HeldError::Scim(ScimError::from(e))
    }
}

impl Engine {
    /// Whether an operation with `removals` must be held: the guard's sum over its window,
    /// from the journal. Operations opened at the same moment (on this server or another)
    /// each see the sum without the others, so the limit can be passed by as many removals
    /// as there are concurrent requests (docs/operations.md).
    pub(super) async fn guard_trips(&self, tenant: &str, removals: i64) -> ScimResult<bool> {
        let guard = self.guard();
        // In dry-run nothing is removed: nothing to hold.
        if !guard.enabled || removals <= 0 || self.dry_run() {
            return Ok(false);
        }
        let since = guard.window_start(time::OffsetDateTime::now_utc());
        let in_window = self.store.removals_since(tenant, &since).await?;
        Ok(guard.trips(in_window, removals))
    }

    /// Hold a journaled operation: commit its SCIM side, leave its steps pending, warn.
    pub(super) async fn hold(&self, op: &Operation, intent: &Intent) -> ScimResult<Answer> {
        let mut commit = intent.commit.clone();
        let held = self
            .finish_with_commit(op, Finish::Hold, intent.status, &mut commit)
            .await;
        let resource = match held {
            Ok(resource) => resource,
            // Refused for good before any Tableau call: the operation fails (nothing to undo),
            // rather than stay running for the worker, which would carry its steps out.
            Err(e) if refuses_commit_for_good(&e) => {
                let err = ScimError::from(e);
                self.store
                    .fail_operation(&op.tenant, &op.id, err.status(), &err.to_body())
                    .await?;
                return Err(err);
            }
            Err(e) => return Err(e.into()),
        };
        let guard = self.guard();
        crate::metrics::guard_held(op.removals);
        tracing::warn!(
            op = %op.id,
            method = %op.method,
            path = %op.path,
            removals = op.removals,
            max_removals = guard.max_removals,
            window_secs = guard.window_secs,
            "mass-removal guard: operation held; its Tableau steps wait for `tableau-scim ops release` or `ops discard`"
        );
        Ok(Answer {
            status: intent.status,
            resource,
            held: true,
        })
    }

    /// A later change to a resource supersedes its held operations: it was computed from the
    /// stored state, which includes what they committed, so it is what Tableau should follow
    /// (a user deactivated then reactivated stays licensed). They are discarded with a note;
    /// whatever they would have done and the later change does not, reconcile reports.
    pub(super) async fn supersede_held(&self, op: &Operation) -> ScimResult<()> {
        // A point read first (nearly always nothing held on the resource): the write that
        // discards is made only when there is something to discard.
        let held = self
            .store
            .has_held_on(&op.tenant, op.resource_kind, &op.resource_id)
            .await?;
        if !held {
            return Ok(());
        }
        let note = format!(
            "superseded by operation {} ({} {})",
            op.id, op.method, op.path
        );
        let n = self
            .store
            .discard_held_on(&op.tenant, op.resource_kind, &op.resource_id, &note)
            .await?;
        if n > 0 {
            tracing::info!(op = %op.id, discarded = n, "mass-removal guard: held operations on the resource superseded by a later change");
        }
        Ok(())
    }

    /// `ops release ID`: run a held operation's steps now, through the journal like any
    /// operation (resumable: once released it is running, and the worker resumes it). Not
    /// subject to the guard again: releasing is the admin's decision.
    pub async fn release(self: &Arc<Self>, tenant: &str, op_id: &str) -> Result<Answer, HeldError> {
        let op = self.held_operation(tenant, op_id).await?;
        self.check_not_taken_over(&op).await?;
        match self.store.release_operation(tenant, op_id).await {
            Ok(()) => {}
            Err(StoreError::Conflict {
                attribute: "operation",
                value,
            }) => {
                return Err(HeldError::Busy {
                    id: op.id,
                    kind: op.resource_kind.as_str(),
                    resource: op.resource_id,
                    other: value,
                });
            }
            Err(StoreError::NotFound) => return Err(self.not_held(tenant, op_id).await),
            Err(e) => return Err(e.into()),
        }
        let Some(op) = self.store.get_operation(tenant, op_id).await? else {
            return Err(HeldError::Unknown(op_id.to_owned()));
        };
        tracing::info!(op = %op.id, method = %op.method, path = %op.path, "mass-removal guard: held operation released");
        Ok(self.run_and_wait(op).await?)
    }

    /// `ops discard ID`: a held operation's steps will never run; its SCIM side stays.
    pub async fn discard(&self, tenant: &str, op_id: &str, note: &str) -> Result<(), HeldError> {
        self.held_operation(tenant, op_id).await?;
        match self.store.discard_operation(tenant, op_id, note).await {
            Ok(()) => {
                tracing::info!(op = %op_id, %note, "mass-removal guard: held operation discarded");
                Ok(())
            }
            Err(StoreError::NotFound) => Err(self.not_held(tenant, op_id).await),
            Err(e) => Err(e.into()),
        }
    }

    async fn held_operation(&self, tenant: &str, op_id: &str) -> Result<Operation, HeldError> {
        match self.store.get_operation(tenant, op_id).await? {
            None => Err(HeldError::Unknown(op_id.to_owned())),
            Some(op) if op.state != OperationState::Held => Err(HeldError::NotHeld {
                id: op.id,
                state: op.state.as_str(),
            }),
            Some(op) => Ok(op),
        }
    }

    /// The error for an operation that stopped being held meanwhile (another admin, a later
    /// change superseding it).
    async fn not_held(&self, tenant: &str, op_id: &str) -> HeldError {
        match self.held_operation(tenant, op_id).await {
            Err(e) => e,
            Ok(_) => HeldError::Scim(ScimError::new(
                ErrorKind::Unavailable,
                "the operation changed meanwhile; try again",
            )),
        }
    }

    /// A held step acts on the LUID its resource had when held. If another resource holds
    /// that LUID now (a user deleted while held, then created again under a new id and linked
    /// to the same Tableau user), releasing would remove the new resource's Tableau user.
    async fn check_not_taken_over(&self, op: &Operation) -> Result<(), HeldError> {
        let intent: Intent = serde_json::from_value(op.intent.clone())
            .map_err(|e| ScimError::internal(format!("journaled intent unreadable: {e}")))?;
        let Some(held) = intent.held else {
            return Ok(());
        };
        for (id, luid) in &held.luids {
            for kind in [ResourceKind::User, ResourceKind::Group] {
                if let Some(holder) = self.store.find_by_luid(&op.tenant, kind, luid).await?
                    && &holder.id != id
                {
                    return Err(HeldError::TakenOver {
                        id: op.id.clone(),
                        luid: luid.clone(),
                        kind: kind.as_str(),
                        holder: holder.id,
                    });
                }
            }
        }
        Ok(())
    }
}
