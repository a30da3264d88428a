//! Switching from dry-run to live: a server starting in live mode whose journal holds planned
//! operations (dry-run's, docs/operations.md "Dry-run") runs a reconcile with repairs, which
//! carries out whatever Tableau lacks of the stored state, then marks those operations
//! `converged`. Repairs are journaled operations, subject to the mass-removal guard like any.

use super::{Options, Reconciler};

/// The note kept with each converged operation.
const NOTE: &str = "converged: carried out by the reconcile of a server started in live mode";

/// Runs once, in the background of `serve`. Logs what it did; planned operations stay planned
/// (and the next start in live mode tries again) unless every repair went through.
pub async fn after_dry_run(reconciler: Reconciler) {
    let store = reconciler.engine.store().clone();
    let tenant = reconciler.tenant.clone();
    let (planned, up_to) = match store.planned_operations(&tenant).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "live mode: cannot look for dry-run operations to converge");
            return;
        }
    };
    if planned == 0 {
        return;
    }
    tracing::info!(
        planned,
        "live mode: the journal holds operations planned in dry-run; reconciling Tableau with the store"
    );
    let options = Options {
        apply: true,
        remove_unmanaged: false,
    };
    let report = match reconciler.run(options, &|_, _, _| {}).await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(error = %e, "live mode: the reconcile after dry-run failed; planned operations stay planned until the next start");
            return;
        }
    };
    let complete = match &report.applied {
        Some(a) => a.failed.is_empty() && a.unfinished.is_empty() && a.held.is_empty(),
        None => report.in_sync,
    };
    if !complete {
        tracing::warn!(
            drift = report.drifts.len(),
            "live mode: not every repair after dry-run went through (see tableau-scim ops); planned operations stay planned until the next start"
        );
        return;
    }
    match store.converge_planned(&tenant, up_to, NOTE).await {
        Ok(n) => tracing::info!(
            converged = n,
            drift = report.drifts.len(),
            repaired = report.applied.as_ref().map_or(0, |a| a.repaired_drifts),
            "live mode: Tableau converged to the store after dry-run"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "live mode: cannot mark the planned operations converged")
        }
    }
}
