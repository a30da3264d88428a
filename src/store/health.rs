//! What `/readyz` and `/metrics` ask the store: a trivial query, and the journal's operations
//! counted by state with the creation time of the oldest running one. Both backends run the
//! statements here.

use super::StoreResult;
use super::rows::Row;

/// A trivial read that needs the database and its schema.
pub(crate) const PING: &str = "SELECT 1 FROM operations LIMIT 1";

/// One row per state present: state, count, earliest `created`.
pub(crate) const OPERATION_STATS: &str =
    "SELECT state, count(*), min(created) FROM operations GROUP BY state";

/// The journal in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationStats {
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Stopped by the mass-removal guard, waiting for `ops release` or `ops discard`.
    pub held: i64,
    pub discarded: i64,
    /// Dry-run operations, and those a live server has since converged.
    pub planned: i64,
    pub converged: i64,
    /// RFC 3339 creation time of the oldest running operation, if any.
    pub oldest_running_created: Option<String>,
}

/// One row of [`OPERATION_STATS`].
pub(crate) type StatsRow = (String, i64, Option<String>);

pub(crate) fn stats_row(row: &dyn Row) -> StoreResult<StatsRow> {
    Ok((row.text(0)?, row.int(1)?, row.opt_text(2)?))
}

impl OperationStats {
    pub(crate) fn from_rows(rows: Vec<StatsRow>) -> Self {
        let mut stats = OperationStats::default();
        for (state, count, oldest) in rows {
            match state.as_str() {
                "running" => {
                    stats.running = count;
                    stats.oldest_running_created = oldest;
                }
                "succeeded" => stats.succeeded = count,
                "failed" => stats.failed = count,
                "held" => stats.held = count,
                "discarded" => stats.discarded = count,
                "planned" => stats.planned = count,
                "converged" => stats.converged = count,
                // A state a later version adds: not counted here.
                _ => {}
            }
        }
        stats
    }
}
