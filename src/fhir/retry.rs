//! When a FHIR read may be tried again: 429 and 503, for GETs only, a bounded number of times,
//! waiting as `Retry-After` says (seconds or an HTTP date) when the browser can read it, with
//! jittered exponential backoff otherwise. Pure: time and jitter are parameters.

use crate::domain::decimal;
use crate::domain::time::{days_from_civil, days_in_month, digits2};
use crate::http::Method;

/// Attempts in all, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Longest single wait.
pub const MAX_WAIT_MS: f64 = 30_000.0;
/// First backoff step when the server gives no usable `Retry-After`.
pub const BASE_BACKOFF_MS: f64 = 500.0;

/// How long to wait before attempt `attempt + 1` after a response with `status`, or `None` when
/// the response is final. `attempt` counts from 1; `retry_after` is the raw header, if the
/// browser exposed it; `now_ms` is the wall clock (for HTTP dates); `jitter` is in `[0, 1)`.
pub fn retry_delay_ms(
    method: Method,
    status: u16,
    attempt: u32,
    retry_after: Option<&str>,
    now_ms: f64,
    jitter: f64,
) -> Option<f64> {
    if method != Method::Get || !matches!(status, 429 | 503) || attempt >= MAX_ATTEMPTS {
        return None;
    }
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let wait = match retry_after.and_then(|v| parse_retry_after_ms(v, now_ms)) {
        // The server's word, plus up to 10 % so that many clients do not return at once.
        Some(ms) => ms * (1.0 + 0.1 * jitter),
        // Full jitter over an exponential step: 0.5 s, 1 s, 2 s…
        None => {
            let step = BASE_BACKOFF_MS * f64::from(1u32 << (attempt - 1).min(10));
            step * (0.5 + 0.5 * jitter)
        }
    };
    Some(wait.clamp(0.0, MAX_WAIT_MS))
}

/// `Retry-After` as milliseconds from `now_ms`: delta-seconds (`120`) or an IMF-fixdate
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 9110 §10.2.3). Invalid values give `None`; dates in
/// the past give 0.
pub fn parse_retry_after_ms(value: &str, now_ms: f64) -> Option<f64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = decimal::parse(value)?;
        return Some(seconds * 1000.0);
    }
    let at = parse_imf_fixdate(value)?;
    Some((at - now_ms).max(0.0))
}

/// Milliseconds since the epoch for `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_imf_fixdate(value: &str) -> Option<f64> {
    let mut parts = value.split(' ');
    let weekday = parts.next()?;
    if weekday.len() != 4 || !weekday.ends_with(',') {
        return None;
    }
    let day: u32 = digits2(parts.next()?)?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let year = parts.next()?;
    if year.len() != 4 {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let mut time = parts.next()?.split(':');
    let (h, m, s) = (
        digits2(time.next()?)?,
        digits2(time.next()?)?,
        digits2(time.next()?)?,
    );
    if time.next().is_some() || parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    if !(1..=days_in_month(year, month)).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Some(seconds as f64 * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_values() {
        // 1994-11-06 08:49:37 UTC = 784 111 777 s.
        let now = 784_111_777_000.0;
        let cases: &[(&str, Option<f64>)] = &[
            ("120", Some(120_000.0)),
            (" 0 ", Some(0.0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(0.0)),
            ("Sun, 06 Nov 1994 08:49:47 GMT", Some(10_000.0)),
            ("Sun, 06 Nov 1994 08:48:37 GMT", Some(0.0)),
            ("Wed, 29 Feb 2012 00:00:00 GMT", Some(546_361_823_000.0)),
            ("Thu, 30 Feb 2012 00:00:00 GMT", None),
            ("Sun, 06 Nov 1994 24:00:00 GMT", None),
            ("Sun, 6 Nov 1994 08:49:37 GMT", None),
            ("Sunday, 06-Nov-94 08:49:37 GMT", None),
            ("Sun Nov  6 08:49:37 1994", None),
            ("Sun, 06 Nov 1994 08:49:37 PST", None),
            ("-5", None),
            ("1.5", None),
            ("", None),
            ("soon", None),
            ("31536000", Some(31_536_000_000.0)),
        ];
        for (value, want) in cases {
            assert_eq!(parse_retry_after_ms(value, now), *want, "{value:?}");
        }
    }

    #[test]
    fn only_gets_and_only_429_or_503_and_at_most_three_attempts() {
        let d = |method, status, attempt, ra: Option<&str>| {
            retry_delay_ms(method, status, attempt, ra, 0.0, 0.0)
        };
        assert_eq!(d(Method::Get, 429, 1, Some("2")), Some(2_000.0));
        assert_eq!(d(Method::Get, 503, 2, Some("1")), Some(1_000.0));
        assert_eq!(d(Method::Get, 429, 3, Some("1")), None);
        assert_eq!(d(Method::Post, 429, 1, Some("1")), None);
        for status in [200, 400, 401, 403, 404, 500, 502, 504] {
            assert_eq!(d(Method::Get, status, 1, None), None, "{status}");
        }
        // Capped, whatever the server asks.
        assert_eq!(d(Method::Get, 429, 1, Some("3600")), Some(MAX_WAIT_MS));
    }

    #[test]
    fn backoff_without_retry_after_is_exponential_and_jittered() {
        let at =
            |attempt, jitter| retry_delay_ms(Method::Get, 503, attempt, None, 0.0, jitter).unwrap();
        assert_eq!(at(1, 0.0), 250.0);
        assert_eq!(at(1, 1.0), 500.0);
        assert_eq!(at(2, 0.0), 500.0);
        assert_eq!(at(2, 0.999), 999.5);
        // Unreadable Retry-After falls back to the backoff; bad jitter is tamed.
        assert_eq!(
            retry_delay_ms(Method::Get, 429, 1, Some("later"), 0.0, f64::NAN),
            Some(250.0)
        );
        let with_header = retry_delay_ms(Method::Get, 429, 1, Some("10"), 0.0, 0.5).unwrap();
        assert_eq!(with_header, 10_500.0);
    }
}
