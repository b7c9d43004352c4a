//! When to retry and how long to wait.
//!
//! Only transient failures are retried: connection reset/refused/aborted,
//! timeouts, a peer hanging up mid-body, and HTTP 408/429/500/502/503/504.
//! A 401 after authenticating, a 403, a 404 or wrong content never is.

use std::hash::{Hash, Hasher};
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Retry limits and backoff, applied per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts including the first; 1 disables retries.
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
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait after failed attempt number `attempt` (1-based): the
    /// server's `Retry-After` if given (capped at `max_retry_after`), else
    /// exponential backoff with jitter in [50%, 100%]. The jitter derives
    /// from `key` and the attempt, so runs are reproducible.
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

fn is_transient_io(kind: io::ErrorKind) -> bool {
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

pub(crate) fn is_transient(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Io(e) => is_transient_io(e.kind()),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// Parses `Retry-After`: delta-seconds, or an HTTP-date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`) measured from `now`; a date in the
/// past means no wait. Obsolete date formats are ignored (backoff applies).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_imf_fixdate(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since the epoch of an IMF-fixdate (RFC 9110 §5.6.7).
fn parse_imf_fixdate(s: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = s.get(5..)?.strip_suffix(" GMT")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next().is_some() || s.as_bytes().get(3) != Some(&b',') {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day as i64)).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_imf_fixdate("Tue, 29 Feb 2000 23:59:59 GMT"), Some(951_868_799));
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

    #[test]
    fn status_classes() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 416, 501] {
            assert!(!is_transient_status(s), "{s}");
        }
    }
}
