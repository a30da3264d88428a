//! What `/readyz` and `/metrics` ask the store: a trivial query, and the journal's operations
//! counted by state with the creation time of the oldest running one. Both backends run the
//! statements here.

use super::StoreResult;
use super::journal::OperationState;
use super::rows::Row;

/// A trivial read that needs the database and its schema.
pub(crate) const PING: &str = "SELECT 1 FROM operations LIMIT 1";

/// One row per state present: state, count, earliest `created`.
pub(crate) const OPERATION_STATS: &str =
    "SELECT state, count(*), min(created) FROM operations GROUP BY state";

/// The journal in numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationStats {
    /// Operations per state: every state this version knows, in `OperationState::ALL`'s
    /// order, 0 where there are none (so a gauge falls back to 0).
    pub by_state: Vec<(OperationState, i64)>,
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
        let mut stats = OperationStats {
            by_state: OperationState::ALL.iter().map(|s| (*s, 0)).collect(),
            oldest_running_created: None,
        };
        for (state, count, oldest) in rows {
            // A state a later version adds: not counted here.
            let Ok(state) = OperationState::parse(&state) else {
                continue;
            };
            if state == OperationState::Running {
                stats.oldest_running_created = oldest;
            }
            if let Some(entry) = stats.by_state.iter_mut().find(|(s, _)| *s == state) {
                entry.1 = count;
            }
        }
        stats
    }

    /// How many operations are in `state`.
    pub fn count(&self, state: OperationState) -> i64 {
        self.by_state
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }
}
