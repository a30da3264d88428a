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

/// The 503 for an operation left running after a transient failure whose cause is known
/// (`cause` from [`transient_cause`]).
pub fn unfinished_because(op_id: &str, cause: &str) -> ScimError {
    ScimError::new(
        ErrorKind::Unavailable,
        format!(
            "Tableau did not complete the change: {cause}. Operation {op_id} continues in the \
             background; retry the request to get its outcome."
        ),
    )
    .with_retry_after(RETRY_AFTER_SECS)
}

/// What a transient failure was, in words an admin can act on: throttling, Tableau's own
/// errors, a refused connection, DNS, TLS, a timeout. Each cause reads differently.
pub fn transient_cause(err: &TableauError) -> String {
    match err {
        TableauError::Api { status: 429, .. } => format!(
            "Tableau kept throttling the bridge (429) after its retries (tableau.max_retries); \
             lower tableau.requests_per_second or tableau.max_concurrency ({err})"
        ),
        TableauError::Api { status, .. } if *status >= 500 => format!(
            "Tableau kept failing with HTTP {status} after the bridge's retries \
             (tableau.max_retries) ({err})"
        ),
        TableauError::Timeout => "Tableau did not answer within tableau.request_timeout".into(),
        TableauError::Transport(_) => err.to_string(),
        _ => err.to_string(),
    }
}

/// Whether a Tableau failure is a fault of the bridge's configuration (credentials, site, URL,
/// API version) rather than of the change: the change waits, unfailed, until it is fixed.
pub fn is_configuration_fault(err: &TableauError) -> bool {
    match err {
        TableauError::Auth(_) | TableauError::Protocol(_) => true,
        TableauError::Api { code, .. } => matches!(
            code,
            TableauCode::LoginError
                | TableauCode::MissingCredentials
                | TableauCode::InvalidCredentials
                | TableauCode::SiteNotFound
                | TableauCode::ResourceNotFound
        ),
        TableauError::Transport(_) | TableauError::Timeout => false,
    }
}

/// The 503 a configuration fault answers: the cause and the setting to fix; the operation
/// stays running and goes through once Tableau accepts the bridge again.
pub fn configuration_fault(err: &TableauError) -> ScimError {
    let fix = match err {
        TableauError::Auth(_)
        | TableauError::Api {
            code:
                TableauCode::LoginError
                | TableauCode::MissingCredentials
                | TableauCode::InvalidCredentials,
            ..
        } => "check tableau.auth (the PAT name and secret, or the connected app) and tableau.site",
        TableauError::Api {
            code: TableauCode::SiteNotFound,
            ..
        } => "check tableau.site (the site's content URL)",
        TableauError::Api {
            code: TableauCode::ResourceNotFound,
            ..
        } => "check tableau.url and tableau.api_version",
        _ => "check tableau.url (the server's address, https://…, without /api)",
    };
    ScimError::new(
        ErrorKind::Unavailable,
        format!(
            "{err}: {fix}. The change waits and goes through once Tableau accepts the bridge \
             again."
        ),
    )
    .with_retry_after(CONFIGURATION_RETRY_AFTER_SECS)
}

/// Seconds the IdP is asked to wait while the bridge's Tableau configuration is at fault.
pub const CONFIGURATION_RETRY_AFTER_SECS: u64 = 60;

/// Whether a SCIM error is [`configuration_fault`]'s (an operation that waits, unfailed).
pub fn is_configuration_error(e: &ScimError) -> bool {
    e.kind == ErrorKind::Unavailable && e.retry_after == Some(CONFIGURATION_RETRY_AFTER_SECS)
}

/// A permanent Tableau error as the SCIM error the IdP sees. The detail always names the
/// Tableau code and message, so the admin reading the IdP's log knows what Tableau said. Every
/// code is typed: the refusals are 400, 403 or 409 and end the operation; only throttling and
/// Tableau's own failures are 503 (they are transient and never reach this table), and the
/// configuration faults ([`is_configuration_fault`]) are answered by [`configuration_fault`].
pub fn scim_error_for(step: &str, err: &TableauError) -> ScimError {
    let kind = match err.code() {
        Some(code) => kind_of(code),
        None => ErrorKind::Unavailable,
    };
    let mut e = ScimError::new(kind, format!("Tableau refused {step}: {err}"));
    if kind == ErrorKind::Unavailable {
        e = e.with_retry_after(RETRY_AFTER_SECS);
    }
    e
}

/// The SCIM error kind of each Tableau code.
fn kind_of(code: &TableauCode) -> ErrorKind {
    use TableauCode as C;
    match code {
        C::InvalidSiteRole | C::BadRequest | C::MalformedPayload => ErrorKind::InvalidValue,
        // 400032: e.g. a member of the built-in "All Users" group cannot be removed.
        C::DeletionFailed => ErrorKind::Conflict,
        // 400012: a group's minimum site role holds the user's role up (see `demotion`).
        C::LicenceCapacity
        | C::UserUpdateProblem
        | C::UserOwnsContent
        | C::GuestUserConflict
        | C::AlreadyGroupMember
        | C::UserNotFound
        | C::GroupNotFound => ErrorKind::Conflict,
        C::UserConflict | C::GroupNameConflict => ErrorKind::Uniqueness,
        C::Forbidden(_) | C::LicensingUpdateForbidden => ErrorKind::Forbidden,
        // The bridge's own paging or method is wrong: a bug, not the IdP's fault.
        C::InvalidPageNumber | C::InvalidPageSize | C::PageSizeLimitExceeded | C::InvalidMethod => {
            ErrorKind::Internal
        }
        C::LoginError
        | C::MissingCredentials
        | C::InvalidCredentials
        | C::SiteNotFound
        | C::ResourceNotFound
        | C::TooManyRequests
        | C::ServerError(_) => ErrorKind::Unavailable,
        C::Other(code) => match code.get(..3) {
            Some("400") => ErrorKind::InvalidValue,
            Some("403") => ErrorKind::Forbidden,
            Some(s) if s.starts_with('4') => ErrorKind::Conflict,
            _ => ErrorKind::Unavailable,
        },
    }
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

/// Whether the store refused an operation's commit for good (a name or LUID taken meanwhile, a
/// member gone, a concurrent write, the value itself): the operation fails, where any other
/// store error (unreachable, busy) leaves it running to be resumed.
pub(crate) fn refuses_commit_for_good(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Conflict { .. }
            | StoreError::UnknownMember(_)
            | StoreError::RevisionMismatch
            | StoreError::DataRefused(_)
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
            // The data itself was refused: the request's fault, and the database's message
            // names the limit (never the value).
            StoreError::DataRefused(_) => ScimError::invalid_value(format!(
                "{e}; change the value (see the input rules in docs/scim.md)"
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> TableauError {
        TableauError::Api {
            status: code[..3].parse().unwrap_or(500),
            code: TableauCode::parse(code),
            summary: "s".into(),
            detail: "d".into(),
            retry_after: None,
        }
    }

    #[test]
    fn every_permanent_code_is_a_client_error_with_the_code_in_detail() {
        for (code, status) in [
            ("400000", 400),
            ("400003", 400),
            ("400013", 400),
            ("400032", 409),
            ("403009", 403),
            ("403004", 403),
            ("404002", 409),
            ("404012", 409),
            ("409000", 409),
            ("409003", 409),
            ("409005", 409),
            ("409009", 409),
            ("409011", 409),
            ("409014", 409),
            ("400099", 400),
            ("418000", 409),
        ] {
            let e = api(code);
            assert!(!e.is_transient() && !is_configuration_fault(&e), "{code}");
            let scim = scim_error_for("Step", &e);
            assert_eq!(scim.status(), status, "{code}");
            assert!(scim.detail.contains(code), "{code}: {}", scim.detail);
            assert!(scim.retry_after.is_none(), "{code}");
        }
    }

    #[test]
    fn configuration_faults_name_the_setting_and_wait() {
        for code in ["401001", "401002", "404000", "404003"] {
            assert!(is_configuration_fault(&api(code)), "{code}");
        }
        let e = configuration_fault(&TableauError::Auth(
            "Tableau refused the bridge's credentials (401001) for site 'acme': bad".into(),
        ));
        assert_eq!(e.status(), 503);
        assert!(e.detail.contains("(401001)") && e.detail.contains("tableau.auth"));
        assert!(e.retry_after.is_some());
    }

    #[test]
    fn transient_causes_read_differently() {
        let throttled = transient_cause(&api("429000"));
        let failing = transient_cause(&api("503000"));
        let slow = transient_cause(&TableauError::Timeout);
        assert!(throttled.contains("throttling"));
        assert!(failing.contains("HTTP 503"));
        assert!(slow.contains("request_timeout"));
    }

    #[test]
    fn data_refused_by_the_store_is_invalid_value() {
        let e = ScimError::from(StoreError::DataRefused(
            "invalid byte sequence for encoding \"UTF8\": 0x00 (SQLSTATE 22021)".into(),
        ));
        assert_eq!((e.status(), e.scim_type()), (400, Some("invalidValue")));
        let down = ScimError::from(StoreError::Unavailable("writer stopped".into()));
        assert_eq!(down.status(), 503);
    }
}
