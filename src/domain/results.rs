//! What the chart shows of observations: the latest vital sign of each kind with its trend,
//! and lab results grouped by test with their latest value, reference range, flag and history.
//! Pure: observations in, view models out. Time order uses instants (`domain::time`); dates are
//! shown as written.

use std::collections::BTreeMap;

use crate::domain::precision::{self, Precision, precision_for};
use crate::domain::time::instant_ms;
use crate::domain::{LowerCase, sorted_by};
use crate::fhir::observation::{ObsValue, Observation};

/// The vital signs Cairn knows by LOINC code, in the order the chart shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VitalKind {
    BloodPressure,
    HeartRate,
    RespiratoryRate,
    Temperature,
    OxygenSaturation,
    Weight,
    Height,
    Bmi,
}

const SYSTOLIC: &str = "8480-6";
const DIASTOLIC: &str = "8462-4";

impl VitalKind {
    pub const ALL: [VitalKind; 8] = [
        VitalKind::BloodPressure,
        VitalKind::HeartRate,
        VitalKind::RespiratoryRate,
        VitalKind::Temperature,
        VitalKind::OxygenSaturation,
        VitalKind::Weight,
        VitalKind::Height,
        VitalKind::Bmi,
    ];

    fn codes(self) -> &'static [&'static str] {
        match self {
            VitalKind::BloodPressure => &["85354-9", "55284-4"],
            VitalKind::HeartRate => &["8867-4"],
            VitalKind::RespiratoryRate => &["9279-1"],
            VitalKind::Temperature => &["8310-5", "8331-1"],
            VitalKind::OxygenSaturation => &["59408-5", "2708-6"],
            VitalKind::Weight => &["29463-7"],
            VitalKind::Height => &["8302-2"],
            VitalKind::Bmi => &["39156-5"],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VitalKind::BloodPressure => "Blood pressure",
            VitalKind::HeartRate => "Heart rate",
            VitalKind::RespiratoryRate => "Respiratory rate",
            VitalKind::Temperature => "Temperature",
            VitalKind::OxygenSaturation => "Oxygen saturation",
            VitalKind::Weight => "Weight",
            VitalKind::Height => "Height",
            VitalKind::Bmi => "Body mass index",
        }
    }

    /// Its clinical precision ([`precision::CLINICAL_PRECISION`]).
    pub fn precision(self) -> Precision {
        precision_for(self.codes().first().copied())
    }

    pub fn of(obs: &Observation) -> Option<VitalKind> {
        VitalKind::ALL
            .into_iter()
            .find(|k| k.codes().iter().any(|c| obs.code.has_code(c)))
    }
}

/// One point of a trend: when (instant) and the value(s). Blood pressure has two.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at_ms: f64,
    pub value: f64,
    /// Diastolic, for blood pressure.
    pub second: Option<f64>,
    /// When, as people read it (`domain::time::display`).
    pub when: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vital {
    pub kind: VitalKind,
    /// The latest value at clinical precision, e.g. `142/91 mmHg` or `72 /min`.
    pub latest: String,
    /// The latest value exactly as recorded, e.g. `142.3071/91.2 mm[Hg]`.
    pub recorded: String,
    /// When the latest was taken, as written.
    pub when: Option<String>,
    /// The latest reading's abnormal flag (`H`, `L`, `HH`, `LL`, `A`…).
    pub flag: Option<String>,
    /// Every plottable reading, oldest first.
    pub trend: Vec<Point>,
}

/// The latest of each vital sign, with its trend. Kinds without readings are left out.
pub fn vitals(observations: &[Observation]) -> Vec<Vital> {
    let mut by_kind: BTreeMap<VitalKind, Vec<(&Observation, Option<f64>)>> = BTreeMap::new();
    for obs in observations.iter().filter(|o| !is_retracted(o)) {
        if let Some(kind) = VitalKind::of(obs) {
            let at = obs.effective.as_deref().and_then(instant_ms);
            by_kind.entry(kind).or_default().push((obs, at));
        }
    }
    by_kind
        .into_iter()
        .filter_map(|(kind, readings)| {
            // Oldest first; readings without a usable time go first so they never pose as
            // the latest.
            let readings = sorted_by(readings, &|a, b| {
                a.1.unwrap_or(f64::MIN).total_cmp(&b.1.unwrap_or(f64::MIN))
            });
            let (latest, _) = readings.last()?;
            let trend = readings
                .iter()
                .filter_map(|(obs, at)| point(kind, obs, (*at)?))
                .collect();
            Some(Vital {
                kind,
                latest: vital_text(kind, latest, kind.precision()),
                recorded: vital_text(kind, latest, Precision::Recorded),
                when: latest
                    .effective
                    .as_deref()
                    .map(crate::domain::time::display),
                flag: abnormal_flag(latest),
                trend,
            })
        })
        .collect()
}

fn point(kind: VitalKind, obs: &Observation, at_ms: f64) -> Option<Point> {
    let (value, second) = if kind == VitalKind::BloodPressure {
        let systolic = obs.component(SYSTOLIC)?.value.number()?;
        (
            systolic,
            obs.component(DIASTOLIC).and_then(|c| c.value.number()),
        )
    } else {
        (obs.value.number()?, None)
    };
    Some(Point {
        at_ms,
        value,
        second,
        when: when_text(obs),
    })
}

fn when_text(obs: &Observation) -> String {
    obs.effective
        .as_deref()
        .map(crate::domain::time::display)
        .unwrap_or_default()
}

/// The first interpretation code that marks `obs` abnormal.
fn abnormal_flag(obs: &Observation) -> Option<String> {
    obs.is_abnormal()
        .then(|| {
            obs.interpretation
                .iter()
                .find(|c| flag_words(c).is_some())
                .cloned()
        })
        .flatten()
}

/// What an interpretation flag means, for the label read beside it; `None` for codes that
/// do not mark a result abnormal.
pub fn flag_words(code: &str) -> Option<&'static str> {
    Some(match code {
        "H" => "high",
        "L" => "low",
        "HH" => "critically high",
        "LL" => "critically low",
        "HU" => "very high",
        "LU" => "very low",
        "A" => "abnormal",
        "AA" => "critically abnormal",
        "<" => "below the measurable range",
        ">" => "above the measurable range",
        _ => return None,
    })
}

fn vital_text(kind: VitalKind, obs: &Observation, precision: Precision) -> String {
    if kind == VitalKind::BloodPressure
        && let (Some(ObsValue::Quantity(s)), Some(ObsValue::Quantity(d))) = (
            obs.component(SYSTOLIC).map(|c| &c.value),
            obs.component(DIASTOLIC).map(|c| &c.value),
        )
    {
        let unit = s.unit.as_deref().or(d.unit.as_deref()).unwrap_or("");
        let n = |q: &crate::fhir::observation::Quantity| {
            q.number(precision).unwrap_or_else(|| "?".into())
        };
        return precision::with_unit(&format!("{}/{}", n(s), n(d)), unit, precision);
    }
    obs.value
        .display(precision)
        .unwrap_or_else(|| NOT_RECORDED.into())
}

const NOT_RECORDED: &str = "Not recorded";

/// Results entered in error are not shown as results.
fn is_retracted(obs: &Observation) -> bool {
    obs.status.as_deref() == Some("entered-in-error")
}

/// An observation's value in one line: its `value[x]`, else its components
/// ("Systolic: 142 mmHg · Diastolic: 91 mmHg"), else "Not recorded". Each number at the
/// precision of its code, or exactly as recorded when `recorded`.
pub fn observation_text(obs: &Observation, recorded: bool) -> String {
    let precision = |code: &crate::fhir::observation::Concept| {
        if recorded {
            Precision::Recorded
        } else {
            precision_for(code.loinc())
        }
    };
    if let Some(value) = obs.value.display(precision(&obs.code)) {
        return value;
    }
    let parts: Vec<String> = obs
        .components
        .iter()
        .filter_map(|c| {
            let value = c.value.display(precision(&c.code))?;
            Some(match c.code.label() {
                Some(label) => format!("{label}: {value}"),
                None => value,
            })
        })
        .collect();
    if parts.is_empty() {
        NOT_RECORDED.to_owned()
    } else {
        parts.join(" · ")
    }
}

/// One row of a lab test's history.
#[derive(Debug, Clone, PartialEq)]
pub struct LabResult {
    pub id: Option<String>,
    pub when: Option<String>,
    /// As reported, floating-point noise rounded ([`Precision::Reported`]).
    pub value: String,
    /// Exactly as recorded.
    pub recorded: String,
    pub flag: Option<String>,
    pub reference_range: Option<String>,
}

/// A lab test (grouped by code), latest first.
#[derive(Debug, Clone, PartialEq)]
pub struct LabGroup {
    /// The code it is grouped by (LOINC when there is one).
    pub key: String,
    pub label: String,
    pub latest: LabResult,
    /// Every result, newest first.
    pub results: Vec<LabResult>,
    pub trend: Vec<Point>,
    /// Panels (`hasMember`) this test belongs to, by label.
    pub panel: Option<String>,
    /// The latest result's reference range: low and high, when numeric.
    pub reference: (Option<f64>, Option<f64>),
    /// When the latest result was taken (instant), for ordering.
    pub latest_ms: Option<f64>,
}

/// Lab results grouped by test, each group newest first, groups by name.
pub fn labs(observations: &[Observation], lower: LowerCase) -> Vec<LabGroup> {
    let by_ref: BTreeMap<String, &Observation> = observations
        .iter()
        .filter_map(|o| Some((format!("Observation/{}", o.id.as_deref()?), o)))
        .collect();
    // A member's panel: the label of an observation that lists it in `hasMember`.
    let mut panel_of: BTreeMap<String, String> = BTreeMap::new();
    for panel in observations.iter().filter(|o| !o.has_member.is_empty()) {
        let label = panel.code.label().unwrap_or("Panel").to_owned();
        for member in &panel.has_member {
            if let Some(key) = by_ref.get(member.as_str()).and_then(|m| group_key(m)) {
                panel_of.entry(key).or_insert_with(|| label.clone());
            }
        }
    }
    let mut groups: BTreeMap<String, Vec<(&Observation, Option<f64>)>> = BTreeMap::new();
    for obs in observations
        .iter()
        .filter(|o| !is_retracted(o) && o.has_member.is_empty())
    {
        if let Some(key) = group_key(obs) {
            let at = obs.effective.as_deref().and_then(instant_ms);
            groups.entry(key).or_default().push((obs, at));
        }
    }
    let out: Vec<LabGroup> = groups
        .into_iter()
        .filter_map(|(key, rows)| {
            let rows = sorted_by(rows, &|a, b| {
                b.1.unwrap_or(f64::MIN).total_cmp(&a.1.unwrap_or(f64::MIN))
            });
            let results: Vec<LabResult> = rows.iter().map(|(o, _)| lab_result(o)).collect();
            let mut trend: Vec<Point> = rows
                .iter()
                .filter_map(|(o, at)| {
                    Some(Point {
                        at_ms: (*at)?,
                        value: o.value.number()?,
                        second: None,
                        when: when_text(o),
                    })
                })
                .collect();
            trend.reverse();
            let label = rows[0].0.code.label().unwrap_or(&key).to_owned();
            let range = rows[0].0.reference_range.as_ref();
            let limit = |q: Option<&crate::fhir::observation::Quantity>| q.and_then(|q| q.value);
            Some(LabGroup {
                reference: (
                    limit(range.and_then(|r| r.low.as_ref())),
                    limit(range.and_then(|r| r.high.as_ref())),
                ),
                latest_ms: rows[0].1,
                panel: panel_of.get(&key).cloned(),
                latest: results.first()?.clone(),
                results,
                trend,
                label,
                key,
            })
        })
        .collect();
    let out: Vec<(String, LabGroup)> = out.into_iter().map(|g| (lower(&g.label), g)).collect();
    sorted_by(out, &|a, b| a.0.cmp(&b.0))
        .into_iter()
        .map(|(_, g)| g)
        .collect()
}

/// The tests the summary lists, at most `n`: those whose latest result is flagged first, then
/// the others; each kind newest first.
pub fn abnormal_first(groups: &[LabGroup], n: usize) -> Vec<&LabGroup> {
    let newest_first = |g: &&LabGroup| -g.latest_ms.unwrap_or(f64::MIN);
    let flagged = |g: &&LabGroup| g.latest.flag.is_none();
    let all: Vec<&LabGroup> = groups.iter().collect();
    sorted_by(all, &|a, b| {
        flagged(a)
            .cmp(&flagged(b))
            .then(newest_first(a).total_cmp(&newest_first(b)))
    })
    .into_iter()
    .take(n)
    .collect()
}

fn group_key(obs: &Observation) -> Option<String> {
    obs.code
        .loinc()
        .map(|c| format!("loinc:{c}"))
        .or_else(|| {
            obs.code
                .codings
                .iter()
                .find_map(|c| Some(format!("{}|{}", c.system.as_deref()?, c.code.as_deref()?)))
        })
        .or_else(|| obs.code.text.as_ref().map(|t| format!("text:{t}")))
}

fn lab_result(obs: &Observation) -> LabResult {
    LabResult {
        id: obs.id.clone(),
        when: obs.effective.as_deref().map(crate::domain::time::display),
        value: observation_text(obs, false),
        recorded: observation_text(obs, true),
        flag: obs
            .interpretation
            .iter()
            .find(|c| c.as_str() != "N")
            .cloned(),
        reference_range: obs
            .reference_range
            .as_ref()
            .and_then(|r| r.display(Precision::Reported)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::observation::decode_observation;
    use crate::fhir::observation::recorded;
    use serde_json::{Value, json};

    fn obs(v: Value) -> Observation {
        decode_observation(&v).unwrap()
    }

    fn vital(id: &str, code: &str, value: f64, unit: &str, when: &str) -> Observation {
        obs(
            json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": when, "valueQuantity": {"value": recorded(value), "unit": unit}}),
        )
    }

    fn bp(id: &str, sys: f64, dia: f64, when: &str) -> Observation {
        obs(
            json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "effectiveDateTime": when,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": recorded(sys), "unit": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": recorded(dia), "unit": "mm[Hg]"}}]}),
        )
    }

    #[test]
    fn latest_vital_of_each_kind_with_its_trend() {
        let all = vec![
            vital("h1", "8867-4", 80.0, "/min", "2021-01-01T08:00:00Z"),
            // Later in time, though earlier as text (UTC+9).
            vital("h2", "8867-4", 64.0, "/min", "2021-01-01T16:00:00+09:00"),
            vital("h3", "8867-4", 72.0, "/min", "2021-01-02"),
            bp("b1", 120.0, 80.0, "2020-06-01T10:00:00Z"),
            bp("b2", 142.0, 91.0, "2021-06-01T10:00:00Z"),
            vital("w1", "29463-7", 70.5, "kg", "2019"),
            vital("x", "0000-0", 1.0, "u", "2021-01-01"),
        ];
        let v = vitals(&all);
        let kinds: Vec<_> = v.iter().map(|v| v.kind).collect();
        assert_eq!(
            kinds,
            [
                VitalKind::BloodPressure,
                VitalKind::HeartRate,
                VitalKind::Weight
            ]
        );
        assert_eq!(v[0].latest, "142/91 mmHg");
        assert_eq!(v[0].recorded, "142/91 mm[Hg]");
        assert_eq!(v[0].trend.len(), 2);
        assert_eq!(v[0].trend[1].second, Some(91.0));
        assert_eq!(v[1].latest, "72 /min");
        assert_eq!(v[1].when.as_deref(), Some("2021-01-02"));
        assert_eq!(v[0].when.as_deref(), Some("2021-06-01 10:00"));
        let heart: Vec<f64> = v[1].trend.iter().map(|p| p.value).collect();
        assert_eq!(heart, [64.0, 80.0, 72.0], "ordered by instant, not by text");
        assert_eq!(v[2].latest, "70.5 kg");
        assert_eq!(v[0].flag, None);
    }

    #[test]
    fn an_abnormal_vital_carries_its_flag_as_text() {
        let mut high = vital("h", "8867-4", 130.0, "/min", "2021");
        high.interpretation = vec!["N".into(), "HH".into()];
        assert_eq!(vitals(&[high])[0].flag.as_deref(), Some("HH"));
        assert_eq!(flag_words("HH"), Some("critically high"));
        assert_eq!(flag_words("N"), None);
    }

    /// Synthea writes floating-point values out in full; the chart shows them at clinical
    /// precision, and keeps them as recorded.
    #[test]
    fn vital_signs_at_clinical_precision_with_the_recorded_value_kept() {
        let synthea = |id: &str, code: &str, value: &str, unit: &str| {
            obs(serde_json::from_str(&format!(
                r#"{{"resourceType": "Observation", "id": "{id}", "status": "final",
                "code": {{"coding": [{{"system": "http://loinc.org", "code": "{code}"}}]}},
                "effectiveDateTime": "2021-01-01", "valueQuantity": {{"value": {value}, "unit": "{unit}"}}}}"#
            ))
            .unwrap())
        };
        let mut b = bp("b", 0.0, 0.0, "2021-01-01");
        for (component, written) in b.components.iter_mut().zip(["122.458769", "86.929055"]) {
            if let ObsValue::Quantity(q) = &mut component.value {
                q.written = Some(written.to_owned());
            }
        }
        let all = vec![
            b,
            synthea("h", "8867-4", "71.60403", "/min"),
            synthea("t", "8310-5", "37.05", "Cel"),
            synthea("s", "59408-5", "97.5", "%"),
            synthea("w", "29463-7", "108.031206", "kg"),
            synthea("bmi", "39156-5", "30.02", "kg/m2"),
            synthea("pain", "72514-3", "0.727458", "{score}"),
        ];
        let v = vitals(&all);
        let shown: Vec<(&str, &str)> = v
            .iter()
            .map(|v| (v.latest.as_str(), v.recorded.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("122/87 mmHg", "122.458769/86.929055 mm[Hg]"),
                ("72 /min", "71.60403 /min"),
                ("37.1 °C", "37.05 Cel"),
                ("98%", "97.5%"),
                ("108.0 kg", "108.031206 kg"),
                ("30.0 kg/m²", "30.02 kg/m2"),
            ]
        );
        // Pain is not a card, but the table shows it at its precision.
        assert_eq!(observation_text(&all[6], false), "1");
        assert_eq!(observation_text(&all[6], true), "0.727458 {score}");
    }

    #[test]
    fn component_only_observations_read_as_their_components() {
        let mut b = bp("b", 142.0, 91.0, "2021");
        assert_eq!(
            observation_text(&b, false),
            "8480-6: 142 mmHg · 8462-4: 91 mmHg"
        );
        assert_eq!(
            observation_text(&b, true),
            "8480-6: 142 mm[Hg] · 8462-4: 91 mm[Hg]"
        );
        b.components.clear();
        assert_eq!(observation_text(&b, false), "Not recorded");
        let hr = vital("h", "8867-4", 72.0, "/min", "2021");
        assert_eq!(observation_text(&hr, false), "72 /min");
    }

    #[test]
    fn labs_grouped_with_flags_ranges_and_panels() {
        let glucose = |id: &str, value: f64, when: &str, flag: &str| {
            obs(
                json!({"resourceType": "Observation", "id": id, "status": "final",
                "category": [{"coding": [{"code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"}]},
                "effectiveDateTime": when, "valueQuantity": {"value": recorded(value), "unit": "mg/dL"},
                "interpretation": [{"coding": [{"code": flag}]}],
                "referenceRange": [{"low": {"value": 70, "unit": "mg/dL"}, "high": {"value": 99, "unit": "mg/dL"}}]}),
            )
        };
        let all = vec![
            glucose("g1", 90.0, "2021-01-01", "N"),
            glucose("g2", 180.0, "2021-03-01", "H"),
            obs(
                json!({"resourceType": "Observation", "id": "p", "code": {"text": "Basic metabolic panel"},
                "hasMember": [{"reference": "Observation/g1"}, {"reference": "Observation/g2"}]}),
            ),
            obs(
                json!({"resourceType": "Observation", "id": "k", "code": {"text": "Potassium"},
                "dataAbsentReason": {"text": "Specimen hemolysed"}}),
            ),
            obs(
                json!({"resourceType": "Observation", "id": "e", "status": "entered-in-error",
                "code": {"text": "Potassium"}, "valueQuantity": {"value": 9}}),
            ),
        ];
        let groups = labs(&all, str::to_lowercase);
        assert_eq!(groups.len(), 2, "{groups:#?}");
        let g = &groups[0];
        assert_eq!(g.label, "Glucose");
        assert_eq!(g.latest.value, "180 mg/dL");
        assert_eq!(g.latest.flag.as_deref(), Some("H"));
        assert_eq!(
            g.latest.reference_range.as_deref(),
            Some("70 mg/dL – 99 mg/dL")
        );
        assert_eq!(g.results.len(), 2);
        assert_eq!(g.results[1].flag, None, "N is normal: no flag");
        assert_eq!(g.panel.as_deref(), Some("Basic metabolic panel"));
        let trend: Vec<f64> = g.trend.iter().map(|p| p.value).collect();
        assert_eq!(trend, [90.0, 180.0]);
        assert_eq!(g.trend[1].when, "2021-03-01");
        assert_eq!(g.reference, (Some(70.0), Some(99.0)));
        let k = &groups[1];
        assert_eq!(k.reference, (None, None));
        // The summary lists the flagged glucose before the newer, unflagged potassium.
        let mut later = groups.clone();
        later[1].latest_ms = Some(f64::MAX);
        let order: Vec<&str> = abnormal_first(&later, 5)
            .iter()
            .map(|g| g.label.as_str())
            .collect();
        assert_eq!(order, ["Glucose", "Potassium"]);
        assert_eq!(abnormal_first(&later, 1).len(), 1);
        assert_eq!(k.latest.value, "No value: Specimen hemolysed");
        assert_eq!(
            k.results.len(),
            1,
            "the entered-in-error result is not shown"
        );
    }
}
