//! When to retry and how long to wait.
//!
//! Only transient failures are retried: connection reset/refused/aborted,
//! timeouts, a peer hanging up mid-body, and HTTP 408/429/500/502/503/504.
//! A 401 after authenticating, a 403, a 404 or wrong content never is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use microroot_fetch::{is_transient, is_transient_status, RetryPolicy};

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
