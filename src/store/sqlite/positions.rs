//! Where list pages start, remembered by one reader connection so that a page asked for by
//! offset (SCIM's `startIndex`) is read by keyset (`seq > cursor`) instead of walking the
//! offset in the list index: `startIndex=99901` walks 99,900 index entries, the same page by
//! cursor reads 100 rows.
//!
//! Exact, never stale: a position is only valid for the state of the database it was read in.
//! SQLite's `PRAGMA data_version` changes on a connection whenever any other connection (the
//! writer of this process, or another process such as `tableau-scim ops`) has committed
//! since; a reader connection never writes. Its value is read inside the page's read
//! transaction, and every position is forgotten when it differs from the one the positions
//! were read under. Values of different connections are not comparable: each connection
//! keeps its own positions.

use crate::store::ResourceKind;
use std::collections::HashMap;

/// Positions kept at most per connection; beyond, they are forgotten and learned again.
const MAX_POSITIONS: usize = 256;

/// Offsets of one connection's recent pages and the cursor each starts after, for one
/// `data_version`.
#[derive(Debug, Default)]
pub(super) struct Positions {
    version: Option<i64>,
    /// (tenant, kind, offset) → the cursor that position starts after: a page from there is
    /// the resources with `seq >` the cursor.
    cursors: HashMap<(String, ResourceKind, u64), i64>,
}

impl Positions {
    /// Forget every position unless the database is still at `version` (this connection's
    /// `data_version`, read in the current read transaction).
    pub(super) fn at_version(&mut self, version: i64) {
        if self.version != Some(version) {
            self.cursors.clear();
            self.version = Some(version);
        }
    }

    /// The cursor the resource at `offset` starts after, if known at the current version.
    pub(super) fn cursor(&self, tenant: &str, kind: ResourceKind, offset: u64) -> Option<i64> {
        self.cursors
            .get(&(tenant.to_owned(), kind, offset))
            .copied()
    }

    /// A page from `offset` was read at the current version: its first resource's `seq` was
    /// `first` and its last one's `last`, `len` resources in all. Remembers where it starts and
    /// where the next page starts. (`first - 1` is exact as a cursor: no resource has a `seq`
    /// between the previous one's and `first`.)
    pub(super) fn learn(
        &mut self,
        tenant: &str,
        kind: ResourceKind,
        offset: u64,
        first: i64,
        last: i64,
        len: u64,
    ) {
        if self.cursors.len() + 2 > MAX_POSITIONS {
            self.cursors.clear();
        }
        self.cursors
            .insert((tenant.to_owned(), kind, offset), first.saturating_sub(1));
        self.cursors
            .insert((tenant.to_owned(), kind, offset.saturating_add(len)), last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_forgotten_when_the_version_changes() {
        let mut p = Positions::default();
        p.at_version(7);
        p.learn("t", ResourceKind::User, 100, 201, 400, 100);
        assert_eq!(p.cursor("t", ResourceKind::User, 100), Some(200));
        assert_eq!(p.cursor("t", ResourceKind::User, 200), Some(400));
        assert_eq!(p.cursor("t", ResourceKind::Group, 100), None);
        assert_eq!(p.cursor("u", ResourceKind::User, 100), None);
        p.at_version(7);
        assert_eq!(p.cursor("t", ResourceKind::User, 100), Some(200));
        p.at_version(8);
        assert_eq!(p.cursor("t", ResourceKind::User, 100), None);
        assert_eq!(p.cursor("t", ResourceKind::User, 200), None);
    }

    #[test]
    fn positions_are_bounded() {
        let mut p = Positions::default();
        p.at_version(1);
        for page in 0..1000u64 {
            p.learn("t", ResourceKind::User, page * 10, 1, 2, 10);
            assert!(p.cursors.len() <= MAX_POSITIONS);
        }
    }
}
