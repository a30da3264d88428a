//! Persistence: one `Store` interface, implemented for SQLite (the embedded default) and
//! PostgreSQL (several replicas on one database). Resources are JSON documents; group
//! memberships live in their own table; equality lookups on `userName`, `externalId`,
//! `displayName` and `emails.value` use indexes. Every row belongs to a tenant (one Tableau
//! site), so one server can later serve several sites without a data migration.

use crate::scim::schema::ResourceKind;
use serde_json::{Map, Value};

/// The tenant every row belongs to until multi-site support arrives.
pub const DEFAULT_TENANT: &str = "default";

/// A resource as stored. `doc` holds the client-supplied attributes (never `id`, `meta`,
/// `members` or `groups`, which are kept in columns and tables of their own).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub id: String,
    pub kind: ResourceKind,
    pub doc: Map<String, Value>,
    /// RFC 3339 UTC timestamps, e.g. `2026-11-28T04:22:54.123Z`.
    pub created: String,
    pub last_modified: String,
    /// Incremented on every write; used for optimistic concurrency (not exposed as the ETag).
    pub revision: i64,
    /// For groups, when loaded with relations: the members, in insertion order.
    pub members: Vec<Member>,
    /// For users, when loaded with relations: the groups the user is a direct member of.
    pub groups: Vec<GroupRef>,
}

/// One member of a group. `display` is read from the member resource (user `displayName`,
/// else `userName`; group `displayName`) when loaded, so it never goes stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub kind: ResourceKind,
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display: String,
}

/// An equality lookup that an index answers. Values are compared case-insensitively for
/// `userName`, `displayName` and `emails.value` (caseExact=false) and exactly for `externalId`
/// and `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexedLookup {
    Id(String),
    UserName(String),
    ExternalId(String),
    DisplayName(String),
    EmailValue(String),
}

/// A change of group membership: ids to add and to remove (each applied once; adding an
/// existing member or removing a missing one is not an error).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub add: Vec<(String, ResourceKind)>,
    pub remove: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique attribute (`userName`, group `displayName`) is already taken.
    #[error("{attribute} '{value}' is already in use")]
    Conflict {
        attribute: &'static str,
        value: String,
    },
    /// The resource changed since it was read (optimistic concurrency); retry the request.
    #[error("the resource was modified concurrently")]
    RevisionMismatch,
    #[error("resource not found")]
    NotFound,
    /// A member id names no resource of this tenant.
    #[error("member '{0}' does not exist")]
    UnknownMember(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored document is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The persistence interface the SCIM layer and the provisioning engine use. Implementations:
/// [`sqlite::SqliteStore`] and [`postgres::PostgresStore`]; the same test suite runs on both.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create the resource with the given id; timestamps are set to now, revision to 1.
    /// Fails with `Conflict` when `userName` (users) or `displayName` (groups) is taken,
    /// case-insensitively (or the id is, `attribute: "id"`), and with `UnknownMember` when a
    /// member id does not exist. The uniqueness check is the database's unique index, so it
    /// holds under concurrent creates and across replicas.
    ///
    /// `members` only applies to groups (ignored for users). Each member's kind is taken from
    /// the member's own row; the kind given here is not trusted. The returned group carries its
    /// members; a new user has no groups yet.
    async fn create(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        doc: &Map<String, Value>,
        members: &[(String, ResourceKind)],
    ) -> StoreResult<StoredResource>;

    /// One resource; `with_relations` loads `members` (groups) or `groups` (users).
    async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Option<StoredResource>>;

    /// Replace the document and apply membership changes in one transaction, provided the
    /// stored revision still equals `revision` (else `RevisionMismatch`; `NotFound` when there
    /// is no such resource). Returns the new state (with relations).
    ///
    /// Membership changes are applied row by row (removes first, then adds), never by
    /// rewriting the membership; they only apply to groups. Errors roll the whole update back.
    async fn update(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        revision: i64,
        doc: &Map<String, Value>,
        members: &MemberChanges,
    ) -> StoreResult<StoredResource>;

    /// Hard delete; memberships of and in the resource go with it. `false` if it did not exist.
    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool>;

    /// Resources of a kind, all or those matching an indexed equality lookup, in a stable order
    /// (creation order) so that paging is consistent.
    async fn list(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&IndexedLookup>,
        with_relations: bool,
    ) -> StoreResult<Vec<StoredResource>>;
}

mod columns;
mod errors;
mod members;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;

use std::sync::Arc;

/// Open the store named by a URL (`sqlite://PATH` or `postgres://...`) and run its migrations.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    }
}
