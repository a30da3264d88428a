//! Reconcile: compare Tableau with the desired state the bridge holds (stored resources and
//! the site-role rules), report each drift by kind, and with `apply` repair them through the
//! journal. `tableau-scim reconcile` runs it once; `serve` runs it every
//! `reconcile.interval_secs` (`periodic`).
//!
//! - `desired`: the stored state and the rules → what Tableau should hold;
//! - `read`: Tableau in pages (users, groups, members of managed groups);
//! - `diff` (pure): both → `drift::Drift`s;
//! - `repair` (pure): drifts → one plan of `provision::plan::Step`s per resource;
//! - `apply`: each repair a journaled operation through `provision::Engine`;
//! - `report`: text and JSON; `adopt`: the forecast before going live.
//!
//! Layer: imports `provision`, `store`, `tableau`, `metrics` and `model`; `config` imports
//! its settings type, `app` and `main` the rest.

pub mod adopt;
pub mod apply;
pub mod converge;
pub mod desired;
pub mod diff;
pub mod drift;
pub mod last;
pub mod periodic;
pub mod read;
pub mod repair;
pub mod report;

pub use periodic::ReconcileSettings;
pub use report::Report;

use crate::provision::Engine;
use crate::store::StoreError;
use crate::tableau::{TableauClient, TableauError};
use read::ProgressFn;
use report::ReadStats;
use std::sync::Arc;
use std::time::Instant;

/// Passes of `--apply`: a repair found stale (the IdP changed the resource meanwhile) is
/// computed again from a fresh read, at most this many times in all.
const APPLY_PASSES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot read the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot read Tableau: {0}")]
    Tableau(#[from] TableauError),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub apply: bool,
    pub remove_unmanaged: bool,
}

pub struct Reconciler {
    engine: Arc<Engine>,
    client: TableauClient,
    tenant: String,
}

impl Reconciler {
    pub fn new(engine: Arc<Engine>, client: TableauClient, tenant: &str) -> Self {
        Self {
            engine,
            client,
            tenant: tenant.to_string(),
        }
    }

    /// One read and diff: the drifts, and the desired state they were computed from.
    async fn compare(
        &self,
        progress: &ProgressFn<'_>,
    ) -> Result<(Report, desired::Desired), ReconcileError> {
        let started = Instant::now();
        let desired = desired::load(
            self.engine.store().as_ref(),
            &self.tenant,
            &self.engine.policy,
        )
        .await?;
        let read = read::read(&self.client, &desired, progress).await?;
        let compared = diff::diff(&desired, &read.state);
        let stats = ReadStats {
            users: read.state.users.len(),
            groups: read.state.groups.len(),
            managed_groups: read.state.members.len(),
            calls: read.calls,
            seconds: started.elapsed().as_secs_f64(),
            seats: last::seats(&diff::seats_used(&read.state.users), &read.state.capacity),
        };
        let report = Report::new(
            compared.drifts,
            compared.administrators,
            desired.unreadable.clone(),
            stats,
        );
        Ok((report, desired))
    }

    /// The report; with `options.apply`, the repairs too (the report lists the drifts found
    /// first, `applied` what the repairs did).
    pub async fn run(
        &self,
        options: Options,
        progress: &ProgressFn<'_>,
    ) -> Result<Report, ReconcileError> {
        let (mut report, mut desired) = self.compare(progress).await?;
        if !options.apply {
            return Ok(report);
        }
        if self.engine.dry_run() {
            // Dry-run never writes Tableau, repairs included: the report only.
            tracing::warn!(
                "reconcile: dry-run (provision.mode = \"dry_run\"): the drift is reported, not repaired"
            );
            report.dry_run = true;
            return Ok(report);
        }
        // Operations a killed run left unfinished: finished (taken over once stale) before new
        // repairs start, so that none is left running and the repairs meet a settled journal.
        if let Err(e) = self.engine.finish_unfinished().await {
            tracing::warn!(error = %e.detail, "cannot scan the journal for unfinished operations");
        }
        let mut applied = apply::Applied {
            left_alone: repair::left_alone(&report.drifts, options.remove_unmanaged)
                .into_iter()
                .filter(|alone| *alone)
                .count(),
            ..Default::default()
        };
        let parallel = self.client.settings().max_concurrency;
        let mut drifts = report.drifts.clone();
        for pass in 1..=APPLY_PASSES {
            let repairs = repair::plan(
                &drifts,
                &desired,
                &self.engine.policy,
                options.remove_unmanaged,
            );
            if repairs.is_empty() {
                break;
            }
            let outcomes = apply::run(&self.engine, &self.tenant, &repairs, parallel).await;
            let stale = applied.add_pass(&repairs, &outcomes, pass == APPLY_PASSES);
            if stale.is_empty() {
                break;
            }
            let (again, d) = self.compare(progress).await?;
            report.tableau.calls += again.tableau.calls;
            // Only the stale resources' drifts are tried again (a failed repair is reported,
            // not repeated), as they are now.
            drifts = again
                .drifts
                .into_iter()
                .filter(|d| stale.iter().any(|id| id == d.resource_id()))
                .collect();
            desired = d;
        }
        report.applied = Some(applied);
        Ok(report)
    }
}
