//! The mass-removal guard: an IdP misconfiguration (a whole group unassigned, a broken scoping
//! filter) must not unlicense a Tableau site in one sync cycle. Removals — deactivations (site
//! role → Unlicensed), user deletes and group-member removals — are counted from the journal
//! over a sliding window (so the count holds across restarts and across servers sharing one
//! database); an operation that would pass `guard.max_removals` is answered as usual and its
//! SCIM side committed, but its Tableau steps are `held` until an admin runs
//! `tableau-scim ops release` or `ops discard` (docs/operations.md, "Mass-removal guard").
//!
//! This file: the settings, what counts as a removal, and what a held operation keeps so that
//! it can still run once released (`held.rs` has the engine's release and discard).

use super::plan::Step;
use super::site_role::SiteRole;
use crate::model::ResourceKind;
use crate::store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[guard]` in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSettings {
    pub enabled: bool,
    /// Removals allowed within the window; the operation that would pass it is held.
    pub max_removals: u32,
    /// The sliding window, in seconds.
    pub window_secs: u64,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_removals: 50,
            window_secs: 3600,
        }
    }
}

impl GuardSettings {
    /// The start of the window ending now, as the journal stores timestamps.
    pub fn window_start(&self, now: time::OffsetDateTime) -> String {
        let secs = i64::try_from(self.window_secs).unwrap_or(i64::MAX);
        let start = now
            .checked_sub(time::Duration::seconds(secs))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        crate::store::timestamp(start)
    }

    /// Whether an operation with `removals` must be held when `in_window` removals were
    /// journaled within the window already.
    pub fn trips(&self, in_window: i64, removals: i64) -> bool {
        self.enabled && removals > 0 && in_window + removals > i64::from(self.max_removals)
    }
}

/// How many removals a plan holds: each step that takes a licence or a membership away.
/// A group deleted is not counted (its members keep their accounts; their role changes, if
/// any, are steps of their own and counted as such).
pub fn removals(steps: &[Step]) -> i64 {
    steps
        .iter()
        .map(|s| match s {
            Step::UpdateUser {
                site_role: Some(SiteRole::Unlicensed),
                ..
            }
            | Step::RemoveUser { .. }
            | Step::RemoveUnmanagedUser { .. } => 1,
            Step::RemoveGroupMembers { user_ids, .. } => {
                i64::try_from(user_ids.len()).unwrap_or(i64::MAX)
            }
            _ => 0,
        })
        .sum()
}

/// What a held operation keeps beyond its plan: its SCIM side is committed when it is held,
/// so a deleted user's LUID (which went with the resource) and its name would otherwise be
/// lost before it is released.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// `userName` or `displayName` of the resource, for `ops held`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SCIM id → Tableau LUID of each resource its steps act on, as stored when held.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub luids: BTreeMap<String, String>,
}

/// The resources a step acts on.
pub(super) fn resources_of(step: &Step) -> Vec<(ResourceKind, &str)> {
    match step {
        Step::AddGroupMembers { group_id, user_ids }
        | Step::RemoveGroupMembers { group_id, user_ids } => {
            let mut all = vec![(ResourceKind::Group, group_id.as_str())];
            all.extend(user_ids.iter().map(|u| (ResourceKind::User, u.as_str())));
            all
        }
        Step::CreateGroup { group_id, .. }
        | Step::RenameGroup { group_id, .. }
        | Step::DeleteGroup { group_id } => vec![(ResourceKind::Group, group_id.as_str())],
        // Its "resource" is already a LUID.
        Step::RemoveUnmanagedUser { .. } => Vec::new(),
        other => vec![(ResourceKind::User, other.resource_id())],
    }
}

/// What to keep for a held plan: the stored LUIDs of the resources its steps act on, and the
/// resource's name (`name` when the change gives it, else the stored one).
pub async fn capture(
    store: &dyn Store,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    name: Option<String>,
    steps: &[Step],
) -> StoreResult<Held> {
    let mut held = Held {
        name,
        luids: BTreeMap::new(),
    };
    if held.name.is_none()
        && let Some(r) = store.get(tenant, kind, id, false).await?
    {
        held.name = r
            .str_attr(super::engine::unique_attr(kind))
            .map(str::to_owned);
    }
    for step in steps {
        for (kind, id) in resources_of(step) {
            if held.luids.contains_key(id) {
                continue;
            }
            if let Some(luid) = store
                .get(tenant, kind, id, false)
                .await?
                .and_then(|r| r.tableau_luid)
            {
                held.luids.insert(id.to_owned(), luid);
            }
        }
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deactivations_deletes_and_member_removals_count() {
        let steps = vec![
            Step::UpdateUser {
                user_id: "u1".into(),
                full_name: None,
                email: None,
                site_role: Some(SiteRole::Unlicensed),
            },
            Step::UpdateUser {
                user_id: "u2".into(),
                full_name: Some("New Name".into()),
                email: None,
                site_role: Some(SiteRole::Viewer),
            },
            Step::RemoveUser {
                user_id: "u3".into(),
                map_assets_to: None,
            },
            Step::RemoveGroupMembers {
                group_id: "g".into(),
                user_ids: vec!["a".into(), "b".into(), "c".into()],
            },
            Step::AddGroupMembers {
                group_id: "g".into(),
                user_ids: vec!["d".into()],
            },
            Step::DeleteGroup {
                group_id: "h".into(),
            },
        ];
        assert_eq!(removals(&steps), 1 + 1 + 3);
        assert_eq!(removals(&steps[1..2]), 0);
    }

    #[test]
    fn the_operation_passing_the_limit_trips_it() {
        let guard = GuardSettings {
            max_removals: 3,
            ..GuardSettings::default()
        };
        assert!(!guard.trips(2, 1), "the 3rd removal is within the limit");
        assert!(guard.trips(3, 1), "the 4th is held");
        assert!(guard.trips(0, 4), "one operation of 4 removals is held");
        assert!(
            !guard.trips(10, 0),
            "a change without removals is never held"
        );
        let off = GuardSettings {
            enabled: false,
            ..guard
        };
        assert!(!off.trips(100, 1));
    }

    #[test]
    fn the_window_starts_window_secs_ago() {
        let now = time::macros::datetime!(2026-01-02 00:30:00 UTC);
        let guard = GuardSettings::default();
        assert_eq!(guard.window_start(now), "2026-01-01T23:30:00.000Z");
    }
}
