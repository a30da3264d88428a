//! Persistence: one `Store` interface, implemented for SQLite (the embedded default) and
//! PostgreSQL (several replicas on one database). Resources are JSON documents; group
//! memberships live in their own table; equality lookups on `userName`, `externalId`,
//! `displayName` and `emails.value` use indexes. Every row belongs to a tenant (one Tableau
//! site), so one server can later serve several sites without a data migration.
//!
//! Layout: what both backends share is here (the trait, errors, [`connect`]), in `journal`
//! (the journal's types and the one resource write, [`ResourceCommit`]), `sql` (the statement
//! text both run), `columns` (what a write derives from a document), `rows` (rows into
//! resources and operations, for either driver) and `errors` (constraint violations of either
//! driver). Each backend has its folder: `sqlite` (rusqlite: one writer thread, a pool of
//! readers) and `postgres` (sqlx).

pub use crate::model::{GroupRef, Lookup, Member, Resource, ResourceKind};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The tenant every row belongs to until multi-site support arrives.
pub const DEFAULT_TENANT: &str = "default";

/// A change of group membership: ids to add and to remove (each applied once; adding an
/// existing member or removing a missing one is not an error).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The database refused the data itself (an encoding it cannot store, a value or index
    /// row too large, a check constraint): the request's fault, permanent, never retried. The
    /// message is the database's, which names the limit and never the value. See
    /// `errors::refused_data_pg`.
    #[error("the store refused the value: {0}")]
    DataRefused(String),
    /// A PostgreSQL failure (sqlx).
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A SQLite failure (rusqlite).
    #[error("SQLite error: {0}")]
    Sqlite(rusqlite::Error),
    /// The schema could not be brought up to date; the message names the migration.
    #[error("migration error: {0}")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store cannot answer now for a reason of its own rather than the database's (SQLite's
    /// writer thread has stopped, a write was abandoned, its batch was not committed, a file
    /// cannot be created); retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An argument the store cannot use: an unsupported store URL, a malformed timestamp.
    #[error("{0}")]
    Invalid(String),
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
    ) -> StoreResult<Resource>;

    /// One resource; `with_relations` loads `members` (groups) or `groups` (users).
    async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> StoreResult<Option<Resource>>;

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
    ) -> StoreResult<Resource>;

    /// Hard delete; memberships of and in the resource go with it. `false` if it did not exist.
    async fn delete(&self, tenant: &str, kind: ResourceKind, id: &str) -> StoreResult<bool>;

    /// Resources of a kind, all or those matching an indexed equality lookup, in a stable order
    /// (creation order) so that paging is consistent; with `text`, each document left as the
    /// JSON text it is stored as (`Page::texts`, `doc` empty). No `total`, no `cursor`. What
    /// [`Store::list`] and [`Store::lookup_texts`] read.
    async fn find(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&Lookup>,
        with_relations: bool,
        text: bool,
    ) -> StoreResult<Page>;

    /// Resources of a kind, all or those matching an indexed equality lookup, in creation order.
    async fn list(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: Option<&Lookup>,
        with_relations: bool,
    ) -> StoreResult<Vec<Resource>> {
        Ok(self
            .find(tenant, kind, lookup, with_relations, false)
            .await?
            .resources)
    }

    /// The resources an indexed equality lookup finds, each document left as its stored text:
    /// for an answer serialised from the text (`scim::render_text`).
    async fn lookup_texts(
        &self,
        tenant: &str,
        kind: ResourceKind,
        lookup: &Lookup,
        with_relations: bool,
    ) -> StoreResult<Page> {
        self.find(tenant, kind, Some(lookup), with_relations, true)
            .await
    }

    /// One page of the resources of a kind in creation order (see [`paging`]): only the
    /// page's rows are read, relations (when asked for) are loaded for them alone, and the
    /// total is the count the database keeps per tenant and kind (when asked for). A `limit` of 0 reads no row.
    async fn page(
        &self,
        tenant: &str,
        kind: ResourceKind,
        request: &PageRequest,
    ) -> StoreResult<Page>;

    /// The resources of a kind with these ids, in the order given; an id that names none is
    /// left out.
    async fn get_many(
        &self,
        tenant: &str,
        kind: ResourceKind,
        ids: &[String],
        with_relations: bool,
    ) -> StoreResult<Vec<Resource>>;

    // ---- the operation journal (see `journal`) ----

    /// Journal a new operation, running with `attempts` 1 and every planned step pending, in
    /// one transaction, unless an operation already holds `op.idem_key` (`SameKey`, checked
    /// first: a retried request attaches to its operation) or another operation is running on
    /// the resource (`ResourceBusy`). Both checks are the database's unique indexes, so they
    /// hold under concurrency and across servers sharing one database. Otherwise, if the
    /// operation id itself is taken in the tenant (by an operation running or finished), the
    /// answer is `Conflict` with attribute `id` and the operation id as value, on both
    /// backends. Nothing is written in any of these cases. (With several servers on PostgreSQL,
    /// if the operation that refused this one keeps finishing before it can be read, the
    /// answer after a few tries is `Unavailable`: retry.)
    async fn open_operation(&self, op: &NewOperation, plan: &[PlannedStep]) -> StoreResult<Opened>;

    /// Record the outcome of step `idx` (it also counts as progress of the operation, setting
    /// its `updated`). `NotFound` when the operation has no such step.
    async fn record_step(
        &self,
        tenant: &str,
        op_id: &str,
        idx: i64,
        outcome: &StepOutcome,
    ) -> StoreResult<()>;

    /// Re-plan: drop the pending steps from `from_idx` on and add `steps`, in one transaction.
    /// Recorded (done or failed) steps are kept; a new step reusing the index of one of them
    /// is a `Conflict` (attribute `step`), and `NotFound` means no such operation.
    async fn replace_plan(
        &self,
        tenant: &str,
        op_id: &str,
        from_idx: i64,
        steps: &[PlannedStep],
    ) -> StoreResult<()>;

    /// Finish a running operation successfully, in ONE transaction with its local effect:
    /// `commit` is applied exactly as `create`, `update` or `delete` apply it (same errors), the
    /// operation becomes `succeeded` with `status`, and its key is released unless explicit.
    /// On any error nothing is committed and the operation stays running; `NotFound` also when
    /// the operation is not running (finished elsewhere). Returns the committed resource (with
    /// relations) for `Create` and `Update`.
    async fn complete_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>>;

    /// Finish a running operation as failed with the SCIM error answered; the key is released
    /// unless explicit (an explicit key replays the error). `NotFound` unless running.
    async fn fail_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        error_body: &Value,
    ) -> StoreResult<()>;

    /// One operation with its steps.
    async fn get_operation(&self, tenant: &str, op_id: &str) -> StoreResult<Option<Operation>>;

    /// The operation holding an idempotency key (a running one, or a finished one whose key was
    /// explicit and so is kept), with its steps.
    async fn operation_by_key(
        &self,
        tenant: &str,
        idem_key: &str,
    ) -> StoreResult<Option<Operation>>;

    /// Running operations of all tenants, oldest first, with their steps: the recovery queue.
    /// Includes operations other servers (or this one) are working on; `updated` tells how
    /// recently each made progress.
    async fn unfinished_operations(&self, limit: i64) -> StoreResult<Vec<Operation>>;

    /// Start another attempt at a running operation: `attempts` + 1, `updated` = now. Returns
    /// the new attempt count; `NotFound` unless running.
    async fn touch_operation(&self, tenant: &str, op_id: &str) -> StoreResult<i64>;

    /// Operations of a tenant (or of one resource), newest first, with their steps.
    async fn list_operations(
        &self,
        tenant: &str,
        resource_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>>;

    /// Journal retention: delete up to `limit` operations, with their steps, that `succeeded`
    /// and finished before `finished_before` (RFC 3339, any offset; `Invalid` if it is not),
    /// the oldest finished first. Failed and running operations are never deleted (nor any
    /// state a later version adds). An explicit idempotency key kept by a deleted operation
    /// goes with it: a later request with that key is a new request. Returns how many were
    /// deleted; a `limit` of 0 or less deletes none. On SQLite this runs on the single writer,
    /// which it holds for its duration: prefer several calls of a few thousand.
    async fn prune_operations(&self, finished_before: &str, limit: i64) -> StoreResult<u64>;

    // ---- the mass-removal guard (see `provision::guard`) ----

    /// Hold a running operation: exactly as `complete_operation` (its commit applied in the
    /// same transaction, with the same errors, its key released unless explicit), but the
    /// operation becomes `held` with `status`, its steps still pending, and `held` records
    /// when. `NotFound` unless running.
    async fn hold_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>>;

    /// A held operation runs again: `running`, one more attempt, `finished` cleared (`held`
    /// kept). `NotFound` unless held; `Conflict` (attribute `operation`, the other operation's
    /// id as value) while another operation runs on the same resource.
    async fn release_operation(&self, tenant: &str, op_id: &str) -> StoreResult<()>;

    /// A held operation dropped: `discarded` with `note`. `NotFound` unless held.
    async fn discard_operation(&self, tenant: &str, op_id: &str, note: &str) -> StoreResult<()>;

    /// Every held operation on one resource dropped with `note`; how many.
    async fn discard_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
        note: &str,
    ) -> StoreResult<u64>;

    /// Whether one resource has held operations (a point read: asked on every change).
    async fn has_held_on(
        &self,
        tenant: &str,
        kind: ResourceKind,
        resource_id: &str,
    ) -> StoreResult<bool>;

    /// Held operations of a tenant, oldest first, with their steps.
    async fn held_operations(&self, tenant: &str, limit: i64) -> StoreResult<Vec<Operation>>;

    /// The removals of the tenant's operations created at or after `since` (RFC 3339, as
    /// stored), not counting discarded and failed ones: the guard's sum over its window.
    async fn removals_since(&self, tenant: &str, since: &str) -> StoreResult<i64>;

    // ---- dry-run (see `provision::dry_run`) ----

    /// Finish a running operation as `planned`: exactly as `complete_operation` (its commit
    /// applied in the same transaction, same errors), the state aside. `NotFound` unless
    /// running.
    async fn plan_operation(
        &self,
        tenant: &str,
        op_id: &str,
        status: u16,
        commit: &ResourceCommit,
    ) -> StoreResult<Option<Resource>>;

    /// The tenant's planned operations not converged yet: how many, and the newest `seq` (0
    /// when none).
    async fn planned_operations(&self, tenant: &str) -> StoreResult<(i64, i64)>;

    /// The planned operations up to `up_to_seq` become `converged`, with `note`; how many.
    async fn converge_planned(&self, tenant: &str, up_to_seq: i64, note: &str) -> StoreResult<u64>;
    // ---- the admin console (see `console`) ----

    /// Operations matching the filter, newest first, without their steps, by keyset (rows
    /// below `filter.before_seq`). `Invalid` if `since` or `until` is no RFC 3339 instant.
    async fn search_operations(
        &self,
        tenant: &str,
        filter: &OperationFilter,
    ) -> StoreResult<Vec<Operation>>;

    /// Journal a request refused before any operation was opened.
    async fn record_refusal(&self, refusal: &NewRefusal) -> StoreResult<()>;

    /// Refused requests matching the filter (its `state` must be unset or `refused`), newest
    /// first, by keyset.
    async fn search_refusals(
        &self,
        tenant: &str,
        filter: &OperationFilter,
    ) -> StoreResult<Vec<Refusal>>;

    /// Operations created at or after `since` (RFC 3339), counted by state, and the refusals
    /// as state `refused`.
    async fn counts_since(&self, tenant: &str, since: &str) -> StoreResult<Vec<(String, i64)>>;

    /// Retention of refusals: delete up to `limit` of those created before `before`; how many.
    async fn prune_refusals(&self, before: &str, limit: i64) -> StoreResult<u64>;

    // ---- the SCIM id <-> Tableau LUID mapping ----

    /// The resource of this kind mirrored to a Tableau LUID (without relations).
    async fn find_by_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        luid: &str,
    ) -> StoreResult<Option<Resource>>;

    /// Set or clear a resource's LUID; revision and `lastModified` are unchanged (the LUID is
    /// not part of the SCIM document). `NotFound` when there is no such resource.
    async fn set_luid(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        luid: Option<&str>,
    ) -> StoreResult<()>;

    // ---- health and metrics (see `health`) ----

    /// A trivial query, for readiness: `Ok` when the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Operations of all tenants counted by state, and the creation time of the oldest
    /// running one.
    async fn operation_stats(&self) -> StoreResult<OperationStats>;
}

mod columns;
pub mod console;
mod errors;
mod health;
mod journal;
pub mod paging;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;

pub use paging::{Page, PageRequest, PageStart};

pub use console::{NewRefusal, OperationFilter, Refusal};
pub use health::OperationStats;

pub(crate) use columns::timestamp;

pub use journal::{
    NewOperation, Opened, Operation, OperationState, PlannedStep, ResourceCommit, StepOutcome,
    StepRecord, StepState,
};

/// Open the store named by a URL and bring its schema up to date: `sqlite://PATH` or
/// `sqlite:PATH` (the file, and its directory, created if missing), `sqlite::memory:` (a
/// database private to this store, gone with it), `postgres://...` or `postgresql://...`.
/// Anything else is `Invalid`, and creates nothing.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PostgresStore::connect(url).await?));
    }
    match sqlite::Location::from_url(url)? {
        Some(location) => Ok(Arc::new(sqlite::SqliteStore::open(location).await?)),
        None => Err(StoreError::Invalid(unsupported_url(url))),
    }
}

/// The database file a `sqlite://PATH` or `sqlite:PATH` URL names; `None` for anything else
/// (PostgreSQL, memory, an invalid URL).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    match sqlite::Location::from_url(url) {
        Ok(Some(sqlite::Location::File(path))) => Some(path),
        _ => None,
    }
}

/// What a store's recorded migrations are, measured against this build's (for `tableau-scim
/// check`, which must say before a start whether the server would migrate or refuse).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// This build's migrations the database has not had yet: the server applies them at start.
    pub pending: usize,
    /// Versions applied from another text than this build's: the server refuses to start.
    pub edited: Vec<i64>,
    /// Versions recorded in the database that this build does not know (a newer version
    /// migrated it): the server refuses to start.
    pub unknown: Vec<i64>,
}

impl MigrationState {
    /// `known`: this build's (version, checksum); `applied`: the database's.
    pub(crate) fn compare(
        known: impl Iterator<Item = (i64, Vec<u8>)>,
        applied: Vec<(i64, Vec<u8>)>,
    ) -> Self {
        let known: Vec<(i64, Vec<u8>)> = known.collect();
        let mut state = MigrationState::default();
        for (version, sum) in &known {
            match applied.iter().find(|(v, _)| v == version) {
                None => state.pending += 1,
                Some((_, recorded)) if recorded != sum => state.edited.push(*version),
                Some(_) => {}
            }
        }
        state.unknown = applied
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| !known.iter().any(|(k, _)| k == v))
            .collect();
        state
    }
}

/// What the store at `url` holds of this build's migrations, without changing it: `Ok(None)`
/// when a SQLite file does not exist yet (the server creates it).
pub async fn pending_migrations(url: &str) -> StoreResult<Option<MigrationState>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return postgres::PostgresStore::pending_migrations(url)
            .await
            .map(Some);
    }
    match sqlite::Location::from_url(url)? {
        Some(sqlite::Location::File(path)) if !path.exists() => Ok(None),
        Some(sqlite::Location::File(path)) => sqlite::pending_migrations(&path).map(Some),
        Some(sqlite::Location::Memory(_)) => Ok(Some(MigrationState::default())),
        None => Err(StoreError::Invalid(unsupported_url(url))),
    }
}

/// Why `url` names no store. Only the scheme is repeated, never the rest (which may hold a
/// password); a bare path is repeated, with the URL it probably meant.
fn unsupported_url(url: &str) -> String {
    const FORMS: &str =
        "use sqlite://PATH, sqlite:PATH, sqlite::memory:, postgres://... or postgresql://...";
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            format!("unsupported store URL scheme '{scheme}:': {FORMS}")
        }
        _ => format!(
            "the store URL '{url}' has no scheme ({FORMS}; for a SQLite file: sqlite://{url})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::MigrationState;

    #[test]
    fn migration_state_tells_pending_edited_and_unknown_apart() {
        let known = || vec![(1, vec![1]), (2, vec![2]), (3, vec![3])].into_iter();
        assert_eq!(
            MigrationState::compare(known(), vec![(1, vec![1]), (2, vec![2]), (3, vec![3])]),
            MigrationState::default()
        );
        let state =
            MigrationState::compare(known(), vec![(1, vec![1]), (2, vec![9]), (7, vec![7])]);
        assert_eq!(state.pending, 1);
        assert_eq!(state.edited, vec![2]);
        assert_eq!(state.unknown, vec![7]);
        assert_eq!(MigrationState::compare(known(), Vec::new()).pending, 3);
    }
}
