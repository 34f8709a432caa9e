//! Decimal text to `f64`, without core's float parser (its tables are about 10 KB of wasm that
//! compress badly). Numbers Cairn reads are short decimals (FHIR values, token lifetimes, claim
//! times, CSS colours): for those the result is exactly what `str::parse::<f64>` gives. Nothing
//! here panics on any input.

use serde_json::Value;

/// `10^0` to `10^22`: every one exactly representable as an `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Every integer up to 2^53 is an exact `f64`.
const EXACT_INTEGERS: u64 = 1 << 53;

/// Significant digits kept; later ones only move the exponent.
const MAX_DIGITS: u32 = 19;

/// `[+-]digits[.digits][(e|E)[+-]digits]` (at least one digit before the exponent), as a
/// number. `None` for anything else, including what `str::parse::<f64>` reads as words
/// (`inf`, `infinity`, `nan`): no FHIR or JSON number is written that way. Too large a
/// number gives an infinity and too small a zero, as with `str::parse`.
///
/// Correctly rounded (the same bits as `str::parse::<f64>`) when the digits without leading
/// and trailing zeros are at most 2^53 and the number is those digits times a power of ten
/// within 10^±22 (one exact multiplication or division), or a little beyond 10^22 when the
/// digits times the excess power of ten still stay within 2^53. Outside that, it is an
/// approximation, off by a few units in the last place at most (for numbers no record or
/// protocol Cairn reads writes: over 15 significant digits, or beyond 10^±22).
pub fn parse(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent_of(exponent)?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let signed = |v: f64| if negative { -v } else { v };
    let digits = whole.bytes().chain(fraction.bytes());
    let count = whole.len() + fraction.len();
    let Some(first) = digits.clone().position(|b| b != b'0') else {
        return Some(signed(0.0));
    };
    let trailing_zeros = digits.clone().rev().take_while(|&b| b == b'0').count();
    // The number is `m × 10^e10`, exactly when all its digits fit (then `m` < 10^19).
    let mut e10 = exponent
        .saturating_sub(len_i64(fraction.len()))
        .saturating_add(len_i64(trailing_zeros));
    let mut m: u64 = 0;
    let mut kept = 0;
    for b in digits.skip(first).take(count - first - trailing_zeros) {
        if kept < MAX_DIGITS {
            m = m * 10 + u64::from(b - b'0');
            kept += 1;
        } else {
            // Digits past the 19th: `m` is already beyond 2^53, so this is an approximation.
            e10 = e10.saturating_add(1);
        }
    }
    if m <= EXACT_INTEGERS {
        if let Some(&p) = power_of_ten(e10) {
            return Some(signed(m as f64 * p));
        }
        if let Some(&p) = power_of_ten(-e10) {
            return Some(signed(m as f64 / p));
        }
        // Beyond 10^22: the excess power of ten folded into the digits, if they stay exact.
        let excess = power_of_ten(e10 - 22)
            .map(|&p| p as u64)
            .and_then(|p| m.checked_mul(p))
            .filter(|&m| m <= EXACT_INTEGERS);
        if let Some(m) = excess {
            return Some(signed(m as f64 * POWERS_OF_TEN[22]));
        }
    }
    Some(signed(approximate(m, e10)))
}

/// A JSON number as `f64`, from its text (serde_json keeps it: `arbitrary_precision`), as
/// `Number::as_f64` gives it: finite, else `None`. `None` for anything but a number.
pub fn json_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => parse(n.as_str()).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// `10^e` from the table, for `0 ≤ e ≤ 22`.
fn power_of_ten(e: i64) -> Option<&'static f64> {
    usize::try_from(e).ok().and_then(|e| POWERS_OF_TEN.get(e))
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// `m × 10^e10` by steps of at most 10^22: one rounding per step.
fn approximate(m: u64, e10: i64) -> f64 {
    // With 1 ≤ m < 10^19, anything past ±400 is an infinity or a zero anyway.
    let mut e = e10.clamp(-400, 400);
    let mut value = m as f64;
    while e > 22 {
        value *= POWERS_OF_TEN[22];
        e -= 22;
    }
    while e < -22 {
        value /= POWERS_OF_TEN[22];
        e += 22;
    }
    match power_of_ten(e) {
        Some(&p) => value * p,
        None => power_of_ten(-e).map_or(value, |&p| value / p),
    }
}

/// `[+-]digits`, saturating far beyond any finite `f64`'s exponent.
fn exponent_of(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(i64::from(b - b'0'))
            .min(1_000_000)
    });
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn same(text: &str) {
        let ours = parse(text);
        let core = text.parse::<f64>().ok();
        assert_eq!(
            ours.map(f64::to_bits),
            core.map(f64::to_bits),
            "{text}: {ours:?} vs {core:?}"
        );
    }

    #[test]
    fn numbers_as_records_and_protocols_write_them() {
        for text in [
            "0",
            "-0",
            "+0",
            "0.0",
            "-0.000e5",
            "72",
            "37.25",
            "-3.10",
            "0.1",
            "0.2",
            "0.3",
            "79.62835971208244",
            "3600",
            "1700000000",
            "1700000000.5",
            "1.5e3",
            "1.5E+3",
            "25e-1",
            "007",
            "1.",
            ".5",
            "-.5e1",
            "123456789012345678901234567890e-20",
            "9007199254740992",
            "9007199254740993",
            "1e22",
            "1e23",
            "12e22",
            "1e-22",
            "4.5e15",
            "0.000001",
            "100.000000000000000000000000000",
            "255",
            "54.9",
        ] {
            same(text);
        }
    }

    #[test]
    fn text_that_is_no_number_is_refused() {
        for text in [
            "", "-", "+", ".", "-.", "e5", ".e5", "1e", "1e+", "1e-", "1e5.5", "1.2.3", "--1",
            "+-1", " 1", "1 ", "1_000", "0x10", "1,5", "١", "inf", "-inf", "infinity", "NaN",
            "nan", "1ee5", "1e5e5",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_extremes_saturate_as_str_parse_does() {
        assert_eq!(parse("1e400"), Some(f64::INFINITY));
        assert_eq!(parse("-1e99999999999999999999"), Some(f64::NEG_INFINITY));
        assert_eq!(parse("1e-400"), Some(0.0));
        assert_eq!(parse("0e99999999999999999999"), Some(0.0));
        let long = format!("0.{}1", "0".repeat(10_000));
        assert_eq!(parse(&long), Some(0.0));
        let long = format!("1{}", "0".repeat(400));
        assert_eq!(parse(&long), Some(f64::INFINITY));
    }

    #[test]
    fn json_numbers_read_as_serde_json_reads_them() {
        for text in [
            "72",
            "-3.10",
            "1e400",
            "1700000000",
            "0.1",
            "\"5\"",
            "null",
            "true",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(json_number(&value), value.as_f64(), "{text}");
        }
    }

    /// Digits within 2^53 and a power of ten within 10^±22, written every way a number can be
    /// (point anywhere, leading and trailing zeros, an exponent): the same bits as core's parser.
    #[test]
    fn the_fast_path_equals_str_parse_bit_for_bit() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let m = match random.below(3) {
                0 => random.below(1000),
                1 => random.below(10_000_000),
                _ => random.below(EXACT_INTEGERS + 1),
            };
            let digits = m.to_string();
            let point = random.below(digits.len() as u64 + 1) as usize;
            let (whole, fraction) = digits.split_at(point);
            let leading = "0".repeat(random.below(3) as usize);
            let trailing = "0".repeat(random.below(3) as usize);
            // The value is m × 10^(exponent - fraction.len()): keep that power within ±22.
            let power = random.below(45) as i64 - 22;
            let exponent = power + fraction.len() as i64;
            let sign = ["", "-", "+"][random.below(3) as usize];
            let e = ["e", "E"][random.below(2) as usize];
            let text = match (exponent, random.below(2)) {
                (0, 0) => format!("{sign}{leading}{whole}.{fraction}{trailing}"),
                _ => format!("{sign}{leading}{whole}.{fraction}{trailing}{e}{exponent}"),
            };
            same(&text);
            if exponent == 0 {
                same(&format!("{sign}{leading}{digits}"));
            }
        }
    }

    /// Beyond the fast path the result is close: within a few units in the last place.
    #[test]
    fn beyond_the_fast_path_it_is_close() {
        let mut random = Random(0x0123_4567_89ab_cdef);
        for _ in 0..100_000 {
            let digits: String = (0..1 + random.below(25))
                .map(|_| char::from(b'0' + random.below(10) as u8))
                .collect();
            let text = format!("{digits}e{}", random.below(640) as i64 - 320);
            let core: f64 = text.parse().unwrap();
            let ours = parse(&text).unwrap();
            if !core.is_normal() || core > 1e307 {
                // Near the ends of the range: only not a number of another order.
                assert!(
                    ours < 1e-300 || core < 1e-300 || ours > 1e300,
                    "{text}: {ours:e}"
                );
                continue;
            }
            let ulps = ours.to_bits().abs_diff(core.to_bits());
            assert!(ulps <= 16, "{text}: {ours:e} vs {core:e} ({ulps} ulps)");
        }
    }

    /// Any text at all: no panic, and never a number where `str::parse` sees none.
    #[test]
    fn garbage_never_panics_nor_reads_as_a_number() {
        let alphabet: Vec<char> = "0123456789.eE+-naifty x\u{0661}".chars().collect();
        let mut random = Random(0xdead_beef_cafe_f00d);
        for _ in 0..200_000 {
            let text: String = (0..random.below(12))
                .map(|_| alphabet[random.below(alphabet.len() as u64) as usize])
                .collect();
            if let Some(ours) = parse(&text) {
                let core: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("{text:?} read as {ours}"));
                if core.is_normal() && core.abs() < 1e300 {
                    let ulps = ours.to_bits().abs_diff(core.to_bits());
                    assert!(ulps <= 16, "{text:?}: {ours:e} vs {core:e}");
                }
            }
        }
    }
}
