//! Recording each HTTP exchange for the engine's journal, without threading a recorder through
//! every method: the engine runs a step inside [`record_calls`], and every exchange the client
//! makes within that future (sign-ins and retries included) is sent to its channel. Work the
//! client fans out stays in the caller's task (it uses `buffer_unordered`, not `spawn`), so
//! it is recorded too. Outside `record_calls` nothing is recorded.
//!
//! Records carry no header, and bodies only as `redact::redact_body` leaves them (the
//! sign-in's credentials and the session token replaced): nothing secret reaches the journal.
//! Bodies are only redacted and kept while a recorder is in scope ([`recording`]), so
//! reconcile's paged reads pay nothing for them.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

/// One HTTP exchange with Tableau.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub method: String,
    /// Path and query, e.g. `/api/3.27/sites/{site}/users?filter=name:eq:a`; no host.
    pub path: String,
    /// HTTP status; `None` when no answer came (timeout, lost connection).
    pub status: Option<u16>,
    /// Tableau's error code, for error answers that carried one.
    pub code: Option<String>,
    pub duration: Duration,
    /// The request body, redacted (see `redact`).
    pub request_body: Option<String>,
    /// The answer's body, redacted; `None` when no answer came or it was empty.
    pub response_body: Option<String>,
}

pub type CallRecorder = UnboundedSender<CallRecord>;

tokio::task_local! {
    static RECORDER: CallRecorder;
}

/// Runs `fut`, sending a [`CallRecord`] to `recorder` for every exchange it causes.
pub async fn record_calls<F: Future>(recorder: CallRecorder, fut: F) -> F::Output {
    RECORDER.scope(recorder, fut).await
}

/// Whether exchanges made now are recorded (a step of an operation runs them).
pub(crate) fn recording() -> bool {
    RECORDER.try_with(|_| ()).is_ok()
}

pub(crate) fn emit(record: impl FnOnce() -> CallRecord) {
    // No recorder in scope, or the receiver is gone: nothing to do.
    let _ = RECORDER.try_with(|r| r.send(record()).is_ok());
}
