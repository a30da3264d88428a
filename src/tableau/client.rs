//! The client itself: construction, API version discovery, sign-in/out, and the one request
//! path every method goes through (limits → session → exchange → retry / re-sign-in).
//!
//! Every call runs in a `tableau_call` span (method, URL path; then status, Tableau error code
//! and duration), with its retries and re-sign-ins as events inside it, and ends with one debug
//! line. No query string (a filter names a user), header, body or token is ever logged.

use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::auth::sign_in_body;
use super::calls::{CallRecord, emit};
use super::errors::{TableauCode, TableauError};
use super::limits::Limits;
use super::retry::{backoff, parse_retry_after};
use super::session::{Session, SessionCell, SignedIn};
use super::settings::{TableauAuth, TableauSettings};
use super::wire::{ErrorResponse, SignInResponse};

/// `serverInfo` exists from API 2.4 and answers under any version the server knows, so
/// discovery asks with the oldest one (reference §1.6).
pub(super) const DISCOVERY_VERSION: &str = "2.4";
/// A failing token gets replaced at most this often per call: once for our own stale token,
/// once more if another client's PAT sign-in raced us.
const MAX_REAUTH_PER_CALL: u32 = 2;
const JSON: &str = "application/json";

/// A Tableau REST API client for one site. Cheap to clone: clones share the session, the
/// limits and the connection pool, so one client per site should exist per process.
#[derive(Clone)]
pub struct TableauClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: TableauSettings,
    /// `settings.url` without a trailing `/`.
    base: String,
    version: OnceCell<String>,
    bulk_min_version: (u32, u32),
    limits: Limits,
    session: SessionCell,
    /// The credentials signed in with: those of `settings` until `set_auth` replaces them.
    auth: std::sync::RwLock<TableauAuth>,
    /// How the last sign-in went, and when (for the once-a-minute log).
    sign_in_state: std::sync::Mutex<SignInState>,
}

/// The outcome of the latest sign-in attempt.
#[derive(Default)]
struct SignInState {
    /// When a refusal was last logged (at most once a minute).
    logged: Option<Instant>,
    /// Whether the last sign-in was refused (its end is logged once).
    failing: bool,
}

/// A refused sign-in is logged at most this often, however many requests meet it.
const REFUSAL_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for TableauClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableauClient")
            .field("settings", &self.inner.settings)
            .field("session", &self.inner.session.current())
            .finish()
    }
}

impl TableauClient {
    pub fn new(settings: TableauSettings) -> Result<Self, TableauError> {
        let base = settings.url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base)
            .map_err(|e| TableauError::Protocol(format!("invalid Tableau URL '{base}': {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TableauError::Protocol(format!(
                "the Tableau URL must be http:// or https://, not '{base}'"
            )));
        }
        let bulk_min_version = parse_version(&settings.bulk_min_version)?;
        if let Some(v) = &settings.api_version {
            parse_version(v)?;
        }
        // reqwest is built without a bundled crypto provider so that rustls uses `ring`
        // (aws-lc-rs compiles C for minutes); install it unless the process already chose one.
        crate::init_crypto();
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(
                settings
                    .request_timeout
                    .min(std::time::Duration::from_secs(10)),
            )
            .pool_max_idle_per_host(settings.max_concurrency.max(1))
            // Tableau Cloud may 301 a sign-in to the pod; following it would turn the POST
            // into a GET. Surface it instead (configure the pod URL).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TableauError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let limits = Limits::new(settings.max_concurrency, settings.requests_per_second);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                version: OnceCell::new(),
                bulk_min_version,
                limits,
                session: SessionCell::default(),
                auth: std::sync::RwLock::new(settings.auth.clone()),
                sign_in_state: std::sync::Mutex::new(SignInState::default()),
                settings,
            }),
        })
    }

    pub fn settings(&self) -> &TableauSettings {
        &self.inner.settings
    }

    /// The configured API version, else the server's `restApiVersion` (asked once).
    pub async fn api_version(&self) -> Result<String, TableauError> {
        let inner = &self.inner;
        if let Some(v) = &inner.settings.api_version {
            return Ok(v.clone());
        }
        inner
            .version
            .get_or_try_init(|| async {
                let version = self.server_info().await?.rest_api_version;
                parse_version(&version)?;
                Ok(version)
            })
            .await
            .cloned()
    }

    /// Whether this server has the 3.21+ bulk membership calls.
    pub async fn supports_bulk_membership(&self) -> Result<bool, TableauError> {
        let version = parse_version(&self.api_version().await?)?;
        Ok(version >= self.inner.bulk_min_version)
    }

    /// Successful sign-ins of this client so far (one, plus one per replaced session).
    pub fn sign_in_count(&self) -> u64 {
        self.inner.session.sign_ins()
    }

    /// Signs in now (otherwise the first call does): checks the credentials early.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(&self) -> Result<(), TableauError> {
        let version = self.api_version().await?;
        self.inner
            .session
            .get(|| self.fresh_sign_in(&version))
            .await
            .map(drop)
    }

    /// Replace the credentials (e.g. on SIGHUP with a new secret): the current session is
    /// dropped, so the next call signs in with the new ones, and operations waiting on a refused
    /// sign-in go through on their next attempt. The same credentials again change nothing
    /// (the session stays); the answer says whether they changed.
    pub fn set_auth(&self, auth: TableauAuth) -> bool {
        let mut current = self.inner.auth.write().unwrap_or_else(|p| p.into_inner());
        if *current == auth {
            return false;
        }
        *current = auth;
        drop(current);
        self.inner.session.clear();
        true
    }

    /// Record a sign-in's outcome; a refusal is logged at most once a minute.
    fn note_sign_in(&self, result: &Result<SignedIn, TableauError>) {
        let mut state = self
            .inner
            .sign_in_state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => {
                if std::mem::take(&mut state.failing) {
                    tracing::info!(site = %self.inner.settings.site, "Tableau accepts the bridge's credentials again");
                }
            }
            Err(e @ TableauError::Auth(_)) => {
                state.failing = true;
                if state
                    .logged
                    .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_INTERVAL)
                {
                    state.logged = Some(Instant::now());
                    tracing::error!(error = %e, "Tableau refuses the bridge's credentials: check tableau.auth and tableau.site; changes wait until sign-in works (logged at most once a minute)");
                }
            }
            Err(_) => {}
        }
    }

    /// Ends the session (a PAT's only session, so another process may use the PAT).
    /// A 401 means it had already ended, which is fine (reference §1.4).
    #[tracing::instrument(skip_all)]
    pub async fn sign_out(&self) -> Result<(), TableauError> {
        let Some(session) = self.inner.session.clear() else {
            return Ok(());
        };
        let version = self.api_version().await?;
        let url = format!("{}/api/{version}/auth/signout", self.inner.base);
        let call = self.exchange(&Method::POST, &url, &[], None, Some(&session));
        match traced(call_span(&Method::POST, Some(&url)), call).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(401) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Signs in (the credentials go in the body, which is never logged, and the token comes
    /// back in the answer, which is not logged either).
    async fn fresh_sign_in(&self, version: &str) -> Result<SignedIn, TableauError> {
        let result = self.sign_in_once(version).await;
        self.note_sign_in(&result);
        result
    }

    async fn sign_in_once(&self, version: &str) -> Result<SignedIn, TableauError> {
        let inner = &self.inner;
        let url = format!("{}/api/{version}/auth/signin", inner.base);
        let attempts = async {
            let mut retries = 0;
            loop {
                // Built per attempt: a connected-app JWT gets a fresh `jti`, so retrying a
                // sign-in whose answer was lost is not refused as a replay.
                let auth = inner.auth.read().unwrap_or_else(|p| p.into_inner()).clone();
                let body = sign_in_body(&auth, &inner.settings.site)?;
                match self
                    .exchange(&Method::POST, &url, &[], Some(body), None)
                    .await
                {
                    Ok(answer) => return Ok(answer),
                    Err(
                        e @ TableauError::Api {
                            status: 401 | 403, ..
                        },
                    ) => return Err(e),
                    Err(e) => self.wait_or_fail(e, &mut retries).await?,
                }
            }
        };
        let answer = match traced(call_span(&Method::POST, Some(&url)), attempts).await {
            Ok(answer) => answer,
            Err(TableauError::Api {
                status: 401 | 403,
                code,
                detail,
                ..
            }) => {
                return Err(TableauError::Auth(format!(
                    "Tableau refused the bridge's credentials ({code}) for site '{}': {detail}",
                    inner.settings.site
                )));
            }
            Err(e) => return Err(e),
        };
        let signed: SignInResponse = parse_json(&answer, "sign-in")?;
        tracing::debug!(site = %inner.settings.site, "signed in to Tableau");
        Ok(SignedIn {
            token: signed.credentials.token,
            site_id: signed.credentials.site.id,
            user_id: signed.credentials.user.map(|u| u.id),
        })
    }

    /// A site-scoped call (`path` after `/api/{v}/sites/{site-luid}/`), with the session,
    /// limits, retries and re-sign-in. Returns the answer body.
    pub(crate) async fn site_call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, TableauError> {
        // The path is known once the site's LUID is: after a first sign-in, which (like API
        // version discovery) shows as a call of its own inside this one.
        let span = call_span(&method, None);
        let attempts = async {
            let version = self.api_version().await?;
            let mut session = self
                .inner
                .session
                .get(|| self.fresh_sign_in(&version))
                .await?;
            // An empty `path` is the site itself (Query Site), without a trailing `/`.
            let site_url = |site_id: &str| {
                let url = format!("{}/api/{version}/sites/{site_id}/{path}", self.inner.base);
                url.trim_end_matches('/').to_owned()
            };
            if let Some(path) = url_path(&site_url(&session.site_id)) {
                Span::current().record("path", tracing::field::display(&path));
            }
            let (mut retries, mut reauths) = (0, 0);
            loop {
                let url = site_url(&session.site_id);
                match self
                    .exchange(&method, &url, query, body.clone(), Some(&session))
                    .await
                {
                    Ok(answer) => return Ok(answer),
                    Err(e) if e.is_session_expired() && reauths < MAX_REAUTH_PER_CALL => {
                        reauths += 1;
                        crate::metrics::tableau_retry(crate::metrics::RetryReason::SessionExpired);
                        tracing::debug!(code = ?e.code(), "Tableau session expired; signing in again");
                        let stale = Some(session.generation);
                        session = self
                            .inner
                            .session
                            .replace(stale, || self.fresh_sign_in(&version))
                            .await?;
                    }
                    Err(e) => self.wait_or_fail(e, &mut retries).await?,
                }
            }
        };
        traced(span, attempts).await
    }

    /// `site_call` and parse the JSON answer.
    pub(crate) async fn site_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<T, TableauError> {
        let answer = self.site_call(method, path, query, body).await?;
        parse_json(&answer, path)
    }

    /// `settings.url` without a trailing `/`.
    pub(super) fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The signed-in user's LUID, if signed in and Tableau said.
    pub(super) fn session_user_id(&self) -> Option<String> {
        self.inner.session.current().and_then(|s| s.user_id.clone())
    }

    /// A GET that needs no session (`serverInfo`), with retries.
    pub(super) async fn get_unauthenticated(&self, url: &str) -> Result<Vec<u8>, TableauError> {
        let attempts = async {
            let mut retries = 0;
            loop {
                match self.exchange(&Method::GET, url, &[], None, None).await {
                    Ok(answer) => return Ok(answer),
                    Err(e) => self.wait_or_fail(e, &mut retries).await?,
                }
            }
        };
        traced(call_span(&Method::GET, Some(url)), attempts).await
    }

    /// Sleeps before the next retry of a transient failure, or gives the error back.
    async fn wait_or_fail(
        &self,
        error: TableauError,
        retries: &mut u32,
    ) -> Result<(), TableauError> {
        if !error.is_transient() || *retries >= self.inner.settings.max_retries {
            return Err(error);
        }
        let delay = backoff(*retries, error.retry_after());
        *retries += 1;
        crate::metrics::tableau_retry(retry_reason(&error));
        tracing::debug!(error = %error, retry = *retries, ?delay, "retrying a Tableau call");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// One HTTP exchange under the limits: the status and body of a 2xx answer; other answers
    /// become `TableauError::Api`.
    async fn exchange(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        session: Option<&Session>,
    ) -> Result<(u16, Vec<u8>), TableauError> {
        let mut url = url::Url::parse(url)
            .map_err(|e| TableauError::Protocol(format!("invalid request URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .header(header::ACCEPT, JSON);
        if let Some(session) = session {
            let mut token = header::HeaderValue::from_str(&session.token).map_err(|_| {
                TableauError::Protocol("Tableau sent a session token unfit for a header".into())
            })?;
            // Keeps the token out of reqwest's and hyper's debug output.
            token.set_sensitive(true);
            request = request.header("X-Tableau-Auth", token);
        }
        let recording = super::calls::recording();
        let request_body = match (&body, recording) {
            (Some(b), true) => crate::redact::redact_body(b),
            _ => None,
        };
        if let Some(body) = body {
            request = request.header(header::CONTENT_TYPE, JSON).body(body);
        }
        let request = request
            .build()
            .map_err(|e| TableauError::from_reqwest(&e))?;
        let call = crate::metrics::tableau_call_name(method.as_str(), request.url().path());
        let path = match request.url().query() {
            Some(q) => format!("{}?{q}", request.url().path()),
            None => request.url().path().to_owned(),
        };
        let _permit = self.inner.limits.acquire().await?;
        let started = Instant::now();
        let mut answer = None;
        let result = self.send(request, recording.then_some(&mut answer)).await;
        let status = match &result {
            Ok((status, _)) => Some(*status),
            Err(e) => e.status(),
        };
        let code = result.as_ref().err().and_then(TableauError::code);
        let duration = started.elapsed();
        crate::metrics::tableau_call(&call, status, code.map(TableauCode::as_str), duration);
        emit(|| CallRecord {
            method: method.to_string(),
            path,
            status,
            code: code.map(|c| c.as_str().to_owned()),
            duration,
            request_body,
            response_body: answer,
        });
        result
    }

    /// Sends one request; `answer` (when the exchange is recorded) receives the answer's body,
    /// redacted, whatever its status.
    async fn send(
        &self,
        request: reqwest::Request,
        answer: Option<&mut Option<String>>,
    ) -> Result<(u16, Vec<u8>), TableauError> {
        let response = self
            .inner
            .http
            .execute(request)
            .await
            .map_err(|e| TableauError::from_reqwest(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| TableauError::from_reqwest(&e))?;
        if let Some(answer) = answer {
            *answer = crate::redact::redact_body(&body);
        }
        if status.is_success() {
            return Ok((status.as_u16(), body.to_vec()));
        }
        if status.is_redirection() {
            return Err(TableauError::Protocol(format!(
                "Tableau redirected ({status}) to {}; configure that server URL (on Tableau \
                 Cloud, the pod's address)",
                location.as_deref().unwrap_or("an unknown location")
            )));
        }
        Err(api_error(status, &body, retry_after))
    }
}

/// Why a transient error is retried, for the retry counter.
fn retry_reason(error: &TableauError) -> crate::metrics::RetryReason {
    use crate::metrics::RetryReason;
    match error {
        TableauError::Api { status: 429, .. } => RetryReason::Throttled,
        TableauError::Timeout => RetryReason::Timeout,
        TableauError::Transport(_) => RetryReason::Connection,
        _ => RetryReason::ServerError,
    }
}

/// The `tableau_call` span of a call to `url`, which carries the URL's path only: no host and
/// no query (without `url`, the caller records the path later). See [`traced`].
fn call_span(method: &Method, url: Option<&str>) -> Span {
    let span = tracing::info_span!(
        "tableau_call",
        method = %method,
        path = Empty,
        status = Empty,
        code = Empty,
        duration_ms = Empty,
    );
    if let Some(path) = url.and_then(url_path) {
        span.record("path", tracing::field::display(&path));
    }
    span
}

/// The path of `url` (`None` if it is no URL; the exchange then fails and says why).
fn url_path(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|u| u.path().to_owned())
}

/// Runs one call (all its attempts) inside `span`, then records its last status, Tableau error
/// code and duration on the span and logs it at debug. The error itself is the caller's to
/// report: its detail is Tableau's text.
async fn traced<T>(
    span: Span,
    call: impl Future<Output = Result<(u16, T), TableauError>>,
) -> Result<T, TableauError> {
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let (status, code) = match &result {
        Ok((status, _)) => (Some(*status), None),
        Err(e) => (e.status(), e.code()),
    };
    if let Some(status) = status {
        span.record("status", status);
    }
    if let Some(code) = code {
        span.record("code", tracing::field::display(code));
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("duration_ms", duration_ms);
    span.in_scope(|| match &result {
        Ok(_) => tracing::debug!("Tableau call done"),
        Err(_) => tracing::debug!("Tableau call failed"),
    });
    result.map(|(_, body)| body)
}

/// Builds the typed error from Tableau's error body, or from the status alone when the body
/// is not Tableau's (a proxy's HTML 502, an empty 503).
fn api_error(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> TableauError {
    let parsed = serde_json::from_slice::<ErrorResponse>(body).ok();
    let error = parsed.map(|p| p.error).unwrap_or_default();
    let code = error
        .code
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| format!("{}000", status.as_u16()));
    TableauError::Api {
        status: status.as_u16(),
        code: TableauCode::parse(&code),
        summary: error
            .summary
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned()),
        detail: error.detail.unwrap_or_default(),
        retry_after,
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, TableauError> {
    serde_json::from_slice(body)
        .map_err(|e| TableauError::Protocol(format!("cannot read Tableau's answer to {what}: {e}")))
}

/// `"3.21"` → `(3, 21)`, comparable.
pub(crate) fn parse_version(v: &str) -> Result<(u32, u32), TableauError> {
    v.split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .ok_or_else(|| TableauError::Protocol(format!("invalid Tableau API version '{v}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("3.9").unwrap() < parse_version("3.21").unwrap());
        assert!(parse_version("3").is_err());
        assert!(parse_version("x.1").is_err());
    }

    #[test]
    fn error_bodies_and_bare_statuses_become_typed_errors() {
        let e = api_error(
            StatusCode::CONFLICT,
            br#"{"error":{"summary":"Conflict","detail":"exists","code":"409000"}}"#,
            None,
        );
        assert_eq!(e.code(), Some(&TableauCode::UserConflict));
        let bare = api_error(StatusCode::BAD_GATEWAY, b"<html>proxy</html>", None);
        assert_eq!(
            bare.code(),
            Some(&TableauCode::ServerError("502000".into()))
        );
        assert!(bare.is_transient());
    }
}
