//! The two things the collector needs from the clock and from chance: ISO 8601 timestamps and
//! random UUIDs (from the operating system's CSPRNG).

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-22T10:00:00.000Z` for `time`.
pub fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// A random UUID v4 (formatted by the SDK's core), from the operating system's CSPRNG; `None`
/// when it cannot give any.
pub fn uuid_v4() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(reftrack::core::signup::uuid_v4(bytes))
}

/// Whether `text` is a day as the API takes one: `YYYY-MM-DD`.
pub fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Milliseconds since the epoch of a UTC time written `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or
/// with milliseconds (`…:SS.sssZ`); `None` for anything else.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut milli) = (0, 0, 0, 0);
    match b.len() {
        10 => {}
        20 | 24 => {
            if b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z' {
                return None;
            }
            (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
            if b.len() == 24 {
                if b[19] != b'.' {
                    return None;
                }
                milli = number(20..23)?;
            }
        }
        _ => return None,
    }
    // Days since 1970-01-01 from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli)
}

/// The day `days` days after `day` (`YYYY-MM-DD`, UTC); `None` when `day` is not a day.
pub fn add_days(day: &str, days: i64) -> Option<String> {
    let ms = parse_iso8601(day.get(..10)?)?;
    let at = ms.checked_add(days.checked_mul(86_400_000)?)?;
    let at = u64::try_from(at).ok()?;
    Some(iso8601(UNIX_EPOCH + std::time::Duration::from_millis(at))[..10].to_owned())
}

/// The same day of the month `months` months after `day`, or the month's last day when it is
/// shorter (`2026-01-31` plus one month is `2026-02-28`); `None` when `day` is not a day.
pub fn add_months(day: &str, months: i64) -> Option<String> {
    parse_iso8601(day.get(..10)?)?;
    let number = |range: std::ops::Range<usize>| day.get(range)?.parse::<i64>().ok();
    let (year, month, date) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let index = year.checked_mul(12)? + (month - 1) + months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let last = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    Some(format!("{year:04}-{month:02}-{:02}", date.min(last)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_341_600_123);
        assert_eq!(iso8601(t), "2026-11-22T10:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn reads_what_it_writes() {
        for ms in [0, 951_782_400_000, 1_795_341_600_123, 4_102_444_799_999] {
            let text = iso8601(UNIX_EPOCH + Duration::from_millis(ms as u64));
            assert_eq!(parse_iso8601(&text), Some(ms), "{text}");
        }
        assert_eq!(
            parse_iso8601("2026-11-22T10:00:00Z"),
            Some(1_795_341_600_000)
        );
        assert_eq!(parse_iso8601("2026-11-22"), Some(1_795_305_600_000));
        for bad in [
            "",
            "2026-13-01",
            "2026-11-22T25:00:00Z",
            "2026/11/22",
            "x026-11-22",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_and_months_are_added_on_the_calendar() {
        assert_eq!(add_days("2026-12-07", 30).as_deref(), Some("2027-01-06"));
        assert_eq!(
            add_days("2028-02-28T23:00:00Z", 1).as_deref(),
            Some("2028-02-29")
        );
        assert_eq!(add_days("2026-12-07", 0).as_deref(), Some("2026-12-07"));
        assert_eq!(add_days("2026-12-07", -7).as_deref(), Some("2026-11-30"));
        assert_eq!(add_months("2026-01-31", 1).as_deref(), Some("2026-02-28"));
        assert_eq!(add_months("2028-01-31", 1).as_deref(), Some("2028-02-29"));
        assert_eq!(add_months("2026-11-15", 12).as_deref(), Some("2027-11-15"));
        assert_eq!(add_months("2026-12-07", 1).as_deref(), Some("2027-01-07"));
        assert_eq!(add_days("soon", 1), None);
        assert_eq!(add_months("2026-13-01", 1), None);
    }

    #[test]
    fn uuids_are_v4_and_differ() {
        let (a, b) = (uuid_v4().unwrap(), uuid_v4().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
