//! Journal retention: operations that succeeded are kept `journal.retention_days` for the
//! admin to look at, then deleted, a small batch at a time so that provisioning (which shares
//! SQLite's one writer) never waits long behind the clean-up. Failed and unfinished operations
//! are kept until they are resolved, whatever their age: they are what an admin must see.
//! Requests the bridge refused (`refused_requests`) are deleted after the same retention.

use crate::store::{Store, StoreResult};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Operations deleted per store call.
pub const PRUNE_BATCH: i64 = 500;

/// Pause between two batches, letting queued writes through.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// How often the background worker prunes.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// The cutoff for a retention of `days` days before `now`, as the store takes it.
pub fn cutoff(now: OffsetDateTime, days: u32) -> String {
    let cut = now - time::Duration::days(i64::from(days));
    // Formatting a UTC time as RFC 3339 cannot fail for years 0..=9999.
    cut.format(&Rfc3339).unwrap_or_default()
}

/// Delete every succeeded operation that finished more than `days` days before `now`, in
/// batches; returns how many were deleted. `days` = 0 keeps everything.
pub async fn prune(store: &dyn Store, days: u32, now: OffsetDateTime) -> StoreResult<u64> {
    if days == 0 {
        return Ok(0);
    }
    let before = cutoff(now, days);
    let mut total = 0;
    loop {
        let deleted = store.prune_operations(&before, PRUNE_BATCH).await?;
        // Refused requests (never an operation) age out with the succeeded operations.
        let refused = store.prune_refusals(&before, PRUNE_BATCH).await?;
        total += deleted + refused;
        if deleted < PRUNE_BATCH as u64 && refused < PRUNE_BATCH as u64 {
            return Ok(total);
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceKind;
    use crate::store::{NewOperation, ResourceCommit};
    use serde_json::json;

    fn op(n: usize) -> NewOperation {
        NewOperation {
            tenant: "t".into(),
            id: format!("op-{n}"),
            idem_key: format!("key-{n}"),
            explicit_key: false,
            principal: "token:x".into(),
            method: "POST".into(),
            path: "/Users".into(),
            digest: String::new(),
            resource_kind: ResourceKind::User,
            resource_id: format!("user-{n}"),
            intent: json!({}),
            claimed_name: None,
            request_id: None,
            removals: 0,
            request_body: None,
            resource_name: None,
        }
    }

    /// More than a batch of old succeeded operations all go, in several store calls; a failed
    /// one, a running one, and everything with retention off, stay.
    #[tokio::test]
    async fn prunes_every_old_success_in_batches_and_keeps_the_rest() {
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        let total = PRUNE_BATCH as usize * 2 + 7;
        for n in 0..total + 2 {
            store.open_operation(&op(n), &[]).await.unwrap();
            match n {
                n if n < total => {
                    store
                        .complete_operation("t", &op(n).id, 201, &ResourceCommit::Nothing)
                        .await
                        .unwrap();
                }
                n if n == total => {
                    store
                        .fail_operation("t", &op(n).id, 409, &json!({"detail": "no"}))
                        .await
                        .unwrap();
                }
                _ => {} // left running
            }
        }
        let now = OffsetDateTime::now_utc();
        assert_eq!(prune(store.as_ref(), 0, now).await.unwrap(), 0);
        // Finished just now: within any retention.
        assert_eq!(prune(store.as_ref(), 1, now).await.unwrap(), 0);
        // Two days later, with a retention of one day.
        let later = now + time::Duration::days(2);
        assert_eq!(prune(store.as_ref(), 1, later).await.unwrap(), total as u64);
        let left = store.list_operations("t", None, 10_000).await.unwrap();
        let mut ids: Vec<&str> = left.iter().map(|o| o.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, [op(total).id, op(total + 1).id]);
    }

    #[test]
    fn cutoff_is_days_before_now_in_rfc3339() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        assert_eq!(cutoff(now, 0), "2025-11-24T16:00:00Z");
        assert_eq!(cutoff(now, 30), "2025-10-25T16:00:00Z");
    }
}
