//! Numbers and units as a clinician reads them. Vital signs are shown at clinical precision,
//! chosen by LOINC code ([`CLINICAL_PRECISION`]); laboratory and other values keep the
//! precision they were reported at, unless that is floating-point noise. Units are written as
//! people write them (`mm[Hg]` → `mmHg`). Rounding works on the recorded decimal text, never on
//! a binary float, and nothing here panics on any input. The recorded value is never lost:
//! [`Precision::Recorded`] shows it exactly as the record wrote it.

/// How many decimals to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Exactly as recorded, unit included: the value one interaction away.
    Recorded,
    /// As the lab reported it; more than [`MAX_REPORTED_DECIMALS`] decimals is noise, shown
    /// to [`NOISE_SIGNIFICANT_FIGURES`] significant figures.
    Reported,
    /// This many decimals, always (clinical precision).
    Decimals(u8),
}

/// More decimals than this is a floating-point value written out in full (Synthea writes
/// `79.62835971208244` kg), not a lab's precision.
pub const MAX_REPORTED_DECIMALS: usize = 4;
/// Significant figures a noisy value is shown to.
pub const NOISE_SIGNIFICANT_FIGURES: i64 = 4;

/// Clinical precision of vital signs and similar measurements, by LOINC code: the decimals
/// shown (what each code is, in its comment).
pub const CLINICAL_PRECISION: &[(&str, u8)] = &[
    // Blood pressure: whole mmHg.
    ("85354-9", 0), // Blood pressure panel
    ("55284-4", 0), // Blood pressure systolic and diastolic
    ("8480-6", 0),  // Systolic blood pressure
    ("8462-4", 0),  // Diastolic blood pressure
    ("8478-0", 0),  // Mean blood pressure
    // Rates: whole beats and breaths per minute.
    ("8867-4", 0), // Heart rate
    ("9279-1", 0), // Respiratory rate
    // Oxygen: whole percent.
    ("59408-5", 0), // Oxygen saturation by pulse oximetry
    ("2708-6", 0),  // Oxygen saturation in arterial blood
    ("2710-2", 0),  // Oxygen saturation in capillary blood
    ("3150-0", 0),  // Inhaled oxygen concentration
    // Temperature: one decimal (°C or °F).
    ("8310-5", 1), // Body temperature
    ("8331-1", 1), // Oral temperature
    // Body size: one decimal.
    ("29463-7", 1), // Body weight
    ("3141-9", 1),  // Body weight measured
    ("8302-2", 1),  // Body height
    ("8306-3", 1),  // Body height lying
    ("39156-5", 1), // Body mass index
    ("9843-4", 1),  // Head occipital-frontal circumference
    ("8287-5", 1),  // Head circumference by tape
    // Percentiles for age: whole percentiles.
    ("59576-9", 0), // BMI percentile per age and sex
    ("77606-2", 0), // Weight-for-length percentile
    ("8289-1", 0),  // Head circumference percentile
    // Pain scores: whole points.
    ("72514-3", 0), // Pain severity 0-10 numeric rating
    ("38208-5", 0), // Pain severity reported
];

/// The precision for a value coded `loinc`: clinical for the codes in
/// [`CLINICAL_PRECISION`], as reported otherwise.
pub fn precision_for(loinc: Option<&str>) -> Precision {
    loinc
        .and_then(|code| CLINICAL_PRECISION.iter().find(|(c, _)| *c == code))
        .map_or(Precision::Reported, |&(_, decimals)| {
            Precision::Decimals(decimals)
        })
}

/// A decimal read from its text: `digits` × 10^-`scale`, without leading zeros.
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    scale: i64,
}

/// Longest text read as a number, and the widest exponent: beyond them, the text is shown as
/// written.
const MAX_NUMBER_CHARS: usize = 64;
const MAX_EXPONENT: i64 = 40;

impl Decimal {
    /// `-?digits[.digits][e±digits]`, as JSON writes numbers.
    fn parse(text: &str) -> Option<Decimal> {
        if text.len() > MAX_NUMBER_CHARS {
            return None;
        }
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, exponent(e)?),
            None => (rest, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let digits: Vec<u8> = whole
            .bytes()
            .chain(fraction.bytes())
            .map(|b| b - b'0')
            .skip_while(|&d| d == 0)
            .collect();
        Some(Decimal {
            negative,
            digits,
            scale: fraction.len() as i64 - exponent,
        })
    }

    /// Digits before the decimal point, counting from the first significant one (negative for
    /// `0.00x`). Zero for zero.
    fn magnitude(&self) -> i64 {
        self.digits.len() as i64 - self.scale
    }

    /// Rounded half away from zero to `decimals` decimals (never more than it has).
    fn round(mut self, decimals: i64) -> Decimal {
        let drop = self.scale - decimals;
        if drop <= 0 {
            return self;
        }
        let keep = self.digits.len() as i64 - drop;
        let round_up = keep >= 0 && self.digits.get(keep as usize).is_some_and(|&d| d >= 5);
        self.digits.truncate(keep.max(0) as usize);
        self.scale = decimals;
        if round_up {
            let mut i = self.digits.len();
            loop {
                if i == 0 {
                    self.digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if self.digits[i] == 9 {
                    self.digits[i] = 0;
                } else {
                    self.digits[i] += 1;
                    break;
                }
            }
        }
        self
    }

    /// Written out with exactly `decimals` decimals (at least as many as it has).
    fn write(&self, decimals: i64) -> String {
        let decimals = decimals.max(self.scale).max(0) as usize;
        // digits × 10^(decimals - scale): the digits with zeros appended.
        let mut digits: Vec<u8> = self.digits.clone();
        let extra = decimals as i64 - self.scale;
        digits.extend(std::iter::repeat_n(0, extra.max(0) as usize));
        if digits.len() <= decimals {
            let mut padded = vec![0; decimals + 1 - digits.len()];
            padded.extend(digits);
            digits = padded;
        }
        let point = digits.len() - decimals;
        let mut out = String::with_capacity(digits.len() + 2);
        if self.negative && digits.iter().any(|&d| d != 0) {
            out.push('-');
        }
        for (i, d) in digits.iter().enumerate() {
            if i == point {
                out.push('.');
            }
            out.push(char::from(b'0' + d));
        }
        out
    }
}

/// A number computed or carried as `f64` (a trend's lowest and highest) at `precision`, from
/// its shortest decimal text: a value read from a record reads as it was written, then is
/// rounded as decimal text.
pub fn number_of(value: f64, precision: Precision) -> String {
    let shortest = shortest(value);
    number(&shortest, precision).unwrap_or(shortest)
}

/// `value` as `value.to_string()` writes it: the shortest decimal that reads back as the same
/// `f64`, without an exponent. Its digits come from `zmij`, which `serde_json` carries anyway,
/// so the app needs none of core's float formatting (about 10 KB of wasm).
pub fn shortest(value: f64) -> String {
    if !value.is_finite() {
        return not_finite(value);
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(value);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The digits without leading or trailing zeros, and where the point goes among them.
    let all = format!("{whole}{fraction}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0');
    let mut point = whole.len() as i64 + exponent - leading as i64;
    // Where two shortest decimals are equally close, Rust takes the higher one and zmij the
    // even one: the exact value is then the lower one followed by a 5.
    let bumped;
    let mut digits = digits;
    if let Some((exact, exact_point)) = exact_decimal(value)
        && exact_point == point
        && exact.strip_suffix('5') == Some(digits)
    {
        bumped = increment(digits);
        point += (bumped.len() - digits.len()) as i64;
        digits = bumped.trim_end_matches('0');
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    out
}

/// The exact decimal digits of a finite `value`, without trailing zeros, and where the point
/// goes among them; `None` when they are more than 18 (more than a shortest decimal's 17 and
/// one: no tie between two shortest decimals is possible).
fn exact_decimal(value: f64) -> Option<(String, i64)> {
    let (m, e) = parts(value);
    if m == 0 {
        return None;
    }
    // m × 2^e with m odd.
    let (m, e) = (m >> m.trailing_zeros(), e + i64::from(m.trailing_zeros()));
    let (lsb_first, fraction_digits) = if e >= 0 {
        (times_power_of_two(m, e.unsigned_abs()), 0)
    } else if e >= -26 {
        // m × 2^e = m × 5^-e / 10^-e, and 5^26 × 2^53 < 2^128.
        let n = u128::from(m) * 5u128.pow(e.unsigned_abs() as u32);
        (digits_of(n), -e)
    } else {
        // 5^27 alone has 19 digits.
        return None;
    };
    let text: String = lsb_first
        .iter()
        .rev()
        .map(|&d| char::from(b'0' + d))
        .collect();
    let point = text.len() as i64 - fraction_digits;
    let text = text.trim_end_matches('0');
    (text.len() <= 18).then(|| (text.to_owned(), point))
}

/// Decimal `digits` plus one in the last place: `129` → `130`, `99` → `100`.
fn increment(digits: &str) -> String {
    let mut out: Vec<u8> = digits.bytes().collect();
    for d in out.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8(out).unwrap_or_default();
        }
    }
    out.insert(0, b'1');
    String::from_utf8(out).unwrap_or_default()
}

/// A finite `value`'s magnitude as `m × 2^e`, exactly.
fn parts(value: f64) -> (u64, i64) {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | 1 << 52, biased - 1075)
    }
}

/// The decimal digits of `n`, least significant first (none for zero).
fn digits_of(mut n: u128) -> Vec<u8> {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 10) as u8);
        n /= 10;
    }
    digits
}

/// The decimal digits of `m × 2^e`, least significant first.
fn times_power_of_two(m: u64, e: u64) -> Vec<u8> {
    let mut digits = digits_of(u128::from(m));
    for _ in 0..e {
        let mut carry = 0;
        for d in &mut digits {
            let doubled = *d * 2 + carry;
            *d = doubled % 10;
            carry = doubled / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    }
    digits
}

/// `value` with one decimal, as `format!("{value:.1}")` writes it (the exact binary value
/// rounded half to even), in integer arithmetic: a trend's coordinates, without core's float
/// formatting.
pub fn one_decimal(value: f64) -> String {
    if !value.is_finite() {
        return not_finite(value);
    }
    let (m, e) = parts(value);
    // Tenths: m × 10 × 2^e, rounded half to even, as decimal digits, least significant first.
    let mut tenths = if e >= 0 {
        let mut digits = times_power_of_two(m, e.unsigned_abs());
        digits.insert(0, 0);
        digits
    } else {
        let scaled = u128::from(m) * 10;
        let shift = e.unsigned_abs();
        digits_of(if shift >= 128 {
            0
        } else {
            let q = scaled >> shift;
            let rest = scaled - (q << shift);
            let half = 1u128 << (shift - 1);
            if rest > half || (rest == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        })
    };
    while tenths.len() < 2 {
        tenths.push(0);
    }
    let mut out = String::with_capacity(tenths.len() + 2);
    if value.is_sign_negative() {
        out.push('-');
    }
    for &d in tenths[1..].iter().rev() {
        out.push(char::from(b'0' + d));
    }
    out.push('.');
    out.push(char::from(b'0' + tenths[0]));
    out
}

/// NaN and the infinities, as Rust writes them.
fn not_finite(value: f64) -> String {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
    .to_owned()
}

/// An exponent, `[+-]digits`, no wider than [`MAX_EXPONENT`].
fn exponent(text: &str) -> Option<i64> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(digits) => (-1, digits),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.bytes().fold(0, |n, b| n * 10 + i64::from(b - b'0'));
    (value <= MAX_EXPONENT).then_some(sign * value)
}

/// The recorded number `written` (its JSON text) at `precision`; `None` when it is not a
/// plain JSON number. A negative exponent's value is written out in full.
pub fn number(written: &str, precision: Precision) -> Option<String> {
    if precision == Precision::Recorded {
        return Some(written.to_owned());
    }
    let decimal = Decimal::parse(written)?;
    Some(match precision {
        Precision::Decimals(n) => {
            let n = i64::from(n);
            decimal.round(n).write(n)
        }
        _ if decimal.scale > MAX_REPORTED_DECIMALS as i64 && !decimal.digits.is_empty() => {
            let decimals = (NOISE_SIGNIFICANT_FIGURES - decimal.magnitude()).max(0);
            decimal.round(decimals).write(0)
        }
        _ => decimal.write(0),
    })
}

/// Whole UCUM units as people write them, where the rules of [`unit`] would not do.
const WHOLE_UNITS: &[(&str, &str)] = &[
    ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
    ("mL/min/1.73m2", "mL/min/1.73 m²"),
    ("[pH]", "pH"),
    ("1", ""),
    ("Cel", "°C"),
];

/// Parts of UCUM units as people write them.
const UNIT_PARTS: &[(&str, &str)] = &[
    ("mm[Hg]", "mmHg"),
    ("cm[H2O]", "cmH₂O"),
    ("[degF]", "°F"),
    ("[in_i]", "in"),
    ("[ft_i]", "ft"),
    ("[lb_av]", "lb"),
    ("[oz_av]", "oz"),
    ("[iU]", "IU"),
    ("[IU]", "IU"),
    ("10*12", "10¹²"),
    ("10*3", "10³"),
    ("10*6", "10⁶"),
    ("10*9", "10⁹"),
    ("m2", "m²"),
    ("m3", "m³"),
    ("meq", "mEq"),
    ("ug", "µg"),
    ("uL", "µL"),
    ("umol", "µmol"),
    ("uU", "µU"),
];

/// A unit as people write it: UCUM's brackets and codes replaced (`mm[Hg]` → `mmHg`,
/// `kg/m2` → `kg/m²`, `Cel` → `°C`, `10*3/uL` → `10³/µL`), `{…}` annotations dropped
/// (`{beats}/min` → `/min`, `{score}` → nothing). Units already written for people pass
/// unchanged.
pub fn unit(ucum: &str) -> String {
    let ucum = ucum.trim();
    if let Some(&(_, shown)) = WHOLE_UNITS.iter().find(|(u, _)| *u == ucum) {
        return shown.to_owned();
    }
    // Annotations go first: their text is not a unit.
    let mut out = String::with_capacity(ucum.len());
    let mut depth = 0usize;
    for c in ucum.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    for (from, to) in UNIT_PARTS {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out.trim().to_owned()
}

/// `number` followed by `unit` at `precision`: as recorded, or as people write it ([`unit`]:
/// a space between, none before `%`).
pub fn with_unit(number: &str, unit: &str, precision: Precision) -> String {
    let unit = match precision {
        Precision::Recorded => unit.to_owned(),
        _ => self::unit(unit),
    };
    let mut out = number.to_owned();
    if !unit.is_empty() && unit != "%" {
        out.push(' ');
    }
    out.push_str(&unit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles across the whole range: every exponent, subnormals, both signs, and the
    /// decimals a trend draws (`k / 20` is where one decimal rounds on a tie).
    fn doubles() -> Vec<f64> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values: Vec<f64> = (0..50_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                f64::from_bits(state)
            })
            .collect();
        values.extend((-5000..5000).map(|k| f64::from(k) / 20.0));
        values.extend((0..5000).map(|k| f64::from(k) / 100.0 + 0.05));
        values.extend((0..2000).map(|k| f64::from(k) * 0.1));
        // Short binary fractions: where two shortest decimals can be equally close.
        values.extend((1..60).flat_map(|shift| {
            (1..300).map(move |k| (f64::from(k) + 8.0 * f64::from(shift)) * 2f64.powi(-shift))
        }));
        values.extend([
            0.0,
            -0.0,
            0.25,
            0.35,
            -0.04,
            1e21,
            1e22,
            1.5e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            9.95,
            99.95,
            8.0 + 1.0 / 65536.0,
            1.0 / 33_554_432.0,
            233_115_890_514_796.12,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]);
        values
    }

    #[test]
    fn shortest_writes_what_to_string_writes() {
        for value in doubles() {
            assert_eq!(shortest(value), value.to_string(), "{:e}", value);
        }
    }

    #[test]
    fn one_decimal_writes_what_format_writes() {
        for value in doubles() {
            assert_eq!(one_decimal(value), format!("{value:.1}"), "{value:e}");
        }
    }

    #[test]
    fn clinical_precision_rounds_the_recorded_decimal() {
        let d = Precision::Decimals;
        let cases: &[(&str, Precision, &str)] = &[
            ("122.458769", d(0), "122"),
            ("86.929055", d(0), "87"),
            ("72", d(0), "72"),
            ("37.25", d(1), "37.3"),
            ("37.35", d(1), "37.4"),
            // 0.15 and 2.675 are not exact in binary: f64 formatting gives 0.1 and 2.67.
            ("0.15", d(1), "0.2"),
            ("2.675", d(2), "2.68"),
            ("1.005", d(2), "1.01"),
            ("79.62835971208244", d(1), "79.6"),
            ("99.96", d(1), "100.0"),
            ("9.5", d(0), "10"),
            ("0.4", d(0), "0"),
            ("0.5", d(0), "1"),
            ("-0.4", d(0), "0"),
            ("-2.5", d(0), "-3"),
            ("70", d(1), "70.0"),
            ("0", d(1), "0.0"),
            ("0.04", d(1), "0.0"),
            ("1.5e2", d(0), "150"),
            ("1E-2", d(1), "0.0"),
            ("12.0000000000000001", d(1), "12.0"),
        ];
        for &(written, precision, shown) in cases {
            assert_eq!(
                number(written, precision).as_deref(),
                Some(shown),
                "{written} at {precision:?}"
            );
        }
    }

    #[test]
    fn reported_values_keep_their_precision_unless_it_is_noise() {
        let cases: &[(&str, &str)] = &[
            ("3.10", "3.10"),
            ("0.050", "0.050"),
            ("-12", "-12"),
            ("1.2345", "1.2345"),
            ("140", "140"),
            // More than four decimals: four significant figures.
            ("0.727458", "0.7275"),
            ("12.345678", "12.35"),
            ("1234.56789", "1235"),
            ("123456.78901", "123457"),
            ("0.000123456", "0.0001235"),
            ("2.50000000000001", "2.500"),
            ("0.00000", "0.00000"),
            // Rounding up may add a digit.
            ("99.99999", "100.00"),
            // Exponents are written out.
            ("1.5e3", "1500"),
            ("2E-2", "0.02"),
            ("1e-7", "0.0000001"),
        ];
        for &(written, shown) in cases {
            assert_eq!(
                number(written, Precision::Reported).as_deref(),
                Some(shown),
                "{written}"
            );
        }
    }

    #[test]
    fn the_recorded_text_is_kept_and_odd_input_never_panics() {
        assert_eq!(
            number("79.62835971208244", Precision::Recorded).as_deref(),
            Some("79.62835971208244")
        );
        for odd in [
            "", "-", ".", "1.", ".5", "1e", "e5", "1e999999", "abc", "1.2.3", "--1", "1e-99",
        ] {
            for precision in [Precision::Reported, Precision::Decimals(1)] {
                let shown = number(odd, precision);
                if let Some(shown) = shown {
                    assert!(
                        shown
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b"-.".contains(&b))
                    );
                }
            }
        }
        assert_eq!(number(&"9".repeat(65), Precision::Reported), None);
        let mut rng = crate::testing::SplitMix(7);
        for _ in 0..5000 {
            let bytes = rng.mutate(b"-12.345678e-3");
            let text = String::from_utf8_lossy(&bytes);
            for precision in [
                Precision::Reported,
                Precision::Decimals(0),
                Precision::Decimals(3),
            ] {
                let _ = number(&text, precision);
            }
        }
    }

    #[test]
    fn vital_signs_take_the_precision_of_their_code() {
        assert_eq!(precision_for(Some("8480-6")), Precision::Decimals(0));
        assert_eq!(precision_for(Some("8310-5")), Precision::Decimals(1));
        assert_eq!(precision_for(Some("29463-7")), Precision::Decimals(1));
        assert_eq!(precision_for(Some("72514-3")), Precision::Decimals(0));
        assert_eq!(precision_for(Some("2339-0")), Precision::Reported);
        assert_eq!(precision_for(None), Precision::Reported);
        // Each code once.
        for (i, (code, _)) in CLINICAL_PRECISION.iter().enumerate() {
            assert!(
                CLINICAL_PRECISION[i + 1..].iter().all(|(c, _)| c != code),
                "{code} twice"
            );
        }
    }

    #[test]
    fn units_as_people_write_them() {
        let cases: &[(&str, &str)] = &[
            ("mm[Hg]", "mmHg"),
            ("kg/m2", "kg/m²"),
            ("Cel", "°C"),
            ("[degF]", "°F"),
            ("%", "%"),
            ("/min", "/min"),
            ("{beats}/min", "/min"),
            ("{score}", ""),
            ("10*3/uL", "10³/µL"),
            ("10*6/uL", "10⁶/µL"),
            ("10*9/L", "10⁹/L"),
            ("10*12/L", "10¹²/L"),
            ("ug/dL", "µg/dL"),
            ("umol/L", "µmol/L"),
            ("meq/L", "mEq/L"),
            ("[iU]/L", "IU/L"),
            ("[lb_av]", "lb"),
            ("[in_i]", "in"),
            ("cm[H2O]", "cmH₂O"),
            ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
            ("[pH]", "pH"),
            ("1", ""),
            ("kg", "kg"),
            ("mg/dL", "mg/dL"),
            ("fL", "fL"),
            ("g/dL", "g/dL"),
            // Written for people already, or not a code: unchanged.
            ("mmHg", "mmHg"),
            ("beats/minute", "beats/minute"),
            ("°C", "°C"),
            ("{unclosed", ""),
            ("}", "}"),
        ];
        for &(ucum, shown) in cases {
            assert_eq!(unit(ucum), shown, "{ucum}");
        }
    }

    #[test]
    fn numbers_and_units_join_as_people_write_them() {
        let people = Precision::Reported;
        assert_eq!(with_unit("98", "%", people), "98%");
        assert_eq!(with_unit("37.2", "Cel", people), "37.2 °C");
        assert_eq!(with_unit("3", "{score}", people), "3");
        assert_eq!(with_unit("3", "", people), "3");
        assert_eq!(
            with_unit("0.727458", "{score}", Precision::Recorded),
            "0.727458 {score}"
        );
    }
}
