//! Unix seconds as an RFC 3339 UTC timestamp (`2038-01-19T03:14:08Z`), the
//! form AWS's `Expiration` and Kubernetes' `expirationTimestamp` take.
//!
//! Written by hand rather than with a date crate: it is one conversion, in
//! one direction, always UTC, on the path of every answer. The calendar
//! arithmetic is Howard Hinnant's `civil_from_days` (proleptic Gregorian),
//! checked below against dates `date -u` printed and against its inverse
//! for every day of four centuries.

/// The last second RFC 3339's four-digit year can write:
/// 9999-12-31T23:59:59Z. Later times are written as this one.
pub const MAX_UNIX: u64 = 253_402_300_799;

/// `unix` seconds since the epoch, UTC, as `YYYY-MM-DDTHH:MM:SSZ`. Times
/// past year 9999 are written as [`MAX_UNIX`] (a credential valid "for
/// ever" stays so).
pub fn format_utc(unix: u64) -> String {
    let unix = unix.min(MAX_UNIX);
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The (year, month, day) of the `days`-th day after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that a leap day ends each year, and
    // count in 400-year eras of 146 097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_match_what_date_prints() {
        // From `date -u -d @<t> +%Y-%m-%dT%H:%M:%SZ`.
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (2_147_483_648, "2038-01-19T03:14:08Z"),
            (1_693_942_857, "2023-09-05T19:40:57Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (1_767_225_599, "2025-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(format_utc(unix), text, "{unix}");
        }
    }

    #[test]
    fn times_past_year_9999_are_clamped() {
        assert_eq!(format_utc(MAX_UNIX + 1), "9999-12-31T23:59:59Z");
        assert_eq!(format_utc(u64::MAX), "9999-12-31T23:59:59Z");
    }

    /// The inverse (Hinnant's `days_from_civil`), written independently.
    fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y / 400;
        let yoe = y % 400;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_and_is_a_real_date() {
        let month_len = |y: u64, m: u64| match m {
            2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut previous = civil_from_days(0);
        assert_eq!(previous, (1970, 1, 1));
        for days in 1..146_097 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            // The day after the previous one: same month, or the next.
            let (py, pm, pd) = previous;
            let expected = if pd < month_len(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {days}");
            previous = (y, m, d);
        }
    }
}
