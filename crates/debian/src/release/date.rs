//! RFC 2822 dates as Release files write them (`Sat, 12 Sep 2026 07:55:41
//! UTC`), parsed by hand rather than with a date crate: only this one
//! format is needed, and only to the second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Parses an RFC 2822 date as used in Release files, e.g.
/// `Sat, 12 Sep 2026 07:55:41 UTC` or `12 Sep 2026 07:55:41 +0000`.
pub fn parse_date(s: &str) -> Option<SystemTime> {
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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Formats a time as `2026-09-12 07:55:41 UTC` for messages.
pub fn format_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<u64> {
        parse_date(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs())
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
            assert_eq!(parse_date(bad), None, "{bad:?}");
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
            proptest::prop_assert_eq!(parse_date(&format!("{d} {month} {y} {rest}")), Some(t));
        }
    }
}
