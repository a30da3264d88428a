//! Reconcile in `serve`: every `reconcile.interval_secs` (off by default) the report runs in the
//! background, its summary is logged and its drift counts by kind exposed as metrics
//! (`tableau_scim_reconcile_drift{kind}`); with `reconcile.apply` the repairs run too. Unmanaged
//! users are never removed from here: that is `reconcile --apply --remove-unmanaged`, run by
//! a person.

use super::drift::KINDS;
use super::report::Report;
use super::{Options, Reconciler};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The `[reconcile]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileSettings {
    /// Seconds between two background reconciles; 0 (the default) runs none.
    pub interval_secs: u64,
    /// Repair the drift found (through the journal), not only report it.
    pub apply: bool,
}

impl ReconcileSettings {
    pub fn enabled(&self) -> bool {
        self.interval_secs > 0
    }
}

/// Starts the loop; the first run is one interval after start-up (off the start-up path).
pub fn spawn(reconciler: Reconciler, settings: ReconcileSettings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(settings.interval_secs.max(1));
        let options = Options {
            apply: settings.apply,
            remove_unmanaged: false,
        };
        loop {
            tokio::time::sleep(interval).await;
            run_once(&reconciler, options).await;
        }
    })
}

/// No progress line in the background.
fn quiet(_: &str, _: usize, _: Option<u64>) {}

/// One background reconcile: logged, counted, its drift exposed.
pub async fn run_once(reconciler: &Reconciler, options: Options) -> Option<Report> {
    match reconciler.run(options, &quiet).await {
        Ok(report) => {
            super::last::record(&report);
            for kind in KINDS {
                let n = report.counts.get(kind).copied().unwrap_or(0);
                crate::metrics::set_reconcile_drift(kind, n as i64);
            }
            let summary: Vec<String> = KINDS
                .iter()
                .filter_map(|k| match report.counts.get(k) {
                    Some(n) if *n > 0 => Some(format!("{k}={n}")),
                    _ => None,
                })
                .collect();
            let outcome = match (&report.applied, report.in_sync) {
                (_, true) => "in_sync",
                (None, false) => "drift",
                (Some(a), false)
                    if a.failed.is_empty() && a.unfinished.is_empty() && a.held.is_empty() =>
                {
                    "repaired"
                }
                (Some(_), false) => "repair_failed",
            };
            crate::metrics::reconcile_run(outcome);
            match &report.applied {
                _ if report.in_sync => tracing::info!(
                    calls = report.tableau.calls,
                    "reconcile: Tableau is in sync"
                ),
                None if report.dry_run => tracing::warn!(
                    drift = report.drifts.len(),
                    kinds = %summary.join(" "),
                    calls = report.tableau.calls,
                    "reconcile: drift found (not repaired: dry-run never writes Tableau)"
                ),
                None => tracing::warn!(
                    drift = report.drifts.len(),
                    kinds = %summary.join(" "),
                    calls = report.tableau.calls,
                    "reconcile: drift found (not repaired: reconcile.apply is off)"
                ),
                Some(a) => tracing::warn!(
                    drift = report.drifts.len(),
                    kinds = %summary.join(" "),
                    repaired = a.repaired_drifts,
                    failed = a.failed.len(),
                    unfinished = a.unfinished.len(),
                    held = a.held.len(),
                    left_alone = a.left_alone,
                    calls = report.tableau.calls,
                    "reconcile: drift found and repaired"
                ),
            }
            Some(report)
        }
        Err(e) => {
            crate::metrics::reconcile_run("error");
            tracing::warn!(error = %e, "reconcile: failed; next try in one interval");
            None
        }
    }
}
