//! FHIR dates and date-times as instants, for ordering and plotting. Display always uses the
//! text as written (at its precision); these instants only decide order and position.

/// Milliseconds since the epoch (UTC) for a FHIR `date`, `dateTime` or `instant`:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (the start of that period, UTC), or
/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`, with a leap second `:60` counted as `:59.999`.
/// `None` for anything else.
pub fn instant_ms(value: &str) -> Option<f64> {
    let (date, time) = match value.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    let mut parts = date.split('-');
    let year = parts.next().filter(|y| y.len() == 4)?.parse::<i64>().ok()?;
    let month = match parts.next() {
        Some(m) => digits2(m).filter(|m| (1..=12).contains(m))?,
        None => 1,
    };
    let day = match parts.next() {
        Some(d) => digits2(d).filter(|d| (1..=days_in_month(year, month)).contains(d))?,
        None => 1,
    };
    if parts.next().is_some() {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) as f64 * 86_400_000.0;
    let Some(time) = time else {
        return Some(ms);
    };
    // A time needs a full date and a zone.
    if date.len() != 10 {
        return None;
    }
    let (clock, offset_min) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, 0i64)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        let (h, m) = (digits2(h)?, digits2(m)?);
        if h > 14 || m > 59 {
            return None;
        }
        (clock, sign * i64::from(h * 60 + m))
    };
    let mut hms = clock.split(':');
    let h = digits2(hms.next()?).filter(|h| *h < 24)?;
    let m = digits2(hms.next()?).filter(|m| *m < 60)?;
    let s = hms.next()?;
    if hms.next().is_some() {
        return None;
    }
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let whole = digits2(whole).filter(|s| *s <= 60)?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction_ms = if fraction.is_empty() {
        0.0
    } else {
        crate::domain::decimal::parse(&format!("0.{fraction}"))? * 1000.0
    };
    let seconds = if whole == 60 {
        59_999.0
    } else {
        f64::from(whole) * 1000.0 + fraction_ms
    };
    ms += f64::from(h) * 3_600_000.0 + f64::from(m) * 60_000.0 + seconds;
    Some(ms - offset_min as f64 * 60_000.0)
}

/// A FHIR date or date-time for people: dates at their precision as written (`1970`,
/// `1970-05`, `1970-05-01`); date-times as `YYYY-MM-DD hh:mm` in the record's own offset, which
/// is named unless it is UTC. Anything unreadable is shown raw, never dropped.
pub fn display(value: &str) -> String {
    let Some((date, time)) = value.split_once('T') else {
        return value.to_owned();
    };
    if instant_ms(value).is_none() || time.len() < 5 {
        return value.to_owned();
    }
    let clock = &time[..5];
    let zone = if time.ends_with('Z') || time.ends_with("+00:00") || time.ends_with("-00:00") {
        String::new()
    } else {
        match time.rfind(['+', '-']) {
            Some(at) => format!(" (UTC{})", &time[at..]),
            None => String::new(),
        }
    };
    format!("{date} {clock}{zone}")
}

/// Exactly two ASCII digits.
pub(crate) fn digits2(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_dates_and_date_times() {
        let day = 86_400_000.0;
        let cases: &[(&str, Option<f64>)] = &[
            ("1970", Some(0.0)),
            ("1970-02", Some(31.0 * day)),
            ("1970-01-02", Some(day)),
            ("1970-01-01T00:00:00Z", Some(0.0)),
            ("1970-01-01T01:00:00+01:00", Some(0.0)),
            ("1969-12-31T19:00:00-05:00", Some(0.0)),
            ("1970-01-01T00:00:00.250Z", Some(250.0)),
            ("1970-01-01T00:00:60Z", Some(59_999.0)),
            // Kiritimati is UTC+14, the earliest zone on Earth.
            ("1970-01-01T14:00:00+14:00", Some(0.0)),
            ("2000-02-29", Some(11_016.0 * day)),
            ("2001-02-29", None),
            ("1970-13", None),
            ("1970-01-01T00:00:00", None),
            ("1970-01T00:00:00Z", None),
            ("1970-01-01T24:00:00Z", None),
            ("1970-01-01T00:00:61Z", None),
            ("1970-01-01T00:00:00+15:00", None),
            ("70-01-01", None),
            ("", None),
            ("soon", None),
        ];
        for (value, want) in cases {
            assert_eq!(instant_ms(value), *want, "{value:?}");
        }
    }

    #[test]
    fn shown_at_their_precision_and_in_their_own_offset() {
        for (value, shown) in [
            ("1970", "1970"),
            ("1970-05", "1970-05"),
            ("1970-05-01", "1970-05-01"),
            ("2020-12-01T20:43:11+00:00", "2020-12-01 20:43"),
            ("2020-12-01T20:43:11Z", "2020-12-01 20:43"),
            (
                "2020-12-01T20:43:11.5+09:00",
                "2020-12-01 20:43 (UTC+09:00)",
            ),
            ("2020-12-01T20:43:11-05:00", "2020-12-01 20:43 (UTC-05:00)"),
            ("2020-12-01T25:00:00Z", "2020-12-01T25:00:00Z"),
            ("yesterday", "yesterday"),
        ] {
            assert_eq!(display(value), shown, "{value}");
        }
    }

    #[test]
    fn order_follows_the_instant_not_the_text() {
        // As text, the first sorts later; as instants it is earlier.
        let a = instant_ms("2020-01-01T10:00:00+09:00").unwrap();
        let b = instant_ms("2020-01-01T02:00:00Z").unwrap();
        assert!(a < b);
    }
}
