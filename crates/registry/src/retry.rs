//! When to retry and how long to wait.
//!
//! Only transient failures are retried: connection reset/refused/aborted,
//! timeouts, a peer hanging up mid-body, and HTTP 408/429/500/502/503/504.
//! A 401 after authenticating, a 403, a 404 or wrong content never is.

use std::time::{Duration, SystemTime};

pub use microroot_fetch::{is_transient, is_transient_status, RetryPolicy};

/// Parses `Retry-After`: delta-seconds, or an HTTP-date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`) measured from `now`; a date in the
/// past means no wait. The obsolete RFC 850 and asctime forms are ignored
/// (backoff applies).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(wait) = microroot_fetch::parse_retry_after_seconds(value) {
        return Some(wait);
    }
    let at = microroot_time::parse_rfc2822(value.trim())?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_seconds_and_cap() {
        let p = RetryPolicy::default();
        let now = SystemTime::now();
        assert_eq!(p.delay(1, "u", parse_retry_after(" 7 ", now)), Duration::from_secs(7));
        assert_eq!(p.delay(1, "u", parse_retry_after("9999", now)), p.max_retry_after);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        // RFC 9110's example date is 784111777 seconds after the epoch.
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 30);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(30)));
        let later = UNIX_EPOCH + Duration::from_secs(784_111_777 + 5);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later), Some(Duration::ZERO));
        // RFC 850 and asctime forms, and junk, are not understood.
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), None);
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), None);
        assert_eq!(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now), None);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now), None);
    }
}
