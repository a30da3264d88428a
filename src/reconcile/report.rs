//! The report: text for people (counts first, then the list), JSON for scripts (the field
//! names are documented in docs/operations.md and stable).

use super::apply::Applied;
use super::drift::{Drift, KINDS};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What was read from Tableau, and at what cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReadStats {
    pub users: usize,
    pub groups: usize,
    /// Managed groups whose members were read.
    pub managed_groups: usize,
    /// HTTP exchanges with Tableau (sign-in and retries included).
    pub calls: usize,
    pub seconds: f64,
    /// Seats per licence tier (for the console; not part of the published report).
    #[serde(skip)]
    pub seats: Vec<super::last::Seats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// No drift at all (before any repair).
    pub in_sync: bool,
    /// Drifts per kind, every kind listed (0 when none).
    pub counts: BTreeMap<&'static str, usize>,
    pub drifts: Vec<Drift>,
    /// Stored resources that could not be compared (no name, a role the rules refuse).
    pub unreadable: Vec<String>,
    /// Unmanaged Tableau users who are administrators: not drift, never touched.
    pub administrators: Vec<String>,
    pub tableau: ReadStats,
    /// With `--apply`: what the repairs did; `null` without.
    pub applied: Option<Applied>,
    /// `--apply` asked in dry-run (`provision.mode = "dry_run"`): nothing was repaired.
    pub dry_run: bool,
}

/// Exit codes (docs/operations.md).
pub const EXIT_IN_SYNC: u8 = 0;
pub const EXIT_DRIFT: u8 = 2;
pub const EXIT_TABLEAU: u8 = 3;
pub const EXIT_REPAIR_FAILED: u8 = 4;

impl Report {
    pub fn new(
        drifts: Vec<Drift>,
        administrators: Vec<String>,
        unreadable: Vec<String>,
        tableau: ReadStats,
    ) -> Self {
        let mut counts: BTreeMap<&'static str, usize> = KINDS.iter().map(|k| (*k, 0)).collect();
        for d in &drifts {
            *counts.entry(d.kind()).or_default() += 1;
        }
        Report {
            in_sync: drifts.is_empty(),
            counts,
            drifts,
            unreadable,
            administrators,
            tableau,
            applied: None,
            dry_run: false,
        }
    }

    /// 0 in sync (or every drift repaired), 2 drift left (found and not applied, or left
    /// alone), 4 a repair failed or is unfinished.
    pub fn exit_code(&self) -> u8 {
        match &self.applied {
            None if self.in_sync => EXIT_IN_SYNC,
            None => EXIT_DRIFT,
            Some(a) if !a.failed.is_empty() || !a.unfinished.is_empty() || !a.held.is_empty() => {
                EXIT_REPAIR_FAILED
            }
            Some(a) if a.left_alone > 0 || !a.stale.is_empty() => EXIT_DRIFT,
            Some(_) => EXIT_IN_SYNC,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let t = &self.tableau;
        let _ = writeln!(
            out,
            "Tableau: {} users, {} groups ({} managed) read in {} calls, {:.1} s",
            t.users, t.groups, t.managed_groups, t.calls, t.seconds
        );
        if self.in_sync {
            let _ = writeln!(out, "in sync: no drift");
        } else {
            let _ = writeln!(out, "{} drift(s):", self.drifts.len());
            for kind in KINDS {
                let n = self.counts.get(kind).copied().unwrap_or(0);
                if n > 0 {
                    let _ = writeln!(out, "  {kind:<18} {n}");
                }
            }
            let _ = writeln!(out);
            for d in &self.drifts {
                let _ = writeln!(out, "{:<18} {}", d.kind(), d.describe());
            }
        }
        if !self.administrators.is_empty() {
            let _ = writeln!(
                out,
                "administrators no SCIM resource manages (not drift, never touched): {}",
                self.administrators.join(", ")
            );
        }
        for u in &self.unreadable {
            let _ = writeln!(out, "not compared: {u}");
        }
        match &self.applied {
            None if self.dry_run && !self.in_sync => {
                let _ = writeln!(
                    out,
                    "\nnothing changed: dry-run (provision.mode = \"dry_run\") never writes Tableau; the drift above is what going live would repair"
                );
            }
            None if !self.in_sync => {
                let _ = writeln!(
                    out,
                    "\nnothing changed; run with --apply to repair (unmanaged users only with --remove-unmanaged)"
                );
            }
            None => {}
            Some(a) => {
                let _ = writeln!(
                    out,
                    "\napplied: {} drift(s) repaired in {} operation(s); {} failed, {} unfinished, {} held, {} changed meanwhile, {} left alone",
                    a.repaired_drifts,
                    a.operations,
                    a.failed.len(),
                    a.unfinished.len(),
                    a.held.len(),
                    a.stale.len(),
                    a.left_alone
                );
                for (what, list) in [
                    ("failed", &a.failed),
                    ("unfinished", &a.unfinished),
                    ("held", &a.held),
                    ("changed meanwhile", &a.stale),
                ] {
                    for n in list {
                        let _ = writeln!(
                            out,
                            "  {what}: {} {} ({}): {}",
                            n.resource_type, n.name, n.id, n.detail
                        );
                    }
                }
                if !a.unfinished.is_empty() {
                    let _ = writeln!(
                        out,
                        "  unfinished repairs stay in the journal (tableau-scim ops) and resume in the server or on the next --apply"
                    );
                }
            }
        }
        out
    }
}
