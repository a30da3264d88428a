//! The SCIM operations, one function each, as the HTTP layer calls them. A write takes the
//! per-resource lock (and the lock of a new unique name), reads the resource, checks the
//! client's `If-Match`, has the planner turn the new state into a planned change, and submits
//! it to the engine; when another writer committed in between (412 from the engine's stale
//! check), it reads again and recomputes, so two PATCHes adding members to one group both take
//! effect. Reads go through `get` and `query`.

use super::engine::{Answer, Engine, unique_attr};
use super::idempotency::RequestMeta;
use super::locks::{LockGuard, ResourceLocks};
use super::planner::{Membership, Planner, lock_key};
use super::query::{self, ListPage, ListRequest};
use crate::model::{Resource, ResourceKind};
use crate::scim::input_rules::check_document;
use crate::scim::limits::WriteLimits;
use crate::scim::patch::apply_patch;
use crate::scim::render::{etag, patchable_document};
use crate::scim::schema::ResourceSchema;
use crate::scim::{ErrorKind, ScimError, ScimResult};
use crate::store::{Store, StoreError};
use serde_json::{Map, Value};
use std::sync::Arc;

/// How often a write is retried when another writer changed the resource in between.
const MAX_WRITE_ATTEMPTS: usize = 8;

/// The client's `If-Match` header, if it sent one: the write applies only to the version it
/// names (`*` matches any; weak and strong forms of our ETag are both accepted).
#[derive(Debug, Clone, Default)]
pub struct Precondition {
    pub if_match: Option<String>,
}

impl Precondition {
    fn check(&self, current: &Resource) -> ScimResult<()> {
        let Some(v) = &self.if_match else {
            return Ok(());
        };
        let tag = etag(current.revision);
        let strong = tag.trim_start_matches("W/");
        let ok = v
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == tag || t.trim_start_matches("W/") == strong);
        if ok {
            Ok(())
        } else {
            Err(ScimError::new(
                ErrorKind::PreconditionFailed,
                format!("If-Match {v} does not match the current version {tag}"),
            ))
        }
    }
}

pub struct Service {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    planner: Planner,
    /// Serialises writers per resource (and per new unique name) inside this process.
    locks: Arc<ResourceLocks>,
    /// Operations per PATCH, values per multi-valued attribute.
    limits: WriteLimits,
}

impl Service {
    pub fn new(engine: Arc<Engine>) -> Self {
        let locks = Arc::new(ResourceLocks::default());
        let store = engine.store().clone();
        let planner = Planner::new(
            store.clone(),
            engine.policy.clone(),
            engine.tableau_enabled(),
            locks.clone(),
        );
        Self {
            store,
            engine,
            planner,
            locks,
            limits: WriteLimits::default(),
        }
    }

    /// The engine behind the service (the console's actions and reconcile use it).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The same service with these limits on writes (`[limits]` in the settings).
    pub fn with_limits(mut self, limits: WriteLimits) -> Self {
        self.limits = limits;
        self
    }

    /// One resource; `with_relations` loads its members (groups) or groups (users).
    pub async fn get(
        &self,
        tenant: &str,
        kind: ResourceKind,
        id: &str,
        with_relations: bool,
    ) -> ScimResult<Resource> {
        self.store
            .get(tenant, kind, id, with_relations)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("{} {id} not found", kind.as_str())))
    }

    /// `GET /Users`, `GET /Groups`, `.search`: one page of the resources of a kind that match
    /// the request's filter, with the total; bounded work whatever the number stored (see
    /// `query`).
    pub async fn query(&self, request: &ListRequest) -> ScimResult<ListPage> {
        query::run(&self.store, request).await
    }

    /// `POST /Users`, `POST /Groups`. Two creates of one name wait for each other here, so the
    /// second finds the name taken before it reaches Tableau.
    pub async fn create(
        &self,
        meta: &RequestMeta,
        kind: ResourceKind,
        doc: Map<String, Value>,
    ) -> ScimResult<Resource> {
        // The limits and the input rules, before any lock, journal entry or Tableau call.
        self.limits.check_document(&doc)?;
        check_document(kind, &doc, None)?;
        let _name = match name_key(kind, &doc) {
            None => None,
            Some(key) => match self.locks.try_lock(&key) {
                Some(guard) => Some(guard),
                None => {
                    // Another create of this name is under way: if it is this very request,
                    // re-sent by the IdP, answer with its outcome instead of a 409 once it
                    // has finished.
                    if let Some(done) = self.engine.answer_of_same_request(meta).await? {
                        return answered(done, kind);
                    }
                    Some(self.locks.lock(&key).await)
                }
            },
        };
        if let Some(done) = self.engine.replay(meta).await? {
            return answered(done, kind);
        }
        // Another operation may claim the name in the journal (one left running by an earlier
        // request, or another server's): the engine waits for it to end, then the change is
        // computed again and meets the name if that operation took it.
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let change = self.planner.create(&meta.tenant, kind, doc.clone()).await?;
            match self.engine.submit(meta, change).await {
                Err(e) if e.kind == ErrorKind::PreconditionFailed => continue,
                done => return answered(done?, kind),
            }
        }
        Err(ScimError::new(
            ErrorKind::Unavailable,
            format!(
                "another operation on the name in this {} is still in progress; retry later",
                kind.as_str()
            ),
        )
        .with_retry_after(5))
    }

    /// `PUT /Users/{id}`, `PUT /Groups/{id}`.
    pub async fn replace(
        &self,
        meta: &RequestMeta,
        kind: ResourceKind,
        id: &str,
        new_doc: Map<String, Value>,
        membership: Membership,
        precondition: &Precondition,
    ) -> ScimResult<Resource> {
        self.limits.check_document(&new_doc)?;
        self.write(meta, kind, id, membership, precondition, async |_| {
            Ok(Some(new_doc.clone()))
        })
        .await
    }

    /// `PATCH /Users/{id}`, `PATCH /Groups/{id}`: RFC 7644 §3.5.2 operations applied
    /// atomically to the current state. At most `limits.max_patch_operations` operations, and
    /// the result within `limits.max_multi_values`; the operations are applied on the blocking
    /// pool, so that a large PATCH never holds up an HTTP worker.
    pub async fn patch(
        &self,
        meta: &RequestMeta,
        schema: &Arc<ResourceSchema>,
        id: &str,
        body: &Value,
        precondition: &Precondition,
    ) -> ScimResult<Resource> {
        self.limits.check_patch(body)?;
        let body = Arc::new(body.clone());
        let limits = self.limits;
        self.write(
            meta,
            schema.kind,
            id,
            Membership::Complete,
            precondition,
            async |old| {
                let current = patchable_document(old);
                let (body, schema) = (body.clone(), schema.clone());
                let applied = tokio::task::spawn_blocking(move || {
                    let new_doc = apply_patch(&current, &body, &schema)?;
                    limits.check_document(&new_doc)?;
                    // An identical repeated PATCH changes nothing and writes nothing.
                    Ok((new_doc != current).then_some(new_doc))
                })
                .await;
                applied.map_err(|e| {
                    ScimError::internal(format!("applying the PATCH did not finish: {e}"))
                })?
            },
        )
        .await
    }

    /// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
    pub async fn delete(
        &self,
        meta: &RequestMeta,
        kind: ResourceKind,
        id: &str,
        precondition: &Precondition,
    ) -> ScimResult<()> {
        let _writer = self.locks.lock(&lock_key(kind, id)).await;
        // A DELETE re-sent with the `Idempotency-Key` of one that succeeded gets its 204 again.
        if self.engine.replay(meta).await?.is_some() {
            return Ok(());
        }
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.get(&meta.tenant, kind, id, true).await?;
            precondition.check(&current)?;
            let change = self.planner.delete(&meta.tenant, &current).await?;
            match self.engine.submit(meta, change).await {
                Err(e) if e.kind == ErrorKind::PreconditionFailed => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(()),
            }
        }
        Err(ScimError::from(StoreError::RevisionMismatch).with_retry_after(1))
    }

    /// Read, compute, commit; repeated when a concurrent writer got in between.
    async fn write<F>(
        &self,
        meta: &RequestMeta,
        kind: ResourceKind,
        id: &str,
        membership: Membership,
        precondition: &Precondition,
        compute: F,
    ) -> ScimResult<Resource>
    where
        F: AsyncFn(&Resource) -> ScimResult<Option<Map<String, Value>>>,
    {
        let _writer = self.locks.lock(&lock_key(kind, id)).await;
        if let Some(done) = self.engine.replay(meta).await? {
            return answered(done, kind);
        }
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let old = self.get(&meta.tenant, kind, id, true).await?;
            precondition.check(&old)?;
            let Some(new_doc) = compute(&old).await? else {
                return Ok(old);
            };
            // The input rules on the new state (a PUT's body, a PATCH's result), before any
            // journal entry or Tableau call; attributes left as stored are not checked again.
            check_document(kind, &new_doc, Some(&old.doc))?;
            // A rename waits for any create or rename onto the same name.
            let attr = unique_attr(kind);
            let _name = if old.doc.get(attr) != new_doc.get(attr) {
                self.lock_name(kind, &new_doc).await
            } else {
                None
            };
            let Some(change) = self
                .planner
                .update(&meta.tenant, &old, new_doc, membership)
                .await?
            else {
                return Ok(old);
            };
            match self.engine.submit(meta, change).await {
                Err(e) if e.kind == ErrorKind::PreconditionFailed => continue,
                Err(e) => return Err(e),
                Ok(done) => return answered(done, kind),
            }
        }
        Err(ScimError::from(StoreError::RevisionMismatch).with_retry_after(1))
    }

    /// The lock of the unique name (`userName`, group `displayName`) that `doc` claims,
    /// case-insensitively, as the store compares names.
    async fn lock_name(&self, kind: ResourceKind, doc: &Map<String, Value>) -> Option<LockGuard> {
        Some(self.locks.lock(&name_key(kind, doc)?).await)
    }
}

/// The lock key of the unique name `doc` claims, if it names one.
fn name_key(kind: ResourceKind, doc: &Map<String, Value>) -> Option<String> {
    let name = super::engine::unique_name(kind, doc)?;
    Some(format!("{}-name/{name}", kind.as_str()))
}

/// The resource a finished operation answers with (a replayed create of a since-deleted
/// resource has none).
fn answered(answer: Answer, kind: ResourceKind) -> ScimResult<Resource> {
    answer
        .resource
        .ok_or_else(|| ScimError::not_found(format!("the {} no longer exists", kind.as_str())))
}
