//! `--apply`: each repair submitted to the engine as a journaled operation (`ops` lists it as
//! `RECONCILE /Users/{id}`), run like an IdP's change — steps recorded, resumable after a
//! crash, compensated when Tableau refuses one for good.

use super::repair::{Phase, Repair};
use crate::provision::intent::Intent;
use crate::provision::{Engine, PlannedChange, RequestMeta};
use crate::scim::ErrorKind;
use crate::store::ResourceCommit;
use futures_util::{StreamExt, stream};
use serde::Serialize;
use std::sync::Arc;

/// The journal's `principal` and `method` of a repair.
pub const PRINCIPAL: &str = "reconcile";
pub const METHOD: &str = "RECONCILE";

/// How one repair ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Repaired,
    /// The mass-removal guard held it: its steps wait for `tableau-scim ops release`.
    Held,
    /// Tableau refused for good, or the store did: the operation failed (undone).
    Failed(String),
    /// Left running (Tableau unreachable, throttled): the server's worker or the next
    /// `reconcile --apply` resumes it.
    Unfinished(String),
    /// The resource changed, or another operation held it, since it was read: read again.
    Stale(String),
}

/// A repair that did not end repaired, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRepaired {
    pub resource_type: &'static str,
    pub id: String,
    pub name: String,
    pub detail: String,
}

impl NotRepaired {
    fn new(r: &Repair, detail: String) -> Self {
        Self {
            resource_type: r.kind.as_str(),
            id: r.id.clone(),
            name: r.name.clone(),
            detail,
        }
    }
}

/// What `--apply` did, summed over its passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Repair operations run, and the drifts they set out to repair.
    pub operations: usize,
    pub repaired_drifts: usize,
    pub failed: Vec<NotRepaired>,
    pub unfinished: Vec<NotRepaired>,
    /// Held by the mass-removal guard (repairs are removals like any other): they wait for
    /// `tableau-scim ops release` or `ops discard`.
    pub held: Vec<NotRepaired>,
    /// Still stale after the last pass (changed by the IdP meanwhile, each time).
    pub stale: Vec<NotRepaired>,
    /// Drifts no repair takes on (unmanaged users without `--remove-unmanaged`,
    /// administrators, an unmanaged user's memberships).
    pub left_alone: usize,
}

/// Runs `repairs` phase by phase (users, groups, unmanaged users), up to `parallel` at once
/// within a phase; the outcome of each, in the order given.
pub async fn run(
    engine: &Arc<Engine>,
    tenant: &str,
    repairs: &[Repair],
    parallel: usize,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(repairs.len());
    for phase in [Phase::Users, Phase::Groups, Phase::Unmanaged] {
        // Owned futures, collected first: a stream mapping borrowed repairs has a higher-ranked
        // type the compiler cannot prove `Send` when `serve` spawns the periodic reconcile.
        let batch: Vec<_> = repairs
            .iter()
            .filter(|r| r.phase() == phase)
            .cloned()
            .map(|r| {
                let (engine, tenant) = (engine.clone(), tenant.to_string());
                async move { submit(&engine, &tenant, &r).await }
            })
            .collect();
        let done: Vec<Outcome> = stream::iter(batch)
            .buffered(parallel.max(1))
            .collect()
            .await;
        outcomes.extend(done);
    }
    outcomes
}

async fn submit(engine: &Arc<Engine>, tenant: &str, repair: &Repair) -> Outcome {
    let steps = serde_json::to_value(&repair.steps).unwrap_or_default();
    let path = format!("/{}/{}", repair.kind.endpoint(), repair.id);
    let meta = RequestMeta::new(tenant, PRINCIPAL, METHOD, &path, Some(&steps), None);
    let change = PlannedChange {
        steps: repair.steps.clone(),
        intent: Intent {
            held: None,
            status: 200,
            commit: ResourceCommit::Repair {
                kind: repair.kind,
                id: repair.id.clone(),
                revision: repair.revision,
            },
        },
        guards: Vec::new(),
    };
    match engine.submit(&meta, change).await {
        Ok(answer) if answer.held => Outcome::Held,
        Ok(_) => Outcome::Repaired,
        Err(e) => match e.kind {
            ErrorKind::Unavailable => Outcome::Unfinished(e.detail),
            ErrorKind::PreconditionFailed | ErrorKind::NotFound => Outcome::Stale(e.detail),
            _ => Outcome::Failed(e.detail),
        },
    }
}

impl Applied {
    /// Adds one pass; the ids of the resources whose repair was stale, to try again (none
    /// on the `last` pass: they are reported).
    pub fn add_pass(
        &mut self,
        repairs: &[Repair],
        outcomes: &[Outcome],
        last: bool,
    ) -> Vec<String> {
        let mut again = Vec::new();
        for (r, o) in repairs.iter().zip(outcomes) {
            match o {
                Outcome::Repaired => {
                    self.operations += 1;
                    self.repaired_drifts += r.drifts;
                }
                Outcome::Held => {
                    self.operations += 1;
                    let why = "held by the mass-removal guard: tableau-scim ops held, then ops \
                               release or ops discard";
                    self.held.push(NotRepaired::new(r, why.to_owned()));
                }
                Outcome::Failed(d) => {
                    self.operations += 1;
                    self.failed.push(NotRepaired::new(r, d.clone()));
                }
                Outcome::Unfinished(d) => {
                    self.operations += 1;
                    self.unfinished.push(NotRepaired::new(r, d.clone()));
                }
                Outcome::Stale(d) if last => self.stale.push(NotRepaired::new(r, d.clone())),
                Outcome::Stale(_) => again.push(r.id.clone()),
            }
        }
        again
    }
}
