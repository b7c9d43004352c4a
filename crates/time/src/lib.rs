//! The few calendar computations microroot needs, without a date crate:
//! RFC 2822 dates as Debian's Release files and HTTP (`Retry-After`,
//! IMF-fixdate) write them, RFC 3339 timestamps for OCI configs and SBOMs,
//! and a plain UTC form for messages. All proleptic Gregorian, to the
//! second, after Howard Hinnant's day-count algorithms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Parses an RFC 2822 date, e.g. `Sat, 12 Sep 2026 07:55:41 UTC`,
/// `12 Sep 2026 07:55:41 +0000` or HTTP's `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn parse_rfc2822(s: &str) -> Option<SystemTime> {
    let s = s.split_once(',').map_or(s, |(_, rest)| rest);
    let mut it = s.split_whitespace();
    let day: u32 = it.next()?.parse().ok()?;
    let month_name = it.next()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as u32 + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|n| n.parse::<u32>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next().unwrap_or(Some(0))?);
    let offset = zone_offset(it.next()?)?;
    let valid = it.next().is_none() && hms.next().is_none() && (1900..10000).contains(&year);
    if !valid || day == 0 || day > days_in_month(year, month) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86400 + i64::from(h * 3600 + m * 60 + sec) - offset;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

fn zone_offset(zone: &str) -> Option<i64> {
    if ["UTC", "GMT", "UT", "Z"].iter().any(|z| zone.eq_ignore_ascii_case(z)) {
        return Some(0);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hh, mm): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    Some(sign * (hh * 3600 + mm * 60))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count relative to
/// 1970-01-01 (`civil_from_days`), exact for every `i64` day that fits.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `(date, hour, minute, second)` of `secs` since the epoch, UTC.
fn split(secs: i64) -> ((i64, u32, u32), i64, i64, i64) {
    let rem = secs.rem_euclid(86_400);
    (civil_from_days(secs.div_euclid(86_400)), rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Formats a time as `2026-09-12 07:55:41 UTC`, for messages.
pub fn format_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let ((y, m, d), hh, mm, ss) = split(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), or `None`
/// outside years 0000–9999, which RFC 3339 cannot write.
pub fn rfc3339(secs: i64) -> Option<String> {
    let ((y, m, d), hh, mm, ss) = split(secs);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<u64> {
        parse_rfc2822(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn parses_release_dates() {
        // Checked with `date -u -d "…" +%s`.
        assert_eq!(secs("Sat, 12 Sep 2026 07:55:41 UTC"), Some(1_789_199_741));
        assert_eq!(secs("12 Sep 2026 07:55:41 GMT"), Some(1_789_199_741));
        assert_eq!(secs("Sat, 12 Sep 2026 09:55:41 +0200"), Some(1_789_199_741));
        assert_eq!(secs("Sat, 12 Sep 2026 02:55:41 -0500"), Some(1_789_199_741));
        assert_eq!(secs("Tue, 29 Feb 2000 00:00:00 UTC"), Some(951_782_400));
        assert_eq!(secs("Thu,  1 Jan 1970 00:00:00 UTC"), Some(0));
    }

    #[test]
    fn parses_http_dates() {
        // RFC 9110's example IMF-fixdate.
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "Sat, 12 Sep 2026",
            "Sat, 12 Sep 2026 07:55:41",
            "Sat, 12 Sept 2026 07:55:41 UTC",
            "Sat, 31 Sep 2026 07:55:41 UTC",
            "Thu, 29 Feb 2001 00:00:00 UTC",
            "Sat, 12 Sep 2026 24:00:00 UTC",
            "Sat, 12 Sep 2026 07:55:41 CEST",
            "Sat, 12 Sep 2026 07:55:41 +02",
            "Sat, 12 Sep 2026 07:55:41 UTC extra",
            "Sat, 12 Sep 2026 07:55:41:00 UTC",
            "Wed, 31 Dec 1969 23:59:59 UTC",
        ] {
            assert_eq!(parse_rfc2822(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn format_and_parse_round_trip(secs in 0u64..253_402_300_800) {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let shown = format_utc(t);
            let (date, rest) = shown.split_once(' ').unwrap();
            let mut ymd = date.split('-');
            let (y, m, d) = (ymd.next().unwrap(), ymd.next().unwrap(), ymd.next().unwrap());
            let month = MONTHS[m.parse::<usize>().unwrap() - 1];
            proptest::prop_assert_eq!(parse_rfc2822(&format!("{d} {month} {y} {rest}")), Some(t));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399).unwrap(), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400).unwrap(), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339(-1).unwrap(), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), None);
        assert_eq!(rfc3339(-62_167_219_201), None);
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_previous() {
        let mut prev = civil_from_days(-1);
        for day in 0..146_097 {
            let (y, m, d) = civil_from_days(day);
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = d == 1 && ((y, m) == (prev.0, prev.1 + 1) || (m == 1 && y == prev.0 + 1 && prev.1 == 12));
            assert!(next_day || next_month, "{prev:?} -> {:?}", (y, m, d));
            prev = (y, m, d);
        }
    }
}

#[cfg(test)]
mod inverse {
    use super::*;

    proptest::proptest! {
        #[test]
        fn day_counts_and_dates_invert_each_other(days in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
