//! The last reconcile's summary, kept in memory for the admin console's Overview: when it
//! ran, its drift counts, and the seats per licence tier Tableau reported. Set by the periodic
//! reconcile and by the console's "run a reconcile report"; empty until one has run in this
//! process.

use super::report::Report;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One tier's seats: taken (by Tableau's users) and, when Tableau reports it, the capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seats {
    pub tier: &'static str,
    pub used: u64,
    pub capacity: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    /// RFC 3339 UTC.
    pub at: String,
    pub in_sync: bool,
    pub counts: BTreeMap<&'static str, usize>,
    pub seats: Vec<Seats>,
}

static LAST: Mutex<Option<LastRun>> = Mutex::new(None);

/// Remember `report` as the last run, now.
pub fn record(report: &Report) {
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let run = LastRun {
        at,
        in_sync: report.in_sync,
        counts: report.counts.clone(),
        seats: report.tableau.seats.clone(),
    };
    *LAST.lock().unwrap_or_else(|p| p.into_inner()) = Some(run);
}

/// The last run, if any.
pub fn get() -> Option<LastRun> {
    LAST.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Seats per tier from what was read: every tier taken or reported, in tier order.
pub fn seats(
    used: &std::collections::HashMap<&'static str, u64>,
    capacity: &[(&'static str, u64)],
) -> Vec<Seats> {
    ["Creator", "Explorer", "Viewer"]
        .into_iter()
        .map(|tier| Seats {
            tier,
            used: used.get(tier).copied().unwrap_or(0),
            capacity: capacity.iter().find(|(t, _)| *t == tier).map(|(_, c)| *c),
        })
        .filter(|s| s.used > 0 || s.capacity.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_list_tiers_taken_or_reported() {
        let used = [("Viewer", 3)].into_iter().collect();
        let s = seats(&used, &[("Creator", 5)]);
        assert_eq!(
            s,
            [
                Seats {
                    tier: "Creator",
                    used: 0,
                    capacity: Some(5)
                },
                Seats {
                    tier: "Viewer",
                    used: 3,
                    capacity: None
                }
            ]
        );
        record(&Report::default());
        assert!(get().is_some_and(|r| r.in_sync == Report::default().in_sync));
    }
}
