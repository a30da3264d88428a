//! The operation journal (the idempotency log): the types of the `Store` calls that record one
//! mutating SCIM request, its planned Tableau steps and their outcomes, and commit its local
//! effect together with its completion.
//!
//! Life of an operation: `open_operation` (running, steps pending) → `record_step` per Tableau
//! call → `complete_operation` (resource change and success in one transaction) or
//! `fail_operation`. A crash leaves it running; `unfinished_operations` finds it for resumption.

use super::{MemberChanges, StoreError, StoreResult};
use crate::model::ResourceKind;
use serde_json::{Map, Value};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    Running,
    Succeeded,
    Failed,
}

impl OperationState {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Succeeded => "succeeded",
            OperationState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "running" => Ok(OperationState::Running),
            "succeeded" => Ok(OperationState::Succeeded),
            "failed" => Ok(OperationState::Failed),
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
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "pending" => Ok(StepState::Pending),
            "done" => Ok(StepState::Done),
            "failed" => Ok(StepState::Failed),
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
}

/// What `open_operation` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// The operation was journaled, running, with its plan pending.
    Created(Operation),
    /// An operation holds this key: still running (attach to it), or finished with an explicit
    /// key (replay its response). Nothing was written.
    SameKey(Operation),
    /// Another operation is running on this resource (one writer per resource). Nothing was
    /// written.
    ResourceBusy(Operation),
}

/// The local effect committed with an operation's success, exactly as `create`, `update` and
/// `delete` would apply it.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceCommit {
    Create {
        kind: ResourceKind,
        id: String,
        doc: Map<String, Value>,
        members: Vec<(String, ResourceKind)>,
        tableau_luid: Option<String>,
    },
    Update {
        kind: ResourceKind,
        id: String,
        revision: i64,
        doc: Map<String, Value>,
        members: MemberChanges,
        /// `Some` sets the LUID; `None` keeps the stored one (clear it with `set_luid`).
        tableau_luid: Option<String>,
    },
    /// Deleting a resource that no longer exists is not an error (as with `delete`).
    Delete {
        kind: ResourceKind,
        id: String,
    },
    Nothing,
}

/// JSON as stored in a TEXT column.
pub(crate) fn json_text(value: &Value) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
