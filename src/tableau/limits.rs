//! Per-client (= per-site) limits: at most `max_concurrency` requests in flight, and at most
//! `requests_per_second` started per second. Hand-written (a semaphore and a GCRA token bucket
//! of a dozen lines) rather than a dependency.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::errors::TableauError;

pub struct Limits {
    in_flight: std::sync::Arc<Semaphore>,
    rate: RateLimiter,
}

impl Limits {
    pub fn new(max_concurrency: usize, requests_per_second: u32) -> Self {
        Self {
            in_flight: std::sync::Arc::new(Semaphore::new(max_concurrency.max(1))),
            rate: RateLimiter::new(requests_per_second, max_concurrency),
        }
    }

    /// Waits for a slot and for the rate; the permit is held for one HTTP exchange (never
    /// across a backoff sleep, so waiting retries do not starve fresh requests).
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, TableauError> {
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| TableauError::Protocol("the client is shut down".into()))?;
        self.rate.until_ready().await;
        Ok(permit)
    }
}

/// Generic cell rate algorithm: requests are spaced `1/rate` apart on average, with a burst
/// of up to `burst` requests at once after an idle spell.
struct RateLimiter {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: Mutex<Option<Instant>>,
}

impl RateLimiter {
    fn new(per_second: u32, burst: usize) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        let burst = u32::try_from(burst.max(1)).unwrap_or(u32::MAX);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst - 1),
            tat: Mutex::new(None),
        }
    }

    async fn until_ready(&self) {
        let now = Instant::now();
        let start = {
            // A poisoned lock only means another task panicked mid-update of an Instant; the
            // value is still a valid schedule.
            let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
            let next = tat.map_or(now, |t| t.max(now));
            *tat = Some(next + self.interval);
            next.checked_sub(self.tolerance).unwrap_or(now)
        };
        if start > now {
            tokio::time::sleep_until(start).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rate_is_kept_after_the_burst() {
        let limiter = RateLimiter::new(100, 2);
        let t0 = Instant::now();
        for _ in 0..12 {
            limiter.until_ready().await;
        }
        // 2 at once, then 10 more spaced 10 ms apart: at least 100 ms (no upper bound: tests
        // never assert on how fast a shared machine is).
        let elapsed = t0.elapsed();
        assert!(elapsed >= Duration::from_millis(99), "{elapsed:?}");
    }
}
