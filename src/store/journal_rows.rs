//! Journal rows as both backends return them, and their conversion into [`Operation`]s with
//! their steps (loaded for a whole list in one query), plus the plan's columnar form.

use super::columns::{kind_from_str, timestamp};
use super::journal::json_text;
use super::{
    NewOperation, Operation, OperationState, PlannedStep, StepOutcome, StepRecord, StepState,
    StoreError, StoreResult,
};
use serde_json::Value;
use std::collections::HashMap;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct OperationRow {
    pub seq: i64,
    pub tenant: String,
    pub id: String,
    pub idem_key: Option<String>,
    pub explicit_key: bool,
    pub principal: String,
    pub method: String,
    pub path: String,
    pub digest: String,
    pub resource_kind: String,
    pub resource_id: String,
    pub intent: String,
    pub state: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub error_body: Option<String>,
    pub created: String,
    pub updated: String,
    pub finished: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct StepRow {
    pub tenant: String,
    pub operation_id: String,
    pub idx: i64,
    pub kind: String,
    pub description: String,
    pub state: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub request_body: Option<String>,
    pub http_status: Option<i64>,
    pub tableau_code: Option<String>,
    pub duration_ms: Option<i64>,
    pub luid: Option<String>,
    pub error: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
}

fn parse_json(what: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl OperationRow {
    fn into_operation(self) -> StoreResult<Operation> {
        let what = format!("operation {}", self.id);
        let response_status = match self.response_status {
            Some(status) => Some(
                u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("{what}: status {status}")))?,
            ),
            None => None,
        };
        Ok(Operation {
            intent: parse_json(&what, &self.intent)?,
            error_body: match &self.error_body {
                Some(text) => Some(parse_json(&what, text)?),
                None => None,
            },
            resource_kind: kind_from_str(&self.resource_kind)?,
            state: OperationState::parse(&self.state)?,
            response_status,
            tenant: self.tenant,
            id: self.id,
            idem_key: self.idem_key,
            explicit_key: self.explicit_key,
            principal: self.principal,
            method: self.method,
            path: self.path,
            digest: self.digest,
            resource_id: self.resource_id,
            attempts: self.attempts,
            created: self.created,
            updated: self.updated,
            finished: self.finished,
            seq: self.seq,
            steps: Vec::new(),
        })
    }
}

impl StepRow {
    fn into_step(self) -> StoreResult<StepRecord> {
        let what = format!("operation {} step {}", self.operation_id, self.idx);
        Ok(StepRecord {
            idx: self.idx,
            kind: self.kind,
            description: parse_json(&what, &self.description)?,
            state: StepState::parse(&self.state)?,
            method: self.method,
            path: self.path,
            request_body: self.request_body,
            http_status: self.http_status,
            tableau_code: self.tableau_code,
            duration_ms: self.duration_ms,
            luid: self.luid,
            error: self.error,
            started: self.started,
            finished: self.finished,
        })
    }
}

pub(crate) fn into_operations(rows: Vec<OperationRow>) -> StoreResult<Vec<Operation>> {
    rows.into_iter().map(OperationRow::into_operation).collect()
}

/// Distribute step rows (ordered by `idx` within each operation) onto their operations.
pub(crate) fn attach_steps(operations: &mut [Operation], rows: Vec<StepRow>) -> StoreResult<()> {
    let index: HashMap<(String, String), usize> = operations
        .iter()
        .enumerate()
        .map(|(i, op)| ((op.tenant.clone(), op.id.clone()), i))
        .collect();
    for row in rows {
        let key = (row.tenant.clone(), row.operation_id.clone());
        if let Some(&i) = index.get(&key) {
            operations[i].steps.push(row.into_step()?);
        }
    }
    Ok(())
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
    }
}

/// A plan as columns (index, kind, description as JSON text), the shape both backends insert
/// in one statement.
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
        let rows: Vec<(i64, &str, &str)> = (0..self.idx.len())
            .map(|i| (self.idx[i], self.kind[i], self.description[i].as_str()))
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

/// Store statuses as the integer column holds them.
pub(crate) fn status_column(status: u16) -> i64 {
    i64::from(status)
}
