//! Observation, decoded field by field: every `value[x]` type, components, `dataAbsentReason`,
//! reference ranges and interpretation flags. A wrong-typed field is absent, never an error,
//! and nothing here panics on any JSON.

use serde_json::Value;

use crate::domain::decimal;
use crate::domain::precision::{self, Precision};
use crate::fhir::json::{array, text_max};

/// Longest text kept from any one field.
const MAX_TEXT_CHARS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

/// A CodeableConcept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Concept {
    pub text: Option<String>,
    pub codings: Vec<Coding>,
}

impl Concept {
    /// What a person reads: the text, else the first display, else the first code.
    pub fn label(&self) -> Option<&str> {
        self.text
            .as_deref()
            .or_else(|| self.codings.iter().find_map(|c| c.display.as_deref()))
            .or_else(|| self.codings.iter().find_map(|c| c.code.as_deref()))
    }

    /// True when a coding has this `code` (any system).
    pub fn has_code(&self, code: &str) -> bool {
        self.codings.iter().any(|c| c.code.as_deref() == Some(code))
    }

    /// The LOINC code, if any coding is LOINC.
    pub fn loinc(&self) -> Option<&str> {
        self.codings
            .iter()
            .find(|c| c.system.as_deref() == Some(LOINC))
            .and_then(|c| c.code.as_deref())
    }
}

pub const LOINC: &str = "http://loinc.org";

/// A Quantity: the number as written (FHIR decimals keep their precision), the unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quantity {
    pub value: Option<f64>,
    /// `value` exactly as the record wrote it (`3.10` stays `3.10`: trailing zeros state its
    /// precision; `79.62835971208244` too): the number is shown from this text.
    pub written: Option<String>,
    pub comparator: Option<String>,
    pub unit: Option<String>,
}

impl Quantity {
    /// The quantity at `precision`: comparator, number and unit, the unit as people write it
    /// (as recorded for [`Precision::Recorded`]).
    pub fn display(&self, precision: Precision) -> Option<String> {
        let number = self.number(precision)?;
        let number = format!("{}{number}", self.comparator.as_deref().unwrap_or(""));
        let unit = self.unit.as_deref().unwrap_or("");
        Some(precision::with_unit(&number, unit, precision))
    }

    /// The number alone at `precision`, from the recorded text.
    pub fn number(&self, precision: Precision) -> Option<String> {
        let value = self.value?;
        Some(
            self.written
                .as_deref()
                .and_then(|written| precision::number(written, precision))
                .unwrap_or_else(|| format_number(value)),
        )
    }
}

/// `value[x]`, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum ObsValue {
    Quantity(Quantity),
    Concept(Concept),
    String(String),
    Boolean(bool),
    Integer(i64),
    Range {
        low: Option<Quantity>,
        high: Option<Quantity>,
    },
    Ratio {
        numerator: Option<Quantity>,
        denominator: Option<Quantity>,
    },
    /// Sampled data is a waveform: shown as a summary, not drawn.
    SampledData {
        dimensions: Option<u64>,
        period_ms: Option<f64>,
    },
    Time(String),
    DateTime(String),
    Period {
        start: Option<String>,
        end: Option<String>,
    },
    /// `dataAbsentReason`: the value is missing, and the EHR says why.
    Absent(String),
    /// No value and no reason (components may carry the values).
    None,
}

impl ObsValue {
    /// The value as one line of text, its numbers at `precision`.
    pub fn display(&self, precision: Precision) -> Option<String> {
        let quantity = |q: &Option<Quantity>| q.as_ref().and_then(|q| q.display(precision));
        match self {
            ObsValue::Quantity(q) => q.display(precision),
            ObsValue::Concept(c) => c.label().map(str::to_owned),
            ObsValue::String(s) | ObsValue::Time(s) | ObsValue::DateTime(s) => Some(s.clone()),
            ObsValue::Boolean(b) => Some(if *b { "Yes" } else { "No" }.to_owned()),
            ObsValue::Integer(i) => Some(i.to_string()),
            ObsValue::Range { low, high } => {
                let (low, high) = (quantity(low), quantity(high));
                match (low, high) {
                    (Some(l), Some(h)) => Some(format!("{l} – {h}")),
                    (Some(l), None) => Some(format!("≥ {l}")),
                    (None, Some(h)) => Some(format!("≤ {h}")),
                    (None, None) => None,
                }
            }
            ObsValue::Ratio {
                numerator,
                denominator,
            } => {
                let n = quantity(numerator)?;
                let d = quantity(denominator)?;
                Some(format!("{n} / {d}"))
            }
            ObsValue::SampledData {
                dimensions,
                period_ms,
            } => Some(match (dimensions, period_ms) {
                (Some(d), Some(p)) => {
                    format!("Waveform ({d} channel(s), every {} ms)", format_number(*p))
                }
                _ => "Waveform".to_owned(),
            }),
            ObsValue::Period { start, end } => match (start, end) {
                (Some(s), Some(e)) => Some(format!("{s} to {e}")),
                (Some(s), None) => Some(format!("from {s}")),
                (None, Some(e)) => Some(format!("until {e}")),
                (None, None) => None,
            },
            ObsValue::Absent(reason) => Some(format!("No value: {reason}")),
            ObsValue::None => None,
        }
    }

    /// The number to plot on a trend chart, if the value is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            ObsValue::Quantity(q) => q.value,
            ObsValue::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub code: Concept,
    pub value: ObsValue,
}

/// `referenceRange[0]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceRange {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
    pub text: Option<String>,
}

impl ReferenceRange {
    pub fn display(&self, precision: Precision) -> Option<String> {
        if let Some(text) = &self.text {
            return Some(text.clone());
        }
        ObsValue::Range {
            low: self.low.clone(),
            high: self.high.clone(),
        }
        .display(precision)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub id: Option<String>,
    pub status: Option<String>,
    /// Category codes (`vital-signs`, `laboratory`, …).
    pub categories: Vec<String>,
    pub code: Concept,
    /// `effectiveDateTime`, `effectiveInstant`, `effectivePeriod.start`, else `issued`: as
    /// written, at its precision.
    pub effective: Option<String>,
    pub value: ObsValue,
    pub components: Vec<Component>,
    /// Interpretation codes (H, L, HH, LL, A, N, …).
    pub interpretation: Vec<String>,
    pub reference_range: Option<ReferenceRange>,
    /// `hasMember` references (a panel's results).
    pub has_member: Vec<String>,
    /// `encounter.reference`.
    pub encounter: Option<String>,
}

impl Observation {
    /// True when an interpretation code marks the result abnormal.
    pub fn is_abnormal(&self) -> bool {
        self.interpretation.iter().any(|c| {
            matches!(
                c.as_str(),
                "H" | "L" | "HH" | "LL" | "A" | "AA" | "HU" | "LU" | "<" | ">"
            )
        })
    }

    /// The component whose code is `code` (e.g. LOINC 8480-6, systolic pressure).
    pub fn component(&self, code: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.code.has_code(code))
    }
}

/// Decodes whatever is usable in an Observation. `None` when `v` is not an Observation.
pub fn decode_observation(v: &Value) -> Option<Observation> {
    if v.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return None;
    }
    let period_start = v.get("effectivePeriod").and_then(|p| text(p.get("start")));
    Some(Observation {
        id: text(v.get("id")),
        status: text(v.get("status")),
        categories: array(v.get("category"))
            .flat_map(|c| array(c.get("coding")))
            .filter_map(|c| text(c.get("code")))
            .collect(),
        code: concept(v.get("code")),
        effective: text(v.get("effectiveDateTime"))
            .or_else(|| text(v.get("effectiveInstant")))
            .or(period_start)
            .or_else(|| text(v.get("issued"))),
        value: value_x(v),
        components: array(v.get("component"))
            .map(|c| Component {
                code: concept(c.get("code")),
                value: value_x(c),
            })
            .collect(),
        interpretation: array(v.get("interpretation"))
            .flat_map(|i| array(i.get("coding")))
            .filter_map(|c| text(c.get("code")))
            .collect(),
        reference_range: array(v.get("referenceRange"))
            .next()
            .map(|r| ReferenceRange {
                low: quantity(r.get("low")),
                high: quantity(r.get("high")),
                text: text(r.get("text")),
            }),
        has_member: array(v.get("hasMember"))
            .filter_map(|m| text(m.get("reference")))
            .collect(),
        encounter: v.get("encounter").and_then(|e| text(e.get("reference"))),
    })
}

/// `value[x]` of an Observation or a component, else its `dataAbsentReason`.
fn value_x(v: &Value) -> ObsValue {
    if let Some(q) = quantity(v.get("valueQuantity")) {
        return ObsValue::Quantity(q);
    }
    if let Some(c) = v.get("valueCodeableConcept").filter(|c| c.is_object()) {
        return ObsValue::Concept(concept(Some(c)));
    }
    if let Some(s) = text(v.get("valueString")) {
        return ObsValue::String(s);
    }
    if let Some(b) = v.get("valueBoolean").and_then(Value::as_bool) {
        return ObsValue::Boolean(b);
    }
    if let Some(i) = v.get("valueInteger").and_then(Value::as_i64) {
        return ObsValue::Integer(i);
    }
    if let Some(r) = v.get("valueRange").filter(|r| r.is_object()) {
        return ObsValue::Range {
            low: quantity(r.get("low")),
            high: quantity(r.get("high")),
        };
    }
    if let Some(r) = v.get("valueRatio").filter(|r| r.is_object()) {
        return ObsValue::Ratio {
            numerator: quantity(r.get("numerator")),
            denominator: quantity(r.get("denominator")),
        };
    }
    if let Some(s) = v.get("valueSampledData").filter(|s| s.is_object()) {
        return ObsValue::SampledData {
            dimensions: s.get("dimensions").and_then(Value::as_u64),
            period_ms: s.get("period").and_then(decimal::json_number),
        };
    }
    if let Some(t) = text(v.get("valueTime")) {
        return ObsValue::Time(t);
    }
    if let Some(t) = text(v.get("valueDateTime")) {
        return ObsValue::DateTime(t);
    }
    if let Some(p) = v.get("valuePeriod").filter(|p| p.is_object()) {
        return ObsValue::Period {
            start: text(p.get("start")),
            end: text(p.get("end")),
        };
    }
    if let Some(reason) = v.get("dataAbsentReason") {
        let reason = concept(Some(reason));
        return ObsValue::Absent(reason.label().unwrap_or("not recorded").to_owned());
    }
    ObsValue::None
}

pub(crate) fn concept(v: Option<&Value>) -> Concept {
    Concept {
        text: v.and_then(|c| text(c.get("text"))),
        codings: array(v.and_then(|c| c.get("coding")))
            .map(|c| Coding {
                system: text(c.get("system")),
                code: text(c.get("code")),
                display: text(c.get("display")),
            })
            .collect(),
    }
}

fn quantity(v: Option<&Value>) -> Option<Quantity> {
    let v = v.filter(|q| q.is_object())?;
    let number = v.get("value");
    let value = number.and_then(decimal::json_number);
    // serde_json keeps each number's text (`arbitrary_precision`).
    let written = number
        .and_then(Value::as_number)
        .map(|n| n.as_str().to_owned())
        .filter(|_| value.is_some());
    let unit = text(v.get("unit")).or_else(|| text(v.get("code")));
    (value.is_some() || unit.is_some()).then(|| Quantity {
        value,
        written,
        comparator: text(v.get("comparator"))
            .filter(|c| matches!(c.as_str(), "<" | "<=" | ">=" | ">")),
        unit,
    })
}

/// A computed number as people write it: its shortest decimal form, more than four decimals
/// rounded to four significant figures ([`Precision::Reported`]), no trailing zeros. Decimal
/// rounding of the text: no float formatting machinery of its own.
pub fn format_number(value: f64) -> String {
    let n = precision::number_of(value, Precision::Reported);
    if n.contains('.') {
        n.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        n
    }
}

/// For tests: `value` as a record would write it (`180`, not `180.0`), as a JSON number.
#[cfg(test)]
pub(crate) fn recorded(value: f64) -> Value {
    serde_json::from_str(&format_number(value)).expect("a number")
}

/// A text field, cut to [`MAX_TEXT_CHARS`].
fn text(v: Option<&Value>) -> Option<String> {
    text_max(v, MAX_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value_of(fields: Value) -> Option<String> {
        let mut obs = json!({"resourceType": "Observation", "id": "o", "code": {"text": "X"}});
        for (k, v) in fields.as_object().unwrap() {
            obs[k] = v.clone();
        }
        decode_observation(&obs)
            .unwrap()
            .value
            .display(Precision::Reported)
    }

    #[test]
    fn every_value_type_is_shown() {
        let cases: Vec<(Value, Option<&str>)> = vec![
            (
                json!({"valueQuantity": {"value": 72, "unit": "/min"}}),
                Some("72 /min"),
            ),
            (
                json!({"valueQuantity": {"value": 37.25, "code": "Cel"}}),
                Some("37.25 °C"),
            ),
            (
                json!({"valueQuantity": {"value": 5, "comparator": "<", "unit": "mg"}}),
                Some("<5 mg"),
            ),
            (json!({"valueQuantity": {"value": 5}}), Some("5")),
            (
                json!({"valueCodeableConcept": {"coding": [{"code": "POS", "display": "Positive"}]}}),
                Some("Positive"),
            ),
            (
                json!({"valueString": "<script>alert(1)</script>"}),
                Some("<script>alert(1)</script>"),
            ),
            (json!({"valueBoolean": false}), Some("No")),
            (json!({"valueInteger": 3}), Some("3")),
            (
                json!({"valueRange": {"low": {"value": 1, "unit": "g"}, "high": {"value": 2, "unit": "g"}}}),
                Some("1 g – 2 g"),
            ),
            (
                json!({"valueRange": {"low": {"value": 1, "unit": "g"}}}),
                Some("≥ 1 g"),
            ),
            (
                json!({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 128}}}),
                Some("1 / 128"),
            ),
            (
                json!({"valueSampledData": {"period": 10, "dimensions": 1, "data": "1 2 3"}}),
                Some("Waveform (1 channel(s), every 10 ms)"),
            ),
            (json!({"valueTime": "12:30:00"}), Some("12:30:00")),
            (json!({"valueDateTime": "2020-05"}), Some("2020-05")),
            (
                json!({"valuePeriod": {"start": "2020-01-01"}}),
                Some("from 2020-01-01"),
            ),
            (
                json!({"dataAbsentReason": {"coding": [{"code": "asked-unknown", "display": "Asked But Unknown"}]}}),
                Some("No value: Asked But Unknown"),
            ),
            (
                json!({"dataAbsentReason": {}}),
                Some("No value: not recorded"),
            ),
            (json!({}), None),
            // Wrong types degrade to "no value", never an error.
            (json!({"valueQuantity": "72"}), None),
            (json!({"valueInteger": "3"}), None),
            (json!({"valueQuantity": {"value": "NaN"}}), None),
        ];
        for (fields, want) in cases {
            assert_eq!(value_of(fields.clone()).as_deref(), want, "{fields}");
        }
    }

    #[test]
    fn blood_pressure_components_flags_and_ranges() {
        let obs = decode_observation(&json!({
            "resourceType": "Observation", "id": "bp", "status": "final",
            "category": [{"coding": [{"code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
            "effectivePeriod": {"start": "2021-03-04T10:00:00+01:00"},
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 142, "unit": "mm[Hg]"}},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 91, "unit": "mm[Hg]"}}
            ],
            "interpretation": [{"coding": [{"code": "H"}]}],
            "referenceRange": [{"low": {"value": 90}, "high": {"value": 120, "unit": "mm[Hg]"}}],
            "encounter": {"reference": "Encounter/e1"}
        }))
        .unwrap();
        assert_eq!(obs.value, ObsValue::None);
        assert_eq!(obs.code.loinc(), Some("85354-9"));
        assert_eq!(obs.categories, ["vital-signs"]);
        assert_eq!(obs.effective.as_deref(), Some("2021-03-04T10:00:00+01:00"));
        assert_eq!(obs.component("8480-6").unwrap().value.number(), Some(142.0));
        assert_eq!(obs.component("8462-4").unwrap().value.number(), Some(91.0));
        assert!(obs.is_abnormal());
        assert_eq!(
            obs.reference_range
                .unwrap()
                .display(Precision::Reported)
                .as_deref(),
            Some("90 – 120 mmHg")
        );
        assert_eq!(obs.encounter.as_deref(), Some("Encounter/e1"));
    }

    #[test]
    fn the_recorded_text_is_kept_and_shown_at_the_precision_asked() {
        for (json, recorded, reported) in [
            (
                r#"{"value": 3.10, "unit": "mg/dL"}"#,
                "3.10 mg/dL",
                "3.10 mg/dL",
            ),
            (r#"{"value": 0.050, "unit": "%"}"#, "0.050%", "0.050%"),
            (r#"{"value": -12, "unit": "mV"}"#, "-12 mV", "-12 mV"),
            (
                r#"{"value": 167.891436, "unit": "mm[Hg]"}"#,
                "167.891436 mm[Hg]",
                "167.9 mmHg",
            ),
            (
                r#"{"value": 79.62835971208244, "unit": "kg"}"#,
                "79.62835971208244 kg",
                "79.63 kg",
            ),
            (
                r#"{"value": 2.50000000000001}"#,
                "2.50000000000001",
                "2.500",
            ),
            // serde_json writes an exponent with its sign.
            (r#"{"value": 1.5e3, "unit": "g"}"#, "1.5e+3 g", "1500 g"),
            (r#"{"value": 2E-2}"#, "2e-2", "0.02"),
            (r#"{"value": 5, "comparator": "<"}"#, "<5", "<5"),
        ] {
            let quantity: Value = serde_json::from_str(json).unwrap();
            let obs = json!({"resourceType": "Observation", "valueQuantity": quantity});
            let value = decode_observation(&obs).unwrap().value;
            assert_eq!(
                value.display(Precision::Recorded).as_deref(),
                Some(recorded),
                "{json}"
            );
            assert_eq!(
                value.display(Precision::Reported).as_deref(),
                Some(reported),
                "{json}"
            );
        }
    }

    #[test]
    fn numbers_are_written_as_people_write_them() {
        for (n, s) in [
            (72.0, "72"),
            (37.25, "37.25"),
            (0.1 + 0.2, "0.3"),
            (-4.5, "-4.5"),
            (1e20, "100000000000000000000"),
            (0.000123456789, "0.0001235"),
            (-0.0, "0"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_number(n), s);
        }
    }

    #[test]
    fn not_an_observation_and_garbage() {
        assert!(decode_observation(&json!({"resourceType": "Patient"})).is_none());
        assert!(decode_observation(&json!([1, 2])).is_none());
        let mut rng = crate::testing::SplitMix(17);
        let seed = br#"{"resourceType":"Observation","id":"o","code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"valueQuantity":{"value":1.5,"unit":"g"},"component":[{"code":{},"valueRange":{"low":{"value":1}}}],"referenceRange":[{"low":{"value":1}}],"interpretation":[{"coding":[{"code":"H"}]}]}"#;
        for _ in 0..5000 {
            if let Ok(v) = serde_json::from_slice::<Value>(&rng.mutate(seed))
                && let Some(obs) = decode_observation(&v)
            {
                for p in [
                    Precision::Recorded,
                    Precision::Reported,
                    Precision::Decimals(1),
                ] {
                    let _ = obs.value.display(p);
                }
                for c in &obs.components {
                    for p in [
                        Precision::Recorded,
                        Precision::Reported,
                        Precision::Decimals(1),
                    ] {
                        let _ = c.value.display(p);
                    }
                }
                let _ = obs.reference_range.map(|r| r.display(Precision::Reported));
            }
        }
    }
}
