//! Licence seats per tier: how many a tier may hold (`--seats`, unlimited when unset) and how
//! many are taken. Site roles take the seat of their tier; Unlicensed and the like take none.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::model::{LicenceTier, SiteRole};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SeatUsage {
    pub used: usize,
    /// `None` = unlimited.
    pub limit: Option<usize>,
}

#[derive(Debug, Default)]
pub struct Seats {
    limits: HashMap<LicenceTier, usize>,
    used: HashMap<LicenceTier, usize>,
}

impl Seats {
    /// True when `role` needs no seat or its tier has one left.
    pub fn available_for(&self, role: SiteRole) -> bool {
        match role.tier() {
            Some(tier) => match self.limits.get(&tier) {
                Some(limit) => self.used.get(&tier).copied().unwrap_or(0) < *limit,
                None => true,
            },
            None => true,
        }
    }

    pub fn take(&mut self, role: SiteRole) {
        if let Some(tier) = role.tier() {
            *self.used.entry(tier).or_insert(0) += 1;
        }
    }

    pub fn release(&mut self, role: SiteRole) {
        if let Some(tier) = role.tier()
            && let Some(used) = self.used.get_mut(&tier)
        {
            *used = used.saturating_sub(1);
        }
    }

    /// Sets (`Some`) or lifts (`None`) a tier's limit. Seats already taken stay taken, even
    /// above a lowered limit.
    pub fn set_limit(&mut self, tier: LicenceTier, limit: Option<usize>) {
        match limit {
            Some(n) => self.limits.insert(tier, n),
            None => self.limits.remove(&tier),
        };
    }

    pub fn usage(&self) -> BTreeMap<&'static str, SeatUsage> {
        [
            LicenceTier::Creator,
            LicenceTier::Explorer,
            LicenceTier::Viewer,
        ]
        .into_iter()
        .map(|tier| {
            let usage = SeatUsage {
                used: self.used.get(&tier).copied().unwrap_or(0),
                limit: self.limits.get(&tier).copied(),
            };
            (tier.as_str(), usage)
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_take_the_seat_of_their_tier() {
        let mut seats = Seats::default();
        seats.set_limit(LicenceTier::Explorer, Some(1));
        assert!(seats.available_for(SiteRole::SiteAdministratorExplorer));
        seats.take(SiteRole::ExplorerCanPublish);
        assert!(!seats.available_for(SiteRole::Explorer));
        assert!(seats.available_for(SiteRole::Unlicensed));
        assert!(seats.available_for(SiteRole::Creator), "unlimited");
        seats.release(SiteRole::ExplorerCanPublish);
        assert!(seats.available_for(SiteRole::Explorer));
        assert_eq!(
            seats.usage()["Explorer"],
            SeatUsage {
                used: 0,
                limit: Some(1)
            }
        );
    }
}
