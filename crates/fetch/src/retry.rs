//! When to retry and how long to wait.
//!
//! Only transient failures are retried: connection reset/refused/aborted,
//! timeouts, a peer hanging up mid-body, and HTTP 408/429/500/502/503/504.
//! A 404, a 403 or wrong content never is.

use std::hash::{Hash, Hasher};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Retry limits and backoff, applied per URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per URL including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further retry.
    pub base_delay: Duration,
    /// Upper bound of the exponential backoff.
    pub max_delay: Duration,
    /// Upper bound on a server's `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt per URL.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait after failed attempt number `attempt` (1-based): the
    /// server's `Retry-After` if given (capped), else exponential backoff
    /// with jitter in [50%, 100%]. The jitter derives from `key` and the
    /// attempt so runs are reproducible while mirrors still see spread.
    pub fn delay(&self, attempt: u32, key: &str, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let exp = attempt.saturating_sub(1).min(20);
        let full = self.base_delay.saturating_mul(1 << exp).min(self.max_delay);
        let mut h = std::hash::DefaultHasher::new();
        (key, attempt).hash(&mut h);
        let fraction = 0.5 + (h.finish() % 1000) as f64 / 2000.0;
        full.mul_f64(fraction)
    }
}

/// Statuses worth another try: timeouts, rate limits, overloaded servers.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

pub(crate) fn is_transient_io(kind: io::ErrorKind) -> bool {
    use io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionReset
            | K::ConnectionRefused
            | K::ConnectionAborted
            | K::TimedOut
            | K::UnexpectedEof
            | K::BrokenPipe
            | K::Interrupted
    )
}

/// Connection failures, timeouts and peers hanging up: worth another try.
pub fn is_transient(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Io(e) => is_transient_io(e.kind()),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// `Retry-After` as delta-seconds; HTTP-dates fall back to backoff.
pub fn parse_retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Sleeps `total`, waking early when `stop` is set; false if stopped.
pub(crate) fn sleep_unless(stop: Option<&AtomicBool>, total: Duration) -> bool {
    let Some(stop) = stop else {
        std::thread::sleep(total);
        return true;
    };
    let end = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        let d1 = p.delay(1, "u", None);
        let d3 = p.delay(3, "u", None);
        assert!(d1 >= Duration::from_millis(250) && d1 <= Duration::from_millis(500));
        assert!(d3 >= Duration::from_millis(1000) && d3 <= Duration::from_millis(2000));
        assert!(p.delay(30, "u", None) <= p.max_delay);
        assert_eq!(p.delay(2, "u", None), p.delay(2, "u", None));
    }

    #[test]
    fn retry_after_is_capped() {
        let p = RetryPolicy::default();
        let asked = parse_retry_after_seconds(" 7 ");
        assert_eq!(p.delay(1, "u", asked), Duration::from_secs(7));
        assert_eq!(p.delay(1, "u", parse_retry_after_seconds("9999")), p.max_retry_after);
        assert_eq!(parse_retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn status_classes() {
        assert!(is_transient_status(503) && is_transient_status(429));
        assert!(!is_transient_status(404) && !is_transient_status(403));
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 416, 501] {
            assert!(!is_transient_status(s), "{s}");
        }
    }
}
