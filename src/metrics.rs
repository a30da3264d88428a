//! Ground floor: the process's Prometheus metrics (docs/operations.md lists them). Code that
//! observes something calls one function here (`scim_request`, `tableau_call`, …); `/metrics`
//! renders them with [`render`]. One registry per process: a counter counts everything this
//! process did, whichever server or test made it.
//!
//! Every label value is bounded (resource kinds, methods, statuses, call names, Tableau codes,
//! a few reasons): no user name, id, path or credential ever becomes a label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of [`render`]'s output (the Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    resource: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: String,
    status: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallNameLabel {
    call: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets, 5 ms to 30 s.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<RequestLabels>,
    tableau_calls: Family<CallLabels, Counter>,
    tableau_call_duration: Histograms<CallNameLabel>,
    tableau_retries: Family<ReasonLabel, Counter>,
    auth_failures: Family<ReasonLabel, Counter>,
    operations: Family<StateLabel, Gauge>,
    oldest_unfinished: Gauge<f64, AtomicU64>,
    sqlite_batch: Histogram,
    reconcile_drift: Family<KindLabel, Gauge>,
    reconcile_runs: Family<OutcomeLabel, Counter>,
    guard_held_operations: Counter,
    guard_held_removals: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("tableau_scim");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "SCIM requests answered, by resource, method and status",
            requests.clone(),
        );
        let request_duration: Histograms<RequestLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time to answer a SCIM request, by resource, method and status",
            Unit::Seconds,
            request_duration.clone(),
        );
        let tableau_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tableau_calls",
            "HTTP exchanges with Tableau, by call, HTTP status (none: no answer) and Tableau \
             error code (none: success)",
            tableau_calls.clone(),
        );
        let tableau_call_duration: Histograms<CallNameLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "tableau_call_duration",
            "Time of one HTTP exchange with Tableau, by call",
            Unit::Seconds,
            tableau_call_duration.clone(),
        );
        let tableau_retries = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "tableau_retries",
            "Tableau calls tried again, by reason",
            tableau_retries.clone(),
        );
        let auth_failures = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "auth_failures",
            "SCIM requests refused for want of valid credentials, by reason",
            auth_failures.clone(),
        );
        let operations = Family::<StateLabel, Gauge>::default();
        registry.register(
            "operations",
            "Operations in the journal, by state (read from the store at each scrape)",
            operations.clone(),
        );
        let oldest_unfinished = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "oldest_unfinished_operation_age",
            "Age of the oldest running operation (0 when none is running)",
            Unit::Seconds,
            oldest_unfinished.clone(),
        );
        let sqlite_batch = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
        registry.register(
            "sqlite_commit_batch_size",
            "Writes committed together by SQLite's writer (group commit)",
            sqlite_batch.clone(),
        );
        let reconcile_drift = Family::<KindLabel, Gauge>::default();
        registry.register(
            "reconcile_drift",
            "Drift between Tableau and the stored state found by the last background reconcile, \
             by kind (before its repairs)",
            reconcile_drift.clone(),
        );
        let reconcile_runs = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "reconcile_runs",
            "Background reconciles, by outcome (in_sync, drift, repaired, repair_failed, error)",
            reconcile_runs.clone(),
        );
        let guard_held_operations = Counter::default();
        registry.register(
            "guard_held_operations",
            "Operations the mass-removal guard held (their Tableau steps wait for `ops release`)",
            guard_held_operations.clone(),
        );
        let guard_held_removals = Counter::default();
        registry.register(
            "guard_held_removals",
            "Removals (deactivations, user deletes, group-member removals) in held operations",
            guard_held_removals.clone(),
        );
        // Every reason from 0, so that a rate is defined before the first retry or failure.
        for reason in RetryReason::ALL {
            let _ = tableau_retries.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        for reason in ["missing", "invalid"] {
            let _ = auth_failures.get_or_create(&ReasonLabel { reason });
        }
        Metrics {
            registry,
            requests,
            request_duration,
            tableau_calls,
            tableau_call_duration,
            tableau_retries,
            auth_failures,
            operations,
            oldest_unfinished,
            sqlite_batch,
            reconcile_drift,
            reconcile_runs,
            guard_held_operations,
            guard_held_removals,
        }
    }
}

/// One SCIM request answered. `resource` is one of [`scim_resource`]'s names.
pub fn scim_request(resource: &'static str, method: &str, status: u16, elapsed: Duration) {
    let labels = RequestLabels {
        resource,
        method: bounded_method(method),
        status,
    };
    METRICS.requests.get_or_create(&labels).inc();
    METRICS
        .request_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
}

/// The resource label of a request path below the SCIM base path (`/Users/123` → `Users`):
/// one of a fixed set, `other` for anything else (the path is the client's to choose).
pub fn scim_resource(path_below_base: &str) -> &'static str {
    let first = path_below_base
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    const KNOWN: [&str; 6] = [
        "Users",
        "Groups",
        "ServiceProviderConfig",
        "Schemas",
        "ResourceTypes",
        ".search",
    ];
    KNOWN
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(first))
        .unwrap_or("other")
}

/// Methods a client may invent are folded into `other`.
fn bounded_method(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// One HTTP exchange with Tableau: `call` from [`tableau_call_name`], `status` `None` when
/// no answer came, `code` Tableau's error code.
pub fn tableau_call(call: &str, status: Option<u16>, code: Option<&str>, elapsed: Duration) {
    let labels = CallLabels {
        call: call.to_owned(),
        status: status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
        code: code.unwrap_or("none").to_owned(),
    };
    METRICS.tableau_calls.get_or_create(&labels).inc();
    METRICS
        .tableau_call_duration
        .get_or_create(&CallNameLabel {
            call: call.to_owned(),
        })
        .observe(elapsed.as_secs_f64());
}

/// A call's name from its method and URL path: the API version and every id left out, e.g.
/// `POST /api/3.27/sites/ab12…/groups/cd34…/users` → `POST groups/{id}/users`. Segments that
/// are not words of the REST API become `{id}`, so the label set stays small.
pub fn tableau_call_name(method: &str, path: &str) -> String {
    const WORDS: [&str; 10] = [
        "auth",
        "signin",
        "signout",
        "serverInfo",
        "serverinfo",
        "sites",
        "users",
        "groups",
        "sessions",
        "current",
    ];
    let mut segments = path.trim_matches('/').split('/').peekable();
    if segments.peek() == Some(&"api") {
        segments.next();
        segments.next(); // the version
    }
    let mut parts: Vec<&str> = segments
        .map(|s| if WORDS.contains(&s) { s } else { "{id}" })
        .collect();
    // Site-scoped calls: `sites/{id}/users` → `users`.
    if parts.len() > 2 && parts[0] == "sites" && parts[1] == "{id}" {
        parts.drain(..2);
    }
    format!("{} {}", bounded_method(method), parts.join("/"))
}

/// Why a Tableau call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// 429: throttled.
    Throttled,
    /// A 5xx answer.
    ServerError,
    /// No answer in time.
    Timeout,
    /// Connection refused, reset or lost.
    Connection,
    /// The session token expired (or another client's sign-in replaced it): signed in again.
    SessionExpired,
}

impl RetryReason {
    pub const ALL: [RetryReason; 5] = [
        RetryReason::Throttled,
        RetryReason::ServerError,
        RetryReason::Timeout,
        RetryReason::Connection,
        RetryReason::SessionExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Throttled => "throttled",
            RetryReason::ServerError => "server_error",
            RetryReason::Timeout => "timeout",
            RetryReason::Connection => "connection",
            RetryReason::SessionExpired => "session_expired",
        }
    }
}

pub fn tableau_retry(reason: RetryReason) {
    METRICS
        .tableau_retries
        .get_or_create(&ReasonLabel {
            reason: reason.as_str(),
        })
        .inc();
}

/// A SCIM request refused with 401: `missing` (no `Authorization` header) or `invalid`.
pub fn auth_failure(credentials_sent: bool) {
    let reason = if credentials_sent {
        "invalid"
    } else {
        "missing"
    };
    METRICS
        .auth_failures
        .get_or_create(&ReasonLabel { reason })
        .inc();
}

/// Writes committed together in one SQLite transaction.
pub fn sqlite_batch(size: usize) {
    METRICS.sqlite_batch.observe(size as f64);
}

/// The journal as last read: operations per state and the age of the oldest running one.
pub fn set_operations(by_state: &[(&'static str, i64)], oldest_running: Duration) {
    for &(state, n) in by_state {
        METRICS
            .operations
            .get_or_create(&StateLabel { state })
            .set(n);
    }
    METRICS.oldest_unfinished.set(oldest_running.as_secs_f64());
}

/// The mass-removal guard held an operation with `removals` removals.
pub fn guard_held(removals: i64) {
    METRICS.guard_held_operations.inc();
    METRICS
        .guard_held_removals
        .inc_by(u64::try_from(removals).unwrap_or(0));
}

/// Drift of one kind found by the last background reconcile.
pub fn set_reconcile_drift(kind: &'static str, n: i64) {
    METRICS
        .reconcile_drift
        .get_or_create(&KindLabel { kind })
        .set(n);
}

/// One background reconcile ended with `outcome`.
pub fn reconcile_run(outcome: &'static str) {
    METRICS
        .reconcile_runs
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &METRICS.registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_names_leave_out_versions_and_ids() {
        let site = "/api/3.27/sites/9a8b7c6d-0000-4000-8000-000000000001";
        assert_eq!(
            tableau_call_name("POST", "/api/3.27/auth/signin"),
            "POST auth/signin"
        );
        assert_eq!(
            tableau_call_name("GET", "/api/2.4/serverInfo"),
            "GET serverInfo"
        );
        assert_eq!(
            tableau_call_name("GET", &format!("{site}/users")),
            "GET users"
        );
        assert_eq!(
            tableau_call_name("PUT", &format!("{site}/users/1f2e3d")),
            "PUT users/{id}"
        );
        assert_eq!(
            tableau_call_name("DELETE", &format!("{site}/groups/g1/users/u1")),
            "DELETE groups/{id}/users/{id}"
        );
        assert_eq!(
            tableau_call_name("BREW", "/api/3.27/x/y"),
            "other {id}/{id}"
        );
    }

    #[test]
    fn resources_are_a_fixed_set() {
        assert_eq!(scim_resource("/Users/123"), "Users");
        assert_eq!(scim_resource("/users"), "Users");
        assert_eq!(scim_resource("/Groups/.search"), "Groups");
        assert_eq!(scim_resource("/.search"), ".search");
        assert_eq!(scim_resource("/Schemas/urn:x"), "Schemas");
        assert_eq!(scim_resource("/ada@example.com"), "other");
        assert_eq!(scim_resource(""), "other");
    }

    #[test]
    fn rendered_names_carry_the_prefix_and_units() {
        scim_request("Users", "POST", 201, Duration::from_millis(3));
        tableau_call(
            "POST users",
            Some(409),
            Some("409000"),
            Duration::from_millis(4),
        );
        tableau_retry(RetryReason::Throttled);
        auth_failure(false);
        sqlite_batch(3);
        set_operations(
            &[
                ("running", 1),
                ("succeeded", 2),
                ("failed", 3),
                ("held", 4),
                ("planned", 5),
            ],
            Duration::from_secs(5),
        );
        guard_held(2);
        let text = render();
        for line in [
            "tableau_scim_requests_total{resource=\"Users\",method=\"POST\",status=\"201\"}",
            "tableau_scim_request_duration_seconds_bucket{",
            "tableau_scim_tableau_calls_total{call=\"POST users\",status=\"409\",code=\"409000\"}",
            "tableau_scim_tableau_call_duration_seconds_count{call=\"POST users\"}",
            "tableau_scim_tableau_retries_total{reason=\"throttled\"}",
            "tableau_scim_auth_failures_total{reason=\"missing\"}",
            "tableau_scim_sqlite_commit_batch_size_bucket{le=\"4\"}",
            "tableau_scim_operations{state=\"failed\"} 3",
            "tableau_scim_operations{state=\"held\"} 4",
            "tableau_scim_guard_held_operations_total",
            "tableau_scim_guard_held_removals_total",
            "tableau_scim_oldest_unfinished_operation_age_seconds 5.0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
