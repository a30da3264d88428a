//! Readiness (`/readyz`) and the journal's gauges (`/metrics`): is the store answering, does
//! Tableau accept the bridge's credentials, how many operations are in each state.
//!
//! Cheap by construction: the store check is one trivial query with a short timeout; the
//! Tableau check runs at most once per [`TABLEAU_CACHE`] however often it is asked (callers
//! meanwhile get the last answer, or wait for the one in progress), within
//! [`TABLEAU_TIMEOUT`]. Answers name what is wrong in a few words and never carry Tableau's
//! message text, a secret or a name.

use crate::store::Store;
use crate::tableau::{TableauClient, TableauError};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a Tableau check answers for.
pub const TABLEAU_CACHE: Duration = Duration::from_secs(5);
/// The longest a Tableau check may take (its retries included).
pub const TABLEAU_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the store may take to answer the trivial query (or the journal's counts).
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/readyz` answers: `status` is `ready` or `not ready`; each check is `ok` or says
/// what is wrong (`tableau` may also be `not configured`, which is ready: the server then
/// only stores resources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub status: &'static str,
    pub checks: Checks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checks {
    pub store: String,
    pub tableau: String,
}

impl Report {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

pub const OK: &str = "ok";
pub const NOT_CONFIGURED: &str = "not configured";

pub struct Health {
    store: Arc<dyn Store>,
    tableau: Option<TableauClient>,
    /// The last Tableau answer and when it was found.
    last_tableau: std::sync::Mutex<Option<(Instant, String)>>,
    /// Held while a Tableau check runs, so checks never pile up.
    checking: tokio::sync::Mutex<()>,
}

impl Health {
    /// `tableau` shares its session with the engine's client (a clone).
    pub fn new(store: Arc<dyn Store>, tableau: Option<TableauClient>) -> Self {
        Health {
            store,
            tableau,
            last_tableau: std::sync::Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    pub async fn check(&self) -> Report {
        let (store, tableau) = tokio::join!(self.check_store(), self.check_tableau());
        let ready = store == OK && (tableau == OK || tableau == NOT_CONFIGURED);
        Report {
            status: if ready { "ready" } else { "not ready" },
            checks: Checks { store, tableau },
        }
    }

    async fn check_store(&self) -> String {
        match tokio::time::timeout(STORE_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => OK.to_owned(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the store does not answer");
                "not answering (see the log)".to_owned()
            }
            Err(_) => format!("no answer within {} s", STORE_TIMEOUT.as_secs()),
        }
    }

    async fn check_tableau(&self) -> String {
        let Some(client) = &self.tableau else {
            return NOT_CONFIGURED.to_owned();
        };
        if let Some(answer) = self.last_answer(Some(TABLEAU_CACHE)) {
            return answer;
        }
        let _checking = match self.checking.try_lock() {
            Ok(guard) => guard,
            // A check is running: the last answer, however old, rather than a wait (a probe
            // with a short timeout would fail for a slow check); without one, wait for it.
            Err(_) => match self.last_answer(None) {
                Some(answer) => return answer,
                None => self.checking.lock().await,
            },
        };
        // Another request's check may have finished while this one waited.
        if let Some(answer) = self.last_answer(Some(TABLEAU_CACHE)) {
            return answer;
        }
        let answer = match tokio::time::timeout(TABLEAU_TIMEOUT, probe_tableau(client)).await {
            Ok(Ok(())) => OK.to_owned(),
            Ok(Err(e)) => {
                let answer = describe(&e);
                tracing::debug!(error = %e, "readiness: Tableau check failed");
                answer
            }
            Err(_) => format!("no answer within {} s", TABLEAU_TIMEOUT.as_secs()),
        };
        *self
            .last_tableau
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), answer.clone()));
        answer
    }

    /// The last Tableau answer, if younger than `max_age` (any age with `None`).
    fn last_answer(&self, max_age: Option<Duration>) -> Option<String> {
        let last = self
            .last_tableau
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (at, answer) = last.as_ref()?;
        max_age
            .is_none_or(|max| at.elapsed() < max)
            .then(|| answer.clone())
    }

    /// Reads the journal's counts into the `tableau_scim_operations` and
    /// `tableau_scim_oldest_unfinished_operation_age_seconds` gauges (kept as they were if
    /// the store does not answer in time).
    pub async fn refresh_operation_metrics(&self) {
        match tokio::time::timeout(STORE_TIMEOUT, self.store.operation_stats()).await {
            Ok(Ok(stats)) => {
                let age = stats
                    .oldest_running_created
                    .as_deref()
                    .and_then(age_of)
                    .unwrap_or(Duration::ZERO);
                let by_state: Vec<(&'static str, i64)> = stats
                    .by_state
                    .iter()
                    .map(|(s, n)| (s.as_str(), *n))
                    .collect();
                crate::metrics::set_operations(&by_state, age);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count operations"),
            Err(_) => tracing::warn!("metrics: the store did not count operations in time"),
        }
    }
}

/// Does Tableau accept the bridge's credentials now? Signs in unless the client holds a
/// session, then makes one authenticated call (looking up a user name nobody has), which
/// fails if the session is no longer good and cannot be renewed.
///
/// The one place that decides what "Tableau is ready" means: a dedicated sign-in probe of
/// the client can replace the body.
pub async fn probe_tableau(client: &TableauClient) -> Result<(), TableauError> {
    client.sign_in().await?;
    client
        .find_user_by_name("tableau-scim-readiness-probe")
        .await
        .map(drop)
}

/// A few words on a failed Tableau check: the cause and Tableau's code, never its text.
pub fn describe(e: &TableauError) -> String {
    match e {
        TableauError::Auth(message) => match six_digit_code(message) {
            Some(code) => format!("sign-in refused ({code})"),
            None => "sign-in refused".to_owned(),
        },
        TableauError::Api { status, code, .. } => format!("answered HTTP {status} ({code})"),
        TableauError::Transport(_) => "unreachable (no connection)".to_owned(),
        TableauError::Timeout => "no answer in time".to_owned(),
        TableauError::Protocol(_) => "unexpected answer (see the log)".to_owned(),
    }
}

/// The first `(NNNNNN` in a message: the code `TableauError::Auth` carries in its text.
fn six_digit_code(message: &str) -> Option<&str> {
    message.match_indices('(').find_map(|(i, _)| {
        let code = message.get(i + 1..i + 7)?;
        code.bytes().all(|b| b.is_ascii_digit()).then_some(code)
    })
}

/// How long ago an RFC 3339 timestamp was (`None` if it is not one or lies ahead).
fn age_of(timestamp: &str) -> Option<Duration> {
    let at = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Duration::try_from(time::OffsetDateTime::now_utc() - at).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tableau::TableauCode;

    #[test]
    fn failures_are_named_without_tableau_text() {
        let refused = TableauError::Auth(
            "Tableau refused the bridge's credentials (401001) for site 'acme': Signin Error for ada".into(),
        );
        assert_eq!(describe(&refused), "sign-in refused (401001)");
        assert_eq!(
            describe(&TableauError::Auth("no JWT".into())),
            "sign-in refused"
        );
        let api = TableauError::Api {
            status: 503,
            code: TableauCode::parse("503000"),
            summary: "Unavailable".into(),
            detail: "secret detail".into(),
            retry_after: None,
        };
        assert_eq!(describe(&api), "answered HTTP 503 (503000)");
        assert_eq!(
            describe(&TableauError::Transport("refused 10.0.0.1".into())),
            "unreachable (no connection)"
        );
    }

    #[test]
    fn ages_of_timestamps() {
        let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(90);
        let text = past
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let age = age_of(&text).unwrap();
        assert!(age >= Duration::from_secs(89) && age < Duration::from_secs(120));
        assert_eq!(age_of("yesterday"), None);
    }
}
