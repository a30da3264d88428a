//! The operation journal (the idempotency log): the types of the `Store` calls that record one
//! mutating SCIM request, its planned Tableau steps and their outcomes, and commit its local
//! effect together with its completion.
//!
//! Life of an operation: `open_operation` (running, steps pending) → `record_step` per Tableau
//! call → `complete_operation` (resource change and success in one transaction) or
//! `fail_operation`. A crash leaves it running; `unfinished_operations` finds it for resumption.

use super::columns::timestamp;
use super::{MemberChanges, StoreError, StoreResult};
use crate::model::{Resource, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A new operation, as the engine opens it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOperation {
    pub tenant: String,
    pub id: String,
    /// The client's `Idempotency-Key`, or the request digest keyed by credential.
    pub idem_key: String,
    /// Whether `idem_key` came from the client: only then is a finished operation replayed.
    pub explicit_key: bool,
    /// A non-secret label of the credential.
    pub principal: String,
    pub method: String,
    pub path: String,
    /// Hex SHA-256 of the canonical request.
    pub digest: String,
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    /// Whatever the engine needs to resume; opaque to the store.
    pub intent: Value,
    /// The unique name (lower-case `userName` or group `displayName`) the operation will
    /// commit, if it creates or renames a resource: while it runs, no other operation may
    /// claim the same name (a unique index), on one server or several.
    pub claimed_name: Option<String>,
    /// The `X-Request-Id` of the request that opened it.
    pub request_id: Option<String>,
    /// How many removals its plan holds (deactivations, user deletes, group-member removals):
    /// what the mass-removal guard sums over a window.
    pub removals: i64,
    /// The SCIM request's body, secrets redacted (`redact::redact_json`).
    pub request_body: Option<Value>,
    /// The `userName` or group `displayName` the operation is about, for finding it by name.
    pub resource_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    Running,
    Succeeded,
    Failed,
    /// The mass-removal guard stopped it: its SCIM side is committed, its Tableau steps wait
    /// for `ops release` (back to running) or `ops discard`.
    Held,
    /// A held operation dropped: its Tableau steps will never run.
    Discarded,
    /// Dry-run: its SCIM side is committed, its steps record the calls they would have made
    /// (step state `planned`); nothing was written to Tableau.
    Planned,
    /// A planned operation that a live server has since carried out through a reconcile.
    Converged,
}

impl OperationState {
    /// Every state, in the order they are reported (`/metrics`).
    pub const ALL: [OperationState; 7] = [
        OperationState::Running,
        OperationState::Succeeded,
        OperationState::Failed,
        OperationState::Held,
        OperationState::Discarded,
        OperationState::Planned,
        OperationState::Converged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Succeeded => "succeeded",
            OperationState::Failed => "failed",
            OperationState::Held => "held",
            OperationState::Discarded => "discarded",
            OperationState::Planned => "planned",
            OperationState::Converged => "converged",
        }
    }

    pub(crate) fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "running" => Ok(OperationState::Running),
            "succeeded" => Ok(OperationState::Succeeded),
            "failed" => Ok(OperationState::Failed),
            "held" => Ok(OperationState::Held),
            "discarded" => Ok(OperationState::Discarded),
            "planned" => Ok(OperationState::Planned),
            "converged" => Ok(OperationState::Converged),
            other => Err(StoreError::Corrupt(format!(
                "unknown operation state '{other}'"
            ))),
        }
    }
}

/// An operation as journaled, with its steps in `idx` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub tenant: String,
    pub id: String,
    /// `None` once released (finished without an explicit key).
    pub idem_key: Option<String>,
    pub explicit_key: bool,
    pub principal: String,
    pub method: String,
    pub path: String,
    pub digest: String,
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    pub intent: Value,
    pub state: OperationState,
    /// 1 when opened; +1 per `touch_operation` (each resumption).
    pub attempts: i64,
    pub response_status: Option<u16>,
    pub error_body: Option<Value>,
    /// RFC 3339 UTC timestamps, as for resources.
    pub created: String,
    /// Last progress: open, a recorded step, a touch, the end.
    pub updated: String,
    pub finished: Option<String>,
    /// The `X-Request-Id` of the request that opened it (`None` before migration 8).
    pub request_id: Option<String>,
    /// Removals its plan holds (0 for operations journaled before migration 9).
    pub removals: i64,
    /// When the mass-removal guard held it (its SCIM side was committed then); kept once
    /// released, so that the released operation commits nothing more.
    pub held: Option<String>,
    /// Why it was discarded.
    pub note: Option<String>,
    /// The SCIM request's body, redacted (`None` before migration 11, and for DELETE).
    pub request_body: Option<Value>,
    /// The `userName` or `displayName` it is about (`None` before migration 11).
    pub resource_name: Option<String>,
    /// Monotonic journal order (oldest first).
    pub seq: i64,
    pub steps: Vec<StepRecord>,
}

/// One step of a plan, before it runs. `description` is the engine's, opaque to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    pub idx: i64,
    pub kind: String,
    pub description: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Done,
    Failed,
    /// Dry-run: the call it would have made, not made.
    Planned,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Planned => "planned",
        }
    }

    pub(crate) fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "pending" => Ok(StepState::Pending),
            "done" => Ok(StepState::Done),
            "failed" => Ok(StepState::Failed),
            "planned" => Ok(StepState::Planned),
            other => Err(StoreError::Corrupt(format!("unknown step state '{other}'"))),
        }
    }
}

/// A step as journaled: the plan, and once recorded, the Tableau call and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub idx: i64,
    pub kind: String,
    pub description: Value,
    pub state: StepState,
    pub method: Option<String>,
    pub path: Option<String>,
    pub request_body: Option<String>,
    pub http_status: Option<i64>,
    pub tableau_code: Option<String>,
    pub duration_ms: Option<i64>,
    pub luid: Option<String>,
    pub error: Option<String>,
    /// Set when recorded: `finished` is the recording time, `started` that minus the duration.
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Every HTTP exchange of the step (see [`StepOutcome::calls`]).
    pub calls: Option<Value>,
}

/// The outcome of one Tableau call, as `record_step` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub state: StepState,
    pub method: Option<String>,
    pub path: Option<String>,
    /// Never a secret (no credentials, no tokens).
    pub request_body: Option<String>,
    pub http_status: Option<i64>,
    pub tableau_code: Option<String>,
    pub duration_ms: Option<i64>,
    pub luid: Option<String>,
    pub error: Option<String>,
    /// Every HTTP exchange of the step, as a JSON array: method, path, status, code,
    /// duration_ms, attempt, request_body, response_body (bodies redacted).
    pub calls: Option<Value>,
}

/// What `open_operation` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// The operation was journaled, running, with its plan pending.
    Created(Operation),
    /// An operation holds this key: still running (attach to it), or finished with an explicit
    /// key (replay its response). Nothing was written.
    SameKey(Operation),
    /// Another operation is running on this resource (one writer per resource), or claims
    /// the same name for another resource. Nothing was written.
    ResourceBusy(Operation),
}

/// The local effect committed with an operation's success, exactly as `create`, `update` and
/// `delete` would apply it. Also the form every resource write takes inside the store: each
/// backend has one function applying it, behind `create`, `update`, `delete` and
/// `complete_operation` alike.
///
/// The engine journals it as JSON in the operation's intent (`operations.intent`), so that a
/// restarted process finishes the operation exactly as planned: the serde shape below is that
/// journal format (`{"action": "create", "kind": …}`, an update's `add`/`remove` beside its
/// other fields) and must keep reading journals written by earlier versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ResourceCommit {
    Create {
        kind: ResourceKind,
        id: String,
        doc: Map<String, Value>,
        members: Vec<(String, ResourceKind)>,
        #[serde(default)]
        tableau_luid: Option<String>,
    },
    Update {
        kind: ResourceKind,
        id: String,
        revision: i64,
        doc: Map<String, Value>,
        #[serde(flatten)]
        members: MemberChanges,
        /// `Some` sets the LUID; `None` keeps the stored one (clear it with `set_luid`).
        #[serde(default)]
        tableau_luid: Option<String>,
    },
    /// Deleting a resource that no longer exists is not an error (as with `delete`).
    Delete { kind: ResourceKind, id: String },
    /// A reconcile repair (`src/reconcile/`): Tableau is brought back to the stored state,
    /// which does not change, so the store applies it as nothing. The LUID the steps linked
    /// or created is recorded by the engine beforehand (`provision::repair::link`), where a
    /// LUID another resource holds can fail the operation before it completes.
    /// `revision` is the resource's revision the repair was computed from (`None` for a
    /// Tableau user no resource manages, whose `id` is its LUID): a resource written since
    /// makes the repair stale, refused before any Tableau call.
    Repair {
        kind: ResourceKind,
        id: String,
        revision: Option<i64>,
    },
    /// No local write: a released operation, whose SCIM side was committed when it was held.
    /// Never journaled as an intent (it names no resource), hence not serializable.
    #[serde(skip)]
    Nothing,
}

impl ResourceCommit {
    /// Leave out the joining member `id` (one deleted since the change was planned); whether
    /// it was one.
    pub fn drop_member(&mut self, id: &str) -> bool {
        let joining = match self {
            ResourceCommit::Create { members, .. } => members,
            ResourceCommit::Update { members, .. } => &mut members.add,
            ResourceCommit::Delete { .. }
            | ResourceCommit::Repair { .. }
            | ResourceCommit::Nothing => return false,
        };
        let before = joining.len();
        joining.retain(|(m, _)| m != id);
        joining.len() != before
    }

    /// The resource the commit writes (`None` for `Nothing`).
    pub fn resource(&self) -> Option<(ResourceKind, &str)> {
        match self {
            ResourceCommit::Create { kind, id, .. }
            | ResourceCommit::Update { kind, id, .. }
            | ResourceCommit::Delete { kind, id }
            | ResourceCommit::Repair { kind, id, .. } => Some((*kind, id)),
            ResourceCommit::Nothing => None,
        }
    }

    /// Record the LUID the Tableau steps produced; without one, the planned LUID stays
    /// (a create or update only: a repair's LUID is linked by the engine).
    pub fn with_luid(mut self, luid: Option<String>) -> Self {
        if let ResourceCommit::Create { tableau_luid, .. }
        | ResourceCommit::Update { tableau_luid, .. } = &mut self
            && luid.is_some()
        {
            *tableau_luid = luid;
        }
        self
    }

    /// The commit of `Store::create`.
    pub(crate) fn create(
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> Self {
        ResourceCommit::Create {
            kind,
            id: id.to_owned(),
            doc: doc.clone(),
            members: members.to_vec(),
            tableau_luid: None,
        }
    }

    /// The commit of `Store::update`.
    pub(crate) fn update(
        kind: ResourceKind,
        id: &str,
        revision: i64,
        doc: &Map<String, Value>,
        members: &MemberChanges,
    ) -> Self {
        ResourceCommit::Update {
            kind,
            id: id.to_owned(),
            revision,
            doc: doc.clone(),
            members: members.clone(),
            tableau_luid: None,
        }
    }

    /// The commit of `Store::delete`.
    pub(crate) fn delete(kind: ResourceKind, id: &str) -> Self {
        ResourceCommit::Delete {
            kind,
            id: id.to_owned(),
        }
    }
}

/// What applying a [`ResourceCommit`] did.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per write and unpacked at once; boxing would only add an allocation"
)]
pub(crate) enum Applied {
    /// Created or updated: the resource as stored, with relations.
    Stored(Resource),
    /// Whether there was a resource to delete.
    Deleted(bool),
    Nothing,
}

impl Applied {
    /// The resource a `Create` or `Update` stored (what `Store::create` and `update` return).
    pub(crate) fn stored(self) -> StoreResult<Resource> {
        match self {
            Applied::Stored(resource) => Ok(resource),
            // `apply` answers `Stored` to every create and update.
            other => Err(StoreError::Corrupt(format!(
                "a create or update answered {other:?}"
            ))),
        }
    }

    /// What `Store::delete` returns.
    pub(crate) fn deleted(&self) -> bool {
        matches!(self, Applied::Deleted(true))
    }

    /// What `Store::complete_operation` returns.
    pub(crate) fn into_resource(self) -> Option<Resource> {
        match self {
            Applied::Stored(resource) => Some(resource),
            Applied::Deleted(_) | Applied::Nothing => None,
        }
    }
}

/// `open_operation`'s answer when the operation id itself is taken (and neither its key nor its
/// resource is held): the same on both backends.
pub(crate) fn id_taken(op: &NewOperation) -> StoreError {
    StoreError::Conflict {
        attribute: "id",
        value: op.id.clone(),
    }
}

/// `open_operation`'s answer when a unique index refused the operation but no operation
/// holding its key, its resource or its id could be found: each time it was looked for, the
/// one that refused had finished in between (PostgreSQL, several servers racing). Transient.
pub(crate) fn unexplained(op: &NewOperation) -> StoreError {
    StoreError::Unavailable(format!(
        "operation {} was refused by an operation that finished before it could be read; retry",
        op.id
    ))
}

/// JSON as stored in a TEXT column.
pub(crate) fn json_text(value: &Value) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The operation `open_operation` just journaled, built from what was inserted (no read back).
pub(crate) fn opened(op: &NewOperation, seq: i64, now: &str, plan: &[PlannedStep]) -> Operation {
    Operation {
        tenant: op.tenant.clone(),
        id: op.id.clone(),
        idem_key: Some(op.idem_key.clone()),
        explicit_key: op.explicit_key,
        principal: op.principal.clone(),
        method: op.method.clone(),
        path: op.path.clone(),
        digest: op.digest.clone(),
        resource_kind: op.resource_kind,
        resource_id: op.resource_id.clone(),
        intent: op.intent.clone(),
        state: OperationState::Running,
        attempts: 1,
        response_status: None,
        error_body: None,
        created: now.to_owned(),
        updated: now.to_owned(),
        finished: None,
        request_id: op.request_id.clone(),
        removals: op.removals,
        held: None,
        note: None,
        request_body: op.request_body.clone(),
        resource_name: op.resource_name.clone(),
        seq,
        steps: plan.iter().map(pending_step).collect(),
    }
}

fn pending_step(step: &PlannedStep) -> StepRecord {
    StepRecord {
        idx: step.idx,
        kind: step.kind.clone(),
        description: step.description.clone(),
        state: StepState::Pending,
        method: None,
        path: None,
        request_body: None,
        http_status: None,
        tableau_code: None,
        duration_ms: None,
        luid: None,
        error: None,
        started: None,
        finished: None,
        calls: None,
    }
}

/// A plan as columns (index, kind, description as JSON text), the shape both backends insert
/// in one statement (PostgreSQL as arrays, SQLite as one JSON array: [`PlanColumns::json`]).
pub(crate) struct PlanColumns<'a> {
    pub idx: Vec<i64>,
    pub kind: Vec<&'a str>,
    pub description: Vec<String>,
}

impl<'a> PlanColumns<'a> {
    pub fn new(plan: &'a [PlannedStep]) -> StoreResult<Self> {
        Ok(PlanColumns {
            idx: plan.iter().map(|s| s.idx).collect(),
            kind: plan.iter().map(|s| s.kind.as_str()).collect(),
            description: plan
                .iter()
                .map(|s| json_text(&s.description))
                .collect::<StoreResult<_>>()?,
        })
    }

    /// `[[idx, kind, description], ...]`, the form SQLite's `json_each` takes.
    pub fn json(&self) -> StoreResult<String> {
        let rows: Vec<(i64, &str, &str)> = (self.idx.iter().zip(&self.kind))
            .zip(&self.description)
            .map(|((idx, kind), description)| (*idx, *kind, description.as_str()))
            .collect();
        serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// When a step was recorded, and when it therefore started (recorded minus its duration): the
/// engine reports one call once, after it returned, so the start costs no extra write.
pub(crate) fn step_times(outcome: &StepOutcome) -> (String, String) {
    let now = OffsetDateTime::now_utc();
    let started = outcome
        .duration_ms
        .and_then(|ms| now.checked_sub(time::Duration::milliseconds(ms.max(0))))
        .unwrap_or(now);
    (timestamp(started), timestamp(now))
}

/// Statuses as the integer column holds them.
pub(crate) fn status_column(status: u16) -> i64 {
    i64::from(status)
}
