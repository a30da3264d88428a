//! When to try again: exponential backoff with full jitter, and `Retry-After` (seconds or an
//! HTTP date) when Tableau sends one. Tableau Cloud usually sends none (reference §5), so the
//! backoff is what normally spaces retries out.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::macros::format_description;

/// First backoff ceiling; doubled per attempt.
const BASE: Duration = Duration::from_millis(200);
/// Largest backoff ceiling.
const CAP: Duration = Duration::from_secs(10);
/// A `Retry-After` beyond this is clamped: a request waiting longer than this is better failed
/// and resumed later by the engine than left hanging.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Delay before retry number `attempt` (0 = the first retry). Full jitter (uniform in
/// `[0, min(cap, base·2^attempt)]`) spreads clients that failed together; a server-given
/// `Retry-After` is a floor, since retrying before it is pointless.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let ceiling = BASE.saturating_mul(1u32 << attempt.min(16)).min(CAP);
    let jitter = ceiling.mul_f64(fastrand::f64());
    match retry_after {
        Some(after) => after.min(MAX_RETRY_AFTER) + jitter / 4,
        None => jitter,
    }
}

/// `Retry-After: 2` or `Retry-After: Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    let now = OffsetDateTime::from(now);
    // A date in the past means "now".
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        for attempt in 0..20 {
            let d = backoff(attempt, None);
            assert!(d <= CAP);
            assert!(d <= BASE * 2u32.pow(attempt.min(10)));
        }
        let floor = Duration::from_secs(2);
        assert!(backoff(0, Some(floor)) >= floor);
        assert!(backoff(0, Some(Duration::from_secs(3600))) <= MAX_RETRY_AFTER + CAP);
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770); // 08:49:30
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
