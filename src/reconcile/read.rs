//! Reading Tableau for a reconcile: users and groups in pages of the API's maximum size
//! (1000), the members of the managed groups only (one listing per group, paged), and the
//! site's licence capacity. Nothing is asked per user, so the call count grows with pages:
//! about users/1000 + groups/1000 + managed groups + memberships/1000 + a sign-in and the site.

use super::desired::Desired;
use super::diff::{TableauState, match_groups};
use crate::tableau::{CallRecord, TableauClient, TableauError, record_calls};
use futures_util::{StreamExt, TryStreamExt, stream};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Told what is being read and how far it got: (what, read so far, total when known).
pub type ProgressFn<'a> = dyn Fn(&str, usize, Option<u64>) + Send + Sync + 'a;

/// The read, and how many HTTP exchanges with Tableau it took (sign-ins and retries included).
pub struct Read {
    pub state: TableauState,
    pub calls: usize,
}

pub async fn read(
    client: &TableauClient,
    desired: &Desired,
    progress: &ProgressFn<'_>,
) -> Result<Read, TableauError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<CallRecord>();
    let state = record_calls(tx, read_state(client, desired, progress)).await?;
    let mut calls = 0;
    while rx.try_recv().is_ok() {
        calls += 1;
    }
    Ok(Read { state, calls })
}

async fn read_state(
    client: &TableauClient,
    desired: &Desired,
    progress: &ProgressFn<'_>,
) -> Result<TableauState, TableauError> {
    let users = client
        .all_users(&|n, total| progress("users", n, total))
        .await?;
    let groups = client
        .all_groups(&|n, total| progress("groups", n, total))
        .await?;
    // Licence capacity, to tell a seat downgrade from an admin's change. A server that will
    // not say (an older version, a site admin without the right) leaves it unknown.
    let capacity = match client.site_details().await {
        Ok(site) => site.capacity,
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "reconcile: no licence capacity from Query Site");
            Vec::new()
        }
    };
    let managed: Vec<String> = match_groups(desired, &groups)
        .into_iter()
        .filter_map(|f| f.get().map(|g| g.luid.clone()))
        .collect();
    let total = managed.len();
    let done = AtomicUsize::new(0);
    // Several groups at once, as many as the client's concurrency allows; in this task, so
    // `record_calls` counts their calls.
    let parallel = client.settings().max_concurrency.max(1);
    let members = stream::iter(managed.into_iter().map(|luid| {
        let done = &done;
        async move {
            let m = client.group_member_luids(&luid).await?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress("group members", n, Some(total as u64));
            Ok::<_, TableauError>((luid, m))
        }
    }))
    .buffer_unordered(parallel)
    .try_collect()
    .await?;
    Ok(TableauState {
        users,
        groups,
        members,
        capacity,
    })
}
