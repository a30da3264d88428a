//! The ground floor: what a SCIM resource is, independent of how it is parsed (`scim`), kept
//! (`store`) or provisioned (`provision`). Every layer may import this module; it imports
//! none of them.

use serde_json::{Map, Value};

/// The kinds of resource this server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The SCIM resource type name (`User`, `Group`), as in `meta.resourceType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint path segment (`Users`, `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
}

/// A resource as kept. `doc` holds the client-supplied attributes (never `id`, `meta`,
/// `members` or `groups`, which are kept in columns and tables of their own).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub kind: ResourceKind,
    pub doc: Map<String, Value>,
    /// RFC 3339 UTC timestamps, e.g. `2026-11-28T04:22:54.123Z`.
    pub created: String,
    pub last_modified: String,
    /// Incremented on every write; used for optimistic concurrency and as the ETag.
    pub revision: i64,
    /// The Tableau user or group this resource is mirrored to, once provisioned.
    pub tableau_luid: Option<String>,
    /// For groups, when loaded with relations: the members, in insertion order.
    pub members: Vec<Member>,
    /// For users, when loaded with relations: the groups the user is a direct member of.
    pub groups: Vec<GroupRef>,
}

impl Resource {
    /// A resource as a write just stored it (relations not loaded yet).
    pub fn written(
        id: &str,
        kind: ResourceKind,
        doc: &Map<String, Value>,
        created: String,
        last_modified: String,
        revision: i64,
        tableau_luid: Option<String>,
    ) -> Self {
        Resource {
            id: id.to_owned(),
            kind,
            doc: doc.clone(),
            created,
            last_modified,
            revision,
            tableau_luid,
            members: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// A string attribute of the document (`userName`, `displayName`, ...), if set.
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.doc.get(name).and_then(Value::as_str)
    }
}

/// One member of a group (SCIM renders `value`, `$ref` and `type`; RFC 7643 §8.7.1 gives
/// members no display name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub kind: ResourceKind,
}

/// A group a user is a direct member of, with the name group rules match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display: String,
}

/// An equality lookup that an index answers. Values are compared case-insensitively for
/// `userName`, `displayName` and `emails.value` (caseExact=false) and exactly for `externalId`
/// and `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Id(String),
    UserName(String),
    ExternalId(String),
    DisplayName(String),
    EmailValue(String),
}
