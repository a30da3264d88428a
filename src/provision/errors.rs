//! What a Tableau failure means for the IdP: the one table from Tableau error codes to SCIM
//! errors. Transient failures (throttling, 5xx, timeouts) are not in it: they leave the
//! operation in the journal to be finished later, and the IdP is told to retry (503).

use crate::scim::{ErrorKind, ScimError};
use crate::store::StoreError;
use crate::tableau::{TableauCode, TableauError};

/// Seconds the IdP is asked to wait before retrying a request whose operation is unfinished.
pub const RETRY_AFTER_SECS: u64 = 10;

/// The 503 for an operation that did not finish in time (or whose Tableau calls keep failing
/// transiently): it stays in the journal and is finished in the background.
pub fn unfinished(op_id: &str) -> ScimError {
    ScimError::new(
        ErrorKind::Unavailable,
        format!(
            "Tableau did not complete the change in time; operation {op_id} continues in the \
             background. Retry the request to get its outcome."
        ),
    )
    .with_retry_after(RETRY_AFTER_SECS)
}

/// A permanent Tableau error as the SCIM error the IdP sees. The detail always names the
/// Tableau code and message, so the admin reading the IdP's log knows what Tableau said.
pub fn scim_error_for(step: &str, err: &TableauError) -> ScimError {
    let kind = match err.code() {
        Some(TableauCode::InvalidSiteRole) => ErrorKind::InvalidValue,
        Some(TableauCode::LicenceCapacity) => ErrorKind::Conflict,
        Some(TableauCode::UserConflict | TableauCode::GroupNameConflict) => ErrorKind::Uniqueness,
        Some(TableauCode::BadRequest | TableauCode::MalformedPayload) => ErrorKind::InvalidValue,
        Some(TableauCode::Forbidden(_) | TableauCode::LicensingUpdateForbidden) => {
            ErrorKind::Forbidden
        }
        Some(TableauCode::LoginError) => ErrorKind::Unavailable,
        Some(TableauCode::UserNotFound | TableauCode::GroupNotFound) => ErrorKind::Conflict,
        _ => ErrorKind::Unavailable,
    };
    let mut e = ScimError::new(kind, format!("Tableau refused {step}: {err}"));
    if kind == ErrorKind::Unavailable {
        e = e.with_retry_after(RETRY_AFTER_SECS);
    }
    e
}

/// Licence exhaustion that Tableau reported by silently downgrading a new user.
pub fn licence_downgrade(user_name: &str, wanted: &str, got: &str) -> ScimError {
    ScimError::new(
        ErrorKind::Conflict,
        format!(
            "Tableau has no licence left for site role {wanted}: it added {user_name} as {got}. \
             Free a licence or choose another role, then retry."
        ),
    )
}

/// Store failures as SCIM errors: the same table, one place.
impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => ScimError::uniqueness(e.to_string()),
            StoreError::RevisionMismatch => ScimError::new(
                ErrorKind::PreconditionFailed,
                "the resource was modified concurrently; read it again",
            ),
            StoreError::NotFound => ScimError::not_found("resource not found"),
            StoreError::UnknownMember(id) => {
                ScimError::invalid_value(format!("member '{id}' is not a known User or Group"))
            }
            // Details of database failures go to the log, not to the client.
            StoreError::Database(_)
            | StoreError::Sqlite(_)
            | StoreError::Migration(_)
            | StoreError::Unavailable(_)
            | StoreError::Invalid(_)
            | StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "store failure");
                ScimError::new(
                    ErrorKind::Unavailable,
                    "the store is unavailable; retry later",
                )
                .with_retry_after(5)
            }
        }
    }
}
