//! The provisioning engine: every mutating SCIM request becomes one journaled operation —
//! planned Tableau steps, executed in order, each outcome recorded — and its local effect is
//! committed together with the operation's completion. Semantics (DESIGN.md, "Decisions"):
//!
//! - synchronous with a deadline: the request waits for the outcome up to `deadline`, then
//!   gets 503 + `Retry-After` while the operation continues in the background;
//! - a permanent Tableau error fails the operation, commits nothing locally, and becomes a SCIM
//!   error naming Tableau's code and message;
//! - a request whose key matches a running operation attaches to it; with an explicit
//!   `Idempotency-Key`, a finished operation is replayed from the journal, the key reused for
//!   another request is 422 and re-sent while its operation runs is 409 (`reused_key`);
//! - unfinished operations are resumed by a background worker and at start-up;
//! - one writer per resource: the journal admits one running operation per resource.

use super::compensation::{self, Ran, Undo, is_undo};
use super::errors::{
    is_configuration_error, refuses_commit_for_good, unfinished, unfinished_because,
};
use super::guard::{self, GuardSettings};
use super::idempotency::RequestMeta;
use super::intent::Intent;
use super::locks::LockGuard;
use super::plan::Step;
use super::rules::ProvisionPolicy;
use super::step_runner::{StepFailure, StepRunner};
use crate::model::ResourceKind;
use crate::scim::{ErrorKind, ScimError, ScimResult};
use crate::store::{
    NewOperation, Opened, Operation, OperationState, PlannedStep, Resource, ResourceCommit,
    StepState, Store, StoreError,
};
use crate::tableau::TableauClient;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Timing of the journal; `[journal]` in the config.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    /// Seconds a request waits for its operation before answering 503 (IdPs give up at 60).
    pub deadline_secs: u64,
    /// Seconds without progress after which another worker may resume an operation.
    pub resume_after_secs: u64,
    /// Seconds between background scans for unfinished operations.
    pub worker_interval_secs: u64,
    /// Days a succeeded operation is kept before the worker deletes it (0: kept for ever).
    /// Failed and unfinished operations are kept until resolved.
    pub retention_days: u32,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            deadline_secs: 25,
            resume_after_secs: 30,
            worker_interval_secs: 5,
            retention_days: 30,
        }
    }
}

/// How an operation's local commit ends it (`Engine::finish_with_commit`).
#[derive(Debug, Clone, Copy)]
pub(super) enum Finish {
    /// Its Tableau steps are done: `succeeded`.
    Complete,
    /// The mass-removal guard holds its Tableau steps: `held`.
    Hold,
    /// Dry-run: its Tableau calls are only journaled: `planned`.
    Plan,
}

/// What a finished operation answers, as the HTTP layer renders it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub resource: Option<Resource>,
    /// The mass-removal guard held the operation: its SCIM side is committed, its Tableau
    /// steps wait for `ops release`.
    pub held: bool,
}

type Outcome = Result<Answer, ScimError>;

/// A change ready to be journaled: its Tableau steps, what it commits, and the locks of the
/// resources its plan was computed from (held until the operation has finished).
pub struct PlannedChange {
    pub steps: Vec<Step>,
    pub intent: Intent,
    pub guards: Vec<LockGuard>,
}

pub struct Engine {
    pub(super) store: Arc<dyn Store>,
    pub(super) tableau: Option<TableauClient>,
    pub policy: Arc<ProvisionPolicy>,
    settings: JournalSettings,
    /// The mass-removal guard's settings (replaced on SIGHUP).
    guard: std::sync::RwLock<GuardSettings>,
    /// `provision.mode = "dry_run"` (from the policy; switched on SIGHUP).
    dry_run: std::sync::atomic::AtomicBool,
    /// Operations this process is executing, so a retried request can wait for the outcome.
    running: Mutex<HashMap<String, watch::Receiver<Option<Outcome>>>>,
    /// When this engine started: operations that progressed since are this process's own.
    started: time::OffsetDateTime,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        tableau: Option<TableauClient>,
        policy: ProvisionPolicy,
        settings: JournalSettings,
    ) -> Arc<Self> {
        let dry_run = policy.mode == super::dry_run::ProvisionMode::DryRun;
        Arc::new(Self {
            store,
            tableau,
            policy: Arc::new(policy),
            settings,
            guard: std::sync::RwLock::new(GuardSettings::default()),
            dry_run: std::sync::atomic::AtomicBool::new(dry_run),
            running: Mutex::new(HashMap::new()),
            started: time::OffsetDateTime::now_utc(),
        })
    }

    /// Use these mass-removal guard settings from now on (at start-up, and on SIGHUP).
    pub fn set_guard(&self, guard: GuardSettings) {
        *self.guard.write().unwrap_or_else(|p| p.into_inner()) = guard;
    }

    pub fn guard(&self) -> GuardSettings {
        self.guard.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `provision.mode = "dry_run"`: Tableau is never written (`dry_run.rs`).
    pub fn dry_run(&self) -> bool {
        self.dry_run.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Switch between dry-run and live for the operations run from now on (SIGHUP).
    pub fn set_dry_run(&self, dry_run: bool) {
        self.dry_run
            .store(dry_run, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn tableau_enabled(&self) -> bool {
        self.tableau.is_some()
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(self.settings.deadline_secs)
    }

    /// Journal and execute a prepared change; answer within the deadline. A change the
    /// mass-removal guard stops is journaled, its SCIM side committed and its steps held
    /// (`Answer::held`).
    pub async fn submit(
        self: &Arc<Self>,
        meta: &RequestMeta,
        mut prepared: PlannedChange,
    ) -> Outcome {
        // The journal keys an operation by its resource: `Nothing` (a released operation's
        // commit) is no change to submit.
        let Some((kind, id)) = prepared
            .intent
            .commit
            .resource()
            .map(|(k, id)| (k, id.to_owned()))
        else {
            return Err(ScimError::internal(
                "a change to journal must name its resource",
            ));
        };
        let removals = guard::removals(&prepared.steps);
        let hold = self.guard_trips(&meta.tenant, removals).await?;
        if hold {
            let held = guard::capture(
                self.store.as_ref(),
                &meta.tenant,
                kind,
                &id,
                resource_name(&prepared.intent.commit),
                &prepared.steps,
            )
            .await?;
            prepared.intent.held = Some(held);
        }
        let planned: Vec<PlannedStep> = prepared
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| PlannedStep {
                idx: i as i64,
                kind: s.kind().to_string(),
                description: serde_json::to_value(s).unwrap_or_default(),
            })
            .collect();
        let op = NewOperation {
            tenant: meta.tenant.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            idem_key: meta.journal_key(),
            explicit_key: meta.idempotency_key.is_some(),
            principal: meta.principal.clone(),
            method: meta.method.clone(),
            path: meta.path.clone(),
            digest: meta.body_digest.clone(),
            resource_kind: kind,
            resource_id: id,
            intent: serde_json::to_value(&prepared.intent)
                .map_err(|e| ScimError::internal(format!("cannot journal the change: {e}")))?,
            claimed_name: claimed_name(&prepared.intent.commit),
            request_id: meta.request_id.clone(),
            removals,
            request_body: meta.request_body.clone(),
            resource_name: resource_name(&prepared.intent.commit),
        };
        match self.store.open_operation(&op, &planned).await? {
            Opened::Created(op) => {
                super::journaled::mark();
                // A permanent error of the check itself (the store refuses the value) fails the
                // operation too; only an unreachable store leaves it to be resumed.
                let stale = match self.stale(&op.tenant, &prepared.intent).await {
                    Ok(stale) => stale,
                    Err(e) if e.kind != ErrorKind::Unavailable => Some(e),
                    Err(e) => return Err(e),
                };
                if let Some(err) = stale {
                    self.store
                        .fail_operation(&op.tenant, &op.id, err.status(), &err.to_body())
                        .await?;
                    return Err(err);
                }
                if hold {
                    return self.hold(&op, &prepared.intent).await;
                }
                self.supersede_held(&op).await?;
                self.run_and_wait(op).await
            }
            Opened::SameKey(existing) => {
                super::journaled::mark();
                if let Some(err) = reused_key(&existing, meta) {
                    return Err(err);
                }
                self.outcome_of(existing).await
            }
            Opened::ResourceBusy(other) => {
                // Another writer (maybe another server) is changing this resource (or claims
                // the name): wait for it, then let the caller re-read the resource and compute
                // the change again. If it is still running when the wait ends, say so now
                // rather than waiting for it again.
                if let Err(e) = self.outcome_of(other).await
                    && e.kind == ErrorKind::Unavailable
                {
                    return Err(e);
                }
                Err(ScimError::new(
                    ErrorKind::PreconditionFailed,
                    "resource busy; re-read",
                ))
            }
        }
    }

    /// The outcome of the operation a request with an explicit `Idempotency-Key` already
    /// started, if any: its recorded answer (or, while it runs, its outcome). Checked before the
    /// change is prepared, since preparing validates against the current state: a re-sent
    /// create would otherwise meet its own user and answer 409 instead of the recorded 201.
    pub async fn replay(self: &Arc<Self>, meta: &RequestMeta) -> ScimResult<Option<Answer>> {
        if meta.idempotency_key.is_none() {
            return Ok(None);
        }
        self.answer_of_same_request(meta).await
    }

    /// The outcome of the operation that holds this request's journal key, if one does: a
    /// running operation of the same request (the IdP re-sent it) or a finished one with the
    /// same explicit `Idempotency-Key`.
    pub async fn answer_of_same_request(
        self: &Arc<Self>,
        meta: &RequestMeta,
    ) -> ScimResult<Option<Answer>> {
        let Some(op) = self
            .store
            .operation_by_key(&meta.tenant, &meta.journal_key())
            .await?
        else {
            return Ok(None);
        };
        // Its answer is that operation's: journaled, not a refusal of its own.
        super::journaled::mark();
        if let Some(err) = reused_key(&op, meta) {
            return Err(err);
        }
        self.outcome_of(op).await.map(Some)
    }

    /// Why a change computed from what its request read no longer applies, if it does not.
    /// Another operation on the resource (one resumed in the background, or another
    /// server's) may have committed between that read and the journaling; once this operation
    /// holds the resource, that is checked before any Tableau call, so a stale change fails
    /// with Tableau untouched (the service reads again on 412; 409 means the name is taken).
    /// This is also the one place a new name (a create, or a rename) is checked against the
    /// names already in use; the store's unique index still decides a race with a write that
    /// commits later.
    async fn stale(&self, tenant: &str, intent: &Intent) -> ScimResult<Option<ScimError>> {
        let (kind, id, doc) = match &intent.commit {
            ResourceCommit::Update {
                kind,
                id,
                revision,
                doc,
                ..
            } => {
                match self.store.get(tenant, *kind, id, false).await? {
                    Some(cur) if cur.revision == *revision => {
                        let attr = unique_attr(*kind);
                        let old = cur.doc.get(attr).and_then(|v| v.as_str());
                        let new = doc.get(attr).and_then(|v| v.as_str());
                        if old == new {
                            return Ok(None);
                        }
                    }
                    Some(_) => return Ok(Some(ScimError::from(StoreError::RevisionMismatch))),
                    None => {
                        return Ok(Some(ScimError::not_found(format!(
                            "{} {id} not found",
                            kind.as_str()
                        ))));
                    }
                }
                (*kind, id, doc)
            }
            ResourceCommit::Create { kind, id, doc, .. } => (*kind, id, doc),
            ResourceCommit::Delete { .. } | ResourceCommit::Nothing => return Ok(None),
            ResourceCommit::Repair { kind, id, revision } => {
                return super::repair::stale_repair(
                    self.store.as_ref(),
                    tenant,
                    *kind,
                    id,
                    *revision,
                )
                .await;
            }
        };
        self.name_taken(tenant, kind, id, doc).await
    }

    /// A 409 when another resource of `kind` holds the unique name in `doc`.
    async fn name_taken(
        &self,
        tenant: &str,
        kind: ResourceKind,
        own_id: &str,
        doc: &serde_json::Map<String, serde_json::Value>,
    ) -> ScimResult<Option<ScimError>> {
        use crate::model::Lookup;
        let attr = unique_attr(kind);
        let Some(name) = doc.get(attr).and_then(|v| v.as_str()) else {
            return Ok(None);
        };
        let lookup = match kind {
            ResourceKind::User => Lookup::UserName(name.to_string()),
            ResourceKind::Group => Lookup::DisplayName(name.to_string()),
        };
        let taken = self.store.list(tenant, kind, Some(&lookup), false).await?;
        Ok(taken.iter().find(|r| r.id != own_id).map(|other| {
            let value = other.str_attr(attr).unwrap_or(name);
            ScimError::uniqueness(format!("{attr} '{value}' is already in use"))
        }))
    }

    /// The outcome of an existing operation: attach while it runs, replay once finished.
    async fn outcome_of(self: &Arc<Self>, op: Operation) -> Outcome {
        match op.state {
            OperationState::Running => self.attach(op).await,
            _ => self.finished_outcome(op).await,
        }
    }

    async fn attach(self: &Arc<Self>, op: Operation) -> Outcome {
        let rx = self.running_receiver(&op.id);
        match rx {
            Some(rx) => self.wait(rx, &op.id).await,
            None => {
                // Not running here: another server has it, or a crash left it. Poll the journal;
                // take it over when it makes no progress.
                let deadline = tokio::time::Instant::now() + self.deadline();
                loop {
                    let Some(cur) = self.store.get_operation(&op.tenant, &op.id).await? else {
                        return Err(ScimError::internal("journaled operation disappeared"));
                    };
                    if cur.state != OperationState::Running {
                        return Box::pin(self.outcome_of(cur)).await;
                    }
                    if is_stale(&cur.updated, self.settings.resume_after_secs) {
                        return self.resume_and_wait(cur).await;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(unfinished(&op.id));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn running_receiver(&self, op_id: &str) -> Option<watch::Receiver<Option<Outcome>>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(op_id)
            .cloned()
    }

    async fn wait(&self, mut rx: watch::Receiver<Option<Outcome>>, op_id: &str) -> Outcome {
        let waited = tokio::time::timeout(self.deadline(), rx.wait_for(|o| o.is_some())).await;
        match waited {
            Ok(Ok(o)) => o.clone().unwrap_or_else(|| Err(unfinished(op_id))),
            Ok(Err(_)) | Err(_) => Err(unfinished(op_id)),
        }
    }

    async fn resume_and_wait(self: &Arc<Self>, op: Operation) -> Outcome {
        self.store.touch_operation(&op.tenant, &op.id).await?;
        self.run_and_wait(op).await
    }

    /// Execute in a task of its own (it outlives an impatient request) and wait up to the
    /// deadline for its outcome.
    pub(super) async fn run_and_wait(self: &Arc<Self>, op: Operation) -> Outcome {
        let id = op.id.clone();
        let rx = self.spawn_run(op);
        self.wait(rx, &id).await
    }

    fn spawn_run(self: &Arc<Self>, op: Operation) -> watch::Receiver<Option<Outcome>> {
        let (tx, rx) = watch::channel(None);
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(existing) = running.get(&op.id) {
                return existing.clone();
            }
            running.insert(op.id.clone(), rx.clone());
        }
        let engine = self.clone();
        // The operation's span is a child of the request's (when a request started it), so
        // its Tableau calls carry the request id even after the request stopped waiting.
        let span = tracing::info_span!("operation", op = %op.id, attempt = op.attempts);
        let task = async move {
            let outcome = engine.run(&op).await;
            // The waiting request is answered first; the log line reads the journal.
            let failed = outcome.as_ref().err().cloned();
            let _ = tx.send(Some(outcome));
            if let Some(e) = failed {
                engine.log_failure(&op, &e).await;
            }
            engine
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&op.id);
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
        rx
    }

    /// What the log says of an operation that did not succeed, read back from the journal so
    /// that the log and `ops` never disagree: "it will be resumed" only while it is running.
    /// A configuration fault is logged by the Tableau client, once a minute, not per operation.
    async fn log_failure(&self, op: &Operation, e: &ScimError) {
        if is_configuration_error(e) {
            tracing::debug!(op = %op.id, error = %e.detail, "operation waits for the Tableau configuration to be fixed");
            return;
        }
        let state = match self.store.get_operation(&op.tenant, &op.id).await {
            Ok(Some(cur)) => cur.state,
            Ok(None) => return,
            Err(read) => {
                tracing::warn!(op = %op.id, error = %e.detail, journal = %read, "operation unfinished; its state cannot be read");
                return;
            }
        };
        match state {
            OperationState::Running => {
                tracing::warn!(op = %op.id, error = %e.detail, "operation unfinished; it will be resumed")
            }
            OperationState::Failed => {
                tracing::warn!(op = %op.id, status = e.status(), error = %e.detail, "operation failed")
            }
            OperationState::Succeeded
            | OperationState::Held
            | OperationState::Discarded
            | OperationState::Planned
            | OperationState::Converged => {}
        }
    }

    /// Execute the pending steps of an operation, then commit it. Works the same for a fresh
    /// operation and for one resumed after a crash: done steps are skipped and the LUIDs they
    /// produced are reused. An operation that was being compensated resumes its undo steps.
    async fn run(&self, op: &Operation) -> Outcome {
        if self.dry_run() {
            return self.plan_only(op).await;
        }
        if op.steps.iter().any(|s| is_undo(&s.kind)) {
            return self.compensate(op).await;
        }
        let intent = Intent::deserialize(&op.intent)
            .map_err(|e| ScimError::internal(format!("journaled intent unreadable: {e}")))?;
        // A held operation's LUIDs as stored when it was held (a deleted user's went with it).
        let mut luids: HashMap<String, String> = intent
            .held
            .as_ref()
            .map(|h| h.luids.clone().into_iter().collect())
            .unwrap_or_default();
        let mut pending: Vec<(i64, Step)> = Vec::new();
        let mut ran: Vec<Ran> = Vec::new();
        for s in &op.steps {
            let step = journaled_step(&s.description)?;
            if s.state == StepState::Done {
                if let Some(l) = &s.luid {
                    luids.insert(step.resource_id().to_string(), l.clone());
                }
                ran.push(Ran {
                    idx: s.idx,
                    step,
                    luid: s.luid.clone(),
                    created: s.http_status == Some(201),
                });
            } else {
                pending.push((s.idx, step));
            }
        }
        let next_idx = op.steps.iter().map(|s| s.idx + 1).max().unwrap_or(0);
        if !pending.is_empty() {
            let Some(client) = &self.tableau else {
                return Err(ScimError::internal(
                    "operation has Tableau steps but Tableau is not configured",
                ));
            };
            let mut runner = StepRunner::new(client, self.store.as_ref(), &op.tenant);
            runner.luids = luids;
            // A successful step's record is written while the next step runs, not before: every
            // step is safe to repeat, so a crash that loses a record only makes the resumed
            // operation repeat that step. All records are durable before the commit (and before
            // a failure is recorded), so the journal never shows an operation finished without
            // its steps.
            let mut records = Vec::new();
            for (idx, step) in pending {
                if matches!(step, Step::AddRenamedUser { .. }) {
                    // The name check before it must never run again once the new user may
                    // exist (it would find that user): its record is made durable first.
                    await_records(std::mem::take(&mut records)).await?;
                }
                let result = runner.run(&step).await;
                let created = result.outcome.http_status == Some(201);
                if result.failure.is_none() {
                    ran.push(Ran {
                        idx,
                        step,
                        luid: result.outcome.luid.clone(),
                        created,
                    });
                    let (store, tenant, op_id) =
                        (self.store.clone(), op.tenant.clone(), op.id.clone());
                    let outcome = result.outcome;
                    records.push(tokio::spawn(async move {
                        store.record_step(&tenant, &op_id, idx, &outcome).await
                    }));
                    continue;
                }
                await_records(records).await?;
                self.store
                    .record_step(&op.tenant, &op.id, idx, &result.outcome)
                    .await?;
                return match result.failure {
                    Some(StepFailure::Permanent(err)) => {
                        // A refused step may still have created something (Tableau adds a
                        // user with a lesser role when no licence is left): undo it too.
                        if created && result.outcome.luid.is_some() {
                            ran.push(Ran {
                                idx,
                                step,
                                luid: result.outcome.luid.clone(),
                                created,
                            });
                        }
                        self.fail_or_compensate(op, idx + 1, &ran, err).await
                    }
                    Some(StepFailure::Configuration(err)) => Err(err),
                    Some(StepFailure::Transient(cause)) => Err(unfinished_because(&op.id, &cause)),
                    None => Err(unfinished(&op.id)),
                };
            }
            await_records(records).await?;
            luids = runner.luids;
        }
        let luid = intent
            .commit
            .resource()
            .and_then(|(_, id)| luids.get(id))
            .cloned();
        if let (ResourceCommit::Repair { kind, id, .. }, Some(l)) = (&intent.commit, &luid)
            && let Err(e) = super::repair::link(self.store.as_ref(), &op.tenant, *kind, id, l).await
        {
            // Another resource holds the LUID: refused for good, like a refused commit.
            if let StoreError::Conflict { .. } = e {
                let err = self.commit_refusal(&op.tenant, &intent, e).await;
                return self.fail_or_compensate(op, next_idx, &ran, err).await;
            }
            return Err(ScimError::from(e));
        }
        // A released operation committed its SCIM side when it was held.
        let mut commit = match op.held {
            Some(_) => ResourceCommit::Nothing,
            None => intent.commit.clone().with_luid(luid),
        };
        let completed = self
            .finish_with_commit(op, Finish::Complete, intent.status, &mut commit)
            .await;
        match completed {
            Ok(resource) => Ok(Answer {
                status: intent.status,
                resource: match op.held {
                    // Released: the resource as it is now (a deleted one is gone).
                    Some(_) => {
                        self.store
                            .get(&op.tenant, op.resource_kind, &op.resource_id, true)
                            .await?
                    }
                    None => resource,
                },
                held: false,
            }),
            Err(StoreError::NotFound) => {
                // Answer meanwhile by another worker: answer with its outcome.
                match self.store.get_operation(&op.tenant, &op.id).await? {
                    Some(cur) if cur.state != OperationState::Running => {
                        self.finished_outcome(cur).await
                    }
                    _ => Err(ScimError::not_found("the resource no longer exists")),
                }
            }
            // The commit is refused for good (the name was taken meanwhile, a member is gone,
            // the store refuses the value itself): undo what was done in Tableau, then fail.
            Err(e) if refuses_commit_for_good(&e) => {
                let err = self.commit_refusal(&op.tenant, &intent, e).await;
                self.fail_or_compensate(op, next_idx, &ran, err).await
            }
            Err(e) => Err(ScimError::from(e)),
        }
    }

    /// A permanent failure: fail the operation at once when nothing was done in Tableau;
    /// otherwise journal the undo steps (replacing the steps from `first_idx` on that will not
    /// run) and run them, and the operation fails once they are done.
    async fn fail_or_compensate(
        &self,
        op: &Operation,
        first_idx: i64,
        ran: &[Ran],
        err: ScimError,
    ) -> Outcome {
        let undo =
            compensation::plan_undo(self.store.as_ref(), &op.tenant, &self.policy, ran).await?;
        if undo.is_empty() {
            self.store
                .fail_operation(&op.tenant, &op.id, err.status(), &err.to_body())
                .await?;
            return Err(err);
        }
        let steps = compensation::journal_steps(first_idx, undo, &err)?;
        self.store
            .replace_plan(&op.tenant, &op.id, first_idx, &steps)
            .await?;
        tracing::info!(op = %op.id, error = %err.detail, steps = steps.len(), "undoing the operation's changes in Tableau");
        let Some(op) = self.store.get_operation(&op.tenant, &op.id).await? else {
            return Err(ScimError::internal("journaled operation disappeared"));
        };
        self.compensate(&op).await
    }

    /// Run the pending undo steps of an operation being compensated, then fail it with the
    /// error that started the compensation. Resumable like any operation: done undo steps are
    /// skipped. An undo step Tableau refuses is recorded and named in the final error.
    async fn compensate(&self, op: &Operation) -> Outcome {
        let Some(client) = &self.tableau else {
            return Err(ScimError::internal(
                "operation has Tableau steps but Tableau is not configured",
            ));
        };
        let mut runner = StepRunner::new(client, self.store.as_ref(), &op.tenant);
        for s in op.steps.iter().filter(|s| !is_undo(&s.kind)) {
            if let (StepState::Done, Some(l)) = (s.state, &s.luid) {
                let step = journaled_step(&s.description)?;
                runner
                    .luids
                    .insert(step.resource_id().to_string(), l.clone());
            }
        }
        let mut original: Option<ScimError> = None;
        let (mut undone, mut not_undone) = (0, Vec::new());
        for s in op.steps.iter().filter(|s| is_undo(&s.kind)) {
            let undo = Undo::deserialize(&s.description)
                .map_err(|e| ScimError::internal(format!("journaled undo step unreadable: {e}")))?;
            original.get_or_insert_with(|| error_from_body(Some(&undo.error), Some(undo.status)));
            if s.state == StepState::Done {
                // Its LUID stands for what it made (a group created again has a new one): the
                // undo steps after it must act on that, also when resumed after a crash.
                if let Some(l) = &s.luid {
                    runner
                        .luids
                        .insert(undo.step.resource_id().to_string(), l.clone());
                }
                undone += 1;
                continue;
            }
            if let Some(l) = &undo.luid {
                runner
                    .luids
                    .insert(undo.step.resource_id().to_string(), l.clone());
            }
            let result = runner.run(&undo.step).await;
            match result.failure {
                None => {
                    // A group deleted by this operation exists again, under a new LUID.
                    if let (Step::CreateGroup { group_id, .. }, Some(l)) =
                        (&undo.step, &result.outcome.luid)
                    {
                        match self
                            .store
                            .set_luid(&op.tenant, ResourceKind::Group, group_id, Some(l))
                            .await
                        {
                            Ok(()) | Err(StoreError::NotFound) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    undone += 1;
                }
                Some(StepFailure::Permanent(e)) => {
                    not_undone.push(format!("step {} ({}): {}", s.idx + 1, s.kind, e.detail));
                }
                Some(StepFailure::Configuration(e)) => {
                    self.store
                        .record_step(&op.tenant, &op.id, s.idx, &result.outcome)
                        .await?;
                    return Err(e);
                }
                Some(StepFailure::Transient(cause)) => {
                    self.store
                        .record_step(&op.tenant, &op.id, s.idx, &result.outcome)
                        .await?;
                    return Err(unfinished_because(&op.id, &cause));
                }
            }
            self.store
                .record_step(&op.tenant, &op.id, s.idx, &result.outcome)
                .await?;
        }
        let original = original.unwrap_or_else(|| ScimError::internal("the operation failed"));
        let err = compensation::compensated_error(&original, undone, &not_undone);
        self.store
            .fail_operation(&op.tenant, &op.id, err.status(), &err.to_body())
            .await?;
        Err(err)
    }

    /// Finish a running operation with its local commit, as `how` says, in one transaction.
    /// A joining member deleted since the change was planned (its DELETE ran while this
    /// operation was in flight, or before a crashed one resumed) is left out: that is the order
    /// "this change, then the delete", and the delete already took the user out of Tableau.
    /// Each retry drops one id, so this ends. The one place of that rule for the three ways
    /// an operation commits (done, held by the guard, planned in dry-run).
    pub(super) async fn finish_with_commit(
        &self,
        op: &Operation,
        how: Finish,
        status: u16,
        commit: &mut ResourceCommit,
    ) -> Result<Option<Resource>, StoreError> {
        loop {
            let (tenant, id) = (op.tenant.as_str(), op.id.as_str());
            let result = match how {
                Finish::Complete => {
                    self.store
                        .complete_operation(tenant, id, status, commit)
                        .await
                }
                Finish::Hold => self.store.hold_operation(tenant, id, status, commit).await,
                Finish::Plan => self.store.plan_operation(tenant, id, status, commit).await,
            };
            match &result {
                Err(StoreError::UnknownMember(member)) if commit.drop_member(member) => {
                    tracing::info!(op = %op.id, member = %member, "a member was deleted meanwhile: left out of the commit");
                }
                _ => return result,
            }
        }
    }

    /// The SCIM error of a commit the store refused; a LUID already held by another resource
    /// (the unique index) names that resource.
    async fn commit_refusal(&self, tenant: &str, intent: &Intent, e: StoreError) -> ScimError {
        if let StoreError::Conflict {
            attribute: "tableauLuid",
            value,
        } = &e
            && let Some((kind, id)) = intent.commit.resource()
            && let Ok(Some(err)) =
                super::luid::check_unclaimed(self.store.as_ref(), tenant, kind, id, value).await
        {
            return err;
        }
        ScimError::from(e)
    }

    async fn finished_outcome(&self, op: Operation) -> Outcome {
        match op.state {
            // A held, discarded or planned (dry-run) operation committed its SCIM side:
            // answered as a success.
            OperationState::Succeeded
            | OperationState::Held
            | OperationState::Discarded
            | OperationState::Planned
            | OperationState::Converged => {
                let resource = self
                    .store
                    .get(&op.tenant, op.resource_kind, &op.resource_id, true)
                    .await?;
                Ok(Answer {
                    status: op.response_status.unwrap_or(200),
                    resource,
                    held: op.state == OperationState::Held,
                })
            }
            _ => Err(error_from_body(op.error_body.as_ref(), op.response_status)),
        }
    }

    /// Resume every unfinished operation not running here; at start-up `all` ignores how
    /// recently they progressed before this engine started (SQLite: this process is the only
    /// writer). One that progressed since is a request of this process between opening its
    /// operation and running it, not one to take over.
    pub async fn resume_unfinished(self: &Arc<Self>, all: bool) -> ScimResult<usize> {
        let ops = self.store.unfinished_operations(500).await?;
        let mut resumed = 0;
        for op in ops {
            if self.running_receiver(&op.id).is_some() {
                continue;
            }
            let left_before_start = all && !is_after(&op.updated, self.started);
            if !left_before_start && !is_stale(&op.updated, self.settings.resume_after_secs) {
                continue;
            }
            if self
                .store
                .touch_operation(&op.tenant, &op.id)
                .await
                .is_err()
            {
                continue;
            }
            tracing::info!(op = %op.id, method = %op.method, path = %op.path, "resuming unfinished operation");
            self.spawn_run(op);
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Every operation unfinished now, carried to its end before this returns: each is waited
    /// for while it makes progress (another server may be running it) and taken over once it
    /// is stale, as a request meeting a running operation does (`attach`), each up to the
    /// deadline. For a command (`reconcile --apply`) that finds what a killed run left: it must
    /// not leave such an operation running, nor exit while it runs one. How many there were.
    pub async fn finish_unfinished(self: &Arc<Self>) -> ScimResult<usize> {
        let ops = self.store.unfinished_operations(500).await?;
        let count = ops.len();
        // Their outcomes are the operations' own (journaled, reported by `ops`).
        futures_util::future::join_all(ops.into_iter().map(|op| self.attach(op))).await;
        Ok(count)
    }

    /// The background worker: resumes operations that stopped making progress.
    pub fn spawn_worker(self: &Arc<Self>, resume_all_now: bool) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.resume_unfinished(resume_all_now).await {
                tracing::warn!(error = %e.detail, "cannot scan the journal for unfinished operations");
            }
            let interval = Duration::from_secs(engine.settings.worker_interval_secs.max(1));
            // The first clean-up one interval after start-up, off the start-up path.
            let mut next_prune = tokio::time::Instant::now() + interval;
            loop {
                tokio::time::sleep(interval).await;
                if let Err(e) = engine.resume_unfinished(false).await {
                    tracing::warn!(error = %e.detail, "cannot scan the journal for unfinished operations");
                }
                if tokio::time::Instant::now() >= next_prune {
                    next_prune = tokio::time::Instant::now() + super::retention::PRUNE_INTERVAL;
                    engine.prune_journal().await;
                }
            }
        })
    }

    /// Delete the succeeded operations older than `journal.retention_days`; logs the outcome.
    pub async fn prune_journal(&self) {
        let days = self.settings.retention_days;
        let now = time::OffsetDateTime::now_utc();
        match super::retention::prune(self.store.as_ref(), days, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                retention_days = days,
                "journal: deleted succeeded operations past retention"
            ),
            Err(e) => tracing::warn!(error = %e, "journal: cannot delete old operations"),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The console's "retry now": a running operation (waiting on a transient fault or on the
    /// bridge's configuration) is run again at once instead of at the worker's next scan.
    /// `false` when it is not running, or this process is running it already.
    pub async fn retry_now(self: &Arc<Self>, tenant: &str, op_id: &str) -> ScimResult<bool> {
        let Some(op) = self.store.get_operation(tenant, op_id).await? else {
            return Err(ScimError::not_found(format!("no operation {op_id}")));
        };
        if op.state != OperationState::Running || self.running_receiver(&op.id).is_some() {
            return Ok(false);
        }
        self.store.touch_operation(tenant, op_id).await?;
        tracing::info!(op = %op.id, method = %op.method, path = %op.path, "retrying an operation now (admin console)");
        self.spawn_run(op);
        Ok(true)
    }
}

/// A journaled forward step.
fn journaled_step(description: &serde_json::Value) -> ScimResult<Step> {
    Step::deserialize(description)
        .map_err(|e| ScimError::internal(format!("journaled step unreadable: {e}")))
}

/// Wait for step records written in the background; the first failure is the answer.
async fn await_records(
    records: Vec<tokio::task::JoinHandle<crate::store::StoreResult<()>>>,
) -> ScimResult<()> {
    for r in records {
        r.await
            .map_err(|e| ScimError::internal(format!("step record task failed: {e}")))??;
    }
    Ok(())
}

/// An RFC 3339 timestamp more than `secs` seconds ago (unparseable counts as stale).
/// Whether a journal timestamp is after `instant` (unreadable: not after).
fn is_after(at: &str, instant: time::OffsetDateTime) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|t| t > instant)
}

fn is_stale(updated: &str, secs: u64) -> bool {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(updated, &Rfc3339) {
        Ok(t) => (time::OffsetDateTime::now_utc() - t).whole_seconds() >= secs as i64,
        Err(_) => true,
    }
}

/// Why the operation holding a request's journal key cannot answer it, if it cannot (see
/// docs/scim.md, "Idempotency keys"). An explicit `Idempotency-Key` belongs to one request of
/// one credential (the credential is part of the journal key): reused for another method, path
/// or body it is `422`, never a replay of the other request's outcome; re-sent while the first
/// is still being processed it is `409` (the IETF httpapi Idempotency-Key draft). A request
/// without a key is found by its own digest, so it can only meet its own earlier sending, and
/// attaches to it while it runs.
fn reused_key(op: &Operation, meta: &RequestMeta) -> Option<ScimError> {
    if meta.idempotency_key.is_none() && !op.explicit_key {
        return None;
    }
    if op.method != meta.method || op.path != meta.path || op.digest != meta.body_digest {
        return Some(ScimError::new(
            ErrorKind::UnprocessableContent,
            format!(
                "this Idempotency-Key was already used for another request ({} {}); use a new \
                 key for each request",
                op.method, op.path
            ),
        ));
    }
    if op.state == OperationState::Running {
        return Some(
            ScimError::new(
                ErrorKind::Conflict,
                "the request with this Idempotency-Key is still being processed; retry later \
                 to get its outcome",
            )
            .with_retry_after(1),
        );
    }
    None
}

/// Rebuild the SCIM error recorded for a failed operation.
fn error_from_body(body: Option<&serde_json::Value>, status: Option<u16>) -> ScimError {
    let detail = body
        .and_then(|b| b.get("detail"))
        .and_then(|d| d.as_str())
        .unwrap_or("the operation failed")
        .to_string();
    let scim_type = body
        .and_then(|b| b.get("scimType"))
        .and_then(|t| t.as_str());
    let status = status.unwrap_or(500);
    ScimError::new(ErrorKind::from_status(status, scim_type), detail)
}

/// The name a change commits (lower-case, as names compare), for the journal's claim: a create
/// or an update (a rename, or a change that keeps the name: the resource holds it already, so
/// only a create or rename of the same name can meet the claim, and must wait). A delete
/// claims nothing.
fn claimed_name(commit: &ResourceCommit) -> Option<String> {
    let (kind, doc) = match commit {
        ResourceCommit::Create { kind, doc, .. } | ResourceCommit::Update { kind, doc, .. } => {
            (*kind, doc)
        }
        ResourceCommit::Delete { .. } | ResourceCommit::Repair { .. } | ResourceCommit::Nothing => {
            return None;
        }
    };
    unique_name(kind, doc)
}

/// The `userName` or `displayName` an operation is about, as written, for the console's search
/// (a delete's document is gone: the console finds it by the resource id).
fn resource_name(commit: &ResourceCommit) -> Option<String> {
    match commit {
        ResourceCommit::Create { kind, doc, .. } | ResourceCommit::Update { kind, doc, .. } => doc
            .get(unique_attr(*kind))
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        ResourceCommit::Delete { .. } | ResourceCommit::Repair { .. } | ResourceCommit::Nothing => {
            None
        }
    }
}

/// The unique name `doc` holds, lower-case as names compare: what the journal's claim and the
/// in-process name lock (`service.rs`) are keyed by.
pub fn unique_name(
    kind: ResourceKind,
    doc: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    doc.get(unique_attr(kind))
        .and_then(|v| v.as_str())
        .map(str::to_lowercase)
}

/// The attribute whose value is unique among resources of a kind (case-insensitively).
pub fn unique_attr(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}
