//! The engine's side of a reconcile repair (`ResourceCommit::Repair`, built by `src/reconcile/`):
//! a repair changes Tableau, never the SCIM document, so its "commit" is the LUID its steps
//! linked or created, and its stale check is the resource's revision.

use crate::model::ResourceKind;
use crate::scim::{ErrorKind, ScimError, ScimResult};
use crate::store::{Store, StoreError, StoreResult};

/// Why a repair computed from an earlier read no longer applies, if it does not: the resource
/// was written (or deleted) since, or — for a Tableau user no resource managed (`revision`
/// `None`, `id` its LUID) — a resource has linked that user since.
pub async fn stale_repair(
    store: &dyn Store,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    revision: Option<i64>,
) -> ScimResult<Option<ScimError>> {
    let Some(revision) = revision else {
        for k in [ResourceKind::User, ResourceKind::Group] {
            if let Some(holder) = store.find_by_luid(tenant, k, id).await? {
                return Ok(Some(ScimError::new(
                    ErrorKind::PreconditionFailed,
                    format!(
                        "the Tableau user {id} is now linked to {} {}; it is no longer unmanaged",
                        k.as_str(),
                        holder.id
                    ),
                )));
            }
        }
        return Ok(None);
    };
    match store.get(tenant, kind, id, false).await? {
        Some(cur) if cur.revision == revision => Ok(None),
        Some(_) => Ok(Some(ScimError::from(StoreError::RevisionMismatch))),
        None => Ok(Some(ScimError::not_found(format!(
            "{} {id} was deleted since the reconcile read it",
            kind.as_str()
        )))),
    }
}

/// Record `luid` as the resource's Tableau counterpart once its repair steps are done (a user
/// added again, a group created again or found by name). Repeatable: a resumed repair sets the
/// same LUID. A resource deleted meanwhile, or an unmanaged user's removal (no resource has
/// its LUID as id), has nothing to record.
pub async fn link(
    store: &dyn Store,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    luid: &str,
) -> StoreResult<()> {
    match store.set_luid(tenant, kind, id, Some(luid)).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}
