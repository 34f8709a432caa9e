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
    let shortest = value.to_string();
    number(&shortest, precision).unwrap_or(shortest)
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
