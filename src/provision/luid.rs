//! One Tableau LUID belongs to at most one resource. The store's unique index on the LUID
//! decides; this names the resource already holding a LUID, checked by the step runner before it
//! links a Tableau user or group found by name, and used for the `409` when the index refuses
//! a write.

use crate::model::ResourceKind;
use crate::scim::ScimError;
use crate::store::{Store, StoreResult};

/// The `409 uniqueness` for linking `luid` to `own_id` while `other_id` (a `kind`) holds it.
pub fn held_by_other(kind: ResourceKind, luid: &str, own_id: &str, other_id: &str) -> ScimError {
    let what = match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    };
    ScimError::uniqueness(format!(
        "the Tableau {what} {luid} is already linked to {} {other_id}, so it cannot also be \
         linked to {own_id}; Tableau treats both names as the same. Delete or rename one of \
         the two in the identity provider",
        kind.as_str()
    ))
}

/// The error of linking `luid` to the `kind` resource `own_id`, if another resource holds it.
pub async fn check_unclaimed(
    store: &dyn Store,
    tenant: &str,
    kind: ResourceKind,
    own_id: &str,
    luid: &str,
) -> StoreResult<Option<ScimError>> {
    for k in [kind, other(kind)] {
        if let Some(holder) = store.find_by_luid(tenant, k, luid).await?
            && holder.id != own_id
        {
            return Ok(Some(held_by_other(k, luid, own_id, &holder.id)));
        }
    }
    Ok(None)
}

fn other(kind: ResourceKind) -> ResourceKind {
    match kind {
        ResourceKind::User => ResourceKind::Group,
        ResourceKind::Group => ResourceKind::User,
    }
}
