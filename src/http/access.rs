//! The access log and the request metrics (one line and one count per request, written by
//! `middleware::trace_request`), and the log of failed authentication, limited per peer so
//! that a misconfigured or hostile client cannot flood it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One finished request, as the access log and the metrics see it.
pub struct Finished<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    /// The path only: never the query string (a filter names users).
    pub path: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    /// The credential's non-secret label (`token:<8 hex digits of its digest>`, `basic`),
    /// when the request was authenticated.
    pub credential: Option<&'a str>,
    /// The SCIM base path, when the request reached the SCIM server (not the metrics one).
    pub scim_base: Option<&'a str>,
}

/// Log the request's line (info; debug for `/healthz`, `/readyz` and `/metrics`) and count
/// it, when it is a SCIM request, in `tableau_scim_requests_total`.
pub fn finished(f: &Finished<'_>) {
    let duration_ms = u64::try_from(f.elapsed.as_millis()).unwrap_or(u64::MAX);
    let credential = f.credential.unwrap_or("-");
    if super::health::PATHS.contains(&f.path) {
        tracing::debug!(
            request_id = %f.request_id,
            method = %f.method,
            path = %f.path,
            status = f.status,
            duration_ms,
            credential = %credential,
            "request done"
        );
        return;
    }
    tracing::info!(
        request_id = %f.request_id,
        method = %f.method,
        path = %f.path,
        status = f.status,
        duration_ms,
        credential = %credential,
        "request done"
    );
    if let Some(below) = f.scim_base.and_then(|base| below_base(f.path, base)) {
        let resource = crate::metrics::scim_resource(below);
        crate::metrics::scim_request(resource, f.method, f.status, f.elapsed);
    }
}

/// `path` below the SCIM base path, if it is under it.
fn below_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Peers remembered at most; beyond, failures of new peers are counted but not logged until
/// the oldest windows expire.
const MAX_PEERS: usize = 4096;
/// One logged failure per peer per window.
const WINDOW: Duration = Duration::from_secs(60);

struct Window {
    started: Instant,
    /// Failures in this window not logged.
    suppressed: u64,
}

/// Failed authentication: counted in `tableau_scim_auth_failures_total`, and logged (warn)
/// the first time per peer per minute, with how many were left unlogged in that peer's
/// previous minute. Never logs what was sent.
pub fn auth_failed(peer: Option<IpAddr>, credentials_sent: bool) {
    crate::metrics::auth_failure(credentials_sent);
    static PEERS: Mutex<Option<HashMap<IpAddr, Window>>> = Mutex::new(None);
    let peer_key = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let now = Instant::now();
    let decision = {
        let mut guard = PEERS.lock().unwrap_or_else(PoisonError::into_inner);
        let peers = guard.get_or_insert_with(HashMap::new);
        decide(peers, peer_key, now)
    };
    let reason = if credentials_sent {
        "invalid credentials"
    } else {
        "no credentials"
    };
    if let Some(suppressed_before) = decision {
        let peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        tracing::warn!(
            %peer,
            reason,
            suppressed_before,
            "authentication failed (logged once per peer per minute; \
             suppressed_before = failures of this peer not logged in its previous minute)"
        );
    }
}

/// Whether to log a failure of `peer` now: `Some(failures suppressed in its last window)` to
/// log, `None` to count it as suppressed.
fn decide(peers: &mut HashMap<IpAddr, Window>, peer: IpAddr, now: Instant) -> Option<u64> {
    if let Some(w) = peers.get_mut(&peer) {
        if now.duration_since(w.started) < WINDOW {
            w.suppressed += 1;
            return None;
        }
        let before = w.suppressed;
        *w = Window {
            started: now,
            suppressed: 0,
        };
        return Some(before);
    }
    if peers.len() >= MAX_PEERS {
        peers.retain(|_, w| now.duration_since(w.started) < WINDOW);
        if peers.len() >= MAX_PEERS {
            return None;
        }
    }
    peers.insert(
        peer,
        Window {
            started: now,
            suppressed: 0,
        },
    );
    Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_peer_per_minute_with_the_count_of_the_rest() {
        let mut peers = HashMap::new();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert_eq!(decide(&mut peers, a, t0), Some(0));
        for i in 1..=5 {
            assert_eq!(decide(&mut peers, a, t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(decide(&mut peers, b, t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(decide(&mut peers, a, t0 + WINDOW), Some(5));
        assert_eq!(
            decide(&mut peers, a, t0 + WINDOW + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn the_peer_table_is_bounded() {
        let mut peers = HashMap::new();
        let t0 = Instant::now();
        for i in 0..MAX_PEERS as u32 {
            assert!(decide(&mut peers, IpAddr::from(i.to_be_bytes()), t0).is_some());
        }
        let late = IpAddr::from([255, 255, 255, 255]);
        assert_eq!(decide(&mut peers, late, t0), None);
        assert_eq!(peers.len(), MAX_PEERS);
        // Once the old windows expire, new peers are logged again.
        assert_eq!(decide(&mut peers, late, t0 + WINDOW), Some(0));
        assert_eq!(peers.len(), 1);
    }

    #[test]
    fn paths_below_the_base() {
        assert_eq!(below_base("/scim/v2/Users", "/scim/v2"), Some("/Users"));
        assert_eq!(below_base("/scim/v2", "/scim/v2"), Some(""));
        assert_eq!(below_base("/scim/v2x/Users", "/scim/v2"), None);
        assert_eq!(below_base("/Users", ""), Some("/Users"));
    }
}
