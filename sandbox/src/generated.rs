//! Patients generated deterministically (no randomness) for testing the chart: a "scale"
//! patient with 10 000 Observations and 200 Encounters over ten years, and a "hostile" patient
//! whose data is as awkward as FHIR allows (markup in names and text, right-to-left names,
//! partial dates, every `value[x]`).
//!
//! The hostile patient is small and built with the store; the scale patient's Encounters and
//! Observations are built on first use and shared by every EHR in the process.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

/// The scale patient's id.
pub const SCALE_PATIENT_ID: &str = "scale-patient";
/// The hostile patient's id.
pub const HOSTILE_PATIENT_ID: &str = "hostile-patient";
/// How many Observations the scale patient has.
pub const SCALE_OBSERVATIONS: usize = 10_000;
/// How many Encounters the scale patient has.
pub const SCALE_ENCOUNTERS: usize = 200;

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// 2015-01-01T00:00:00Z, when the scale patient's record starts.
const SCALE_START: i64 = 1_420_070_400;
/// Seconds between two of the scale patient's Observations (10 000 of them span 3 650 days).
const SCALE_STEP: i64 = 31_536;

/// The scale patient's Encounters and Observations.
pub struct Scale {
    pub resources: HashMap<(String, String), Value>,
    /// Encounter ids, oldest first.
    pub encounters: Vec<String>,
    /// Observation ids, oldest first.
    pub observations: Vec<String>,
}

/// Built on first use (about 10 000 resources), then shared.
pub static SCALE: LazyLock<Scale> = LazyLock::new(build_scale);

pub fn scale_patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": SCALE_PATIENT_ID,
        "active": true,
        "identifier": [mrn("SCALE-0001")],
        "name": [{"use": "official", "family": "Scale", "given": ["Samantha"]}],
        "gender": "female",
        "birthDate": "1960-02-29",
    })
}

fn mrn(value: &str) -> Value {
    json!({
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR", "display": "Medical Record Number"}], "text": "Medical Record Number"},
        "system": "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0",
        "value": value,
    })
}

/// `YYYY-MM-DDThh:mm:ssZ` for seconds since 1970 (UTC).
pub fn instant(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Howard Hinnant's `civil_from_days`: (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Howard Hinnant's `days_from_civil`: the day count since 1970-01-01 of a date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn category(code: &str, display: &str) -> Value {
    json!([{"coding": [{"system": CATEGORY, "code": code, "display": display}],
        "text": display}])
}

fn loinc(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": display})
}

/// A Quantity as an EHR writes it: whole numbers without a decimal point (`72`, not `72.0`,
/// which would state a precision of one decimal).
fn quantity(value: f64, unit: &str) -> Value {
    let value = if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    };
    json!({"value": value, "unit": unit, "system": UCUM, "code": unit})
}

fn interpretation(code: &str) -> Value {
    let display = match code {
        "H" => "High",
        "L" => "Low",
        _ => "Normal",
    };
    json!([{"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}])
}

/// A number that varies over `i` without randomness: `low + (i * step) mod span`, with one
/// decimal.
fn wobble(i: usize, step: usize, low: f64, span: usize) -> f64 {
    low + ((i * step) % (span * 10)) as f64 / 10.0
}

fn build_scale() -> Scale {
    let mut resources = HashMap::new();
    let mut encounters = Vec::with_capacity(SCALE_ENCOUNTERS);
    let mut observations = Vec::with_capacity(SCALE_OBSERVATIONS);
    let subject = json!({"reference": format!("Patient/{SCALE_PATIENT_ID}")});
    let per_encounter = SCALE_OBSERVATIONS / SCALE_ENCOUNTERS;
    for k in 0..SCALE_ENCOUNTERS {
        let id = format!("scale-enc-{k:03}");
        let first = SCALE_START + (k * per_encounter) as i64 * SCALE_STEP;
        let last = first + (per_encounter as i64 - 1) * SCALE_STEP;
        let (status, period) = if k == SCALE_ENCOUNTERS - 1 {
            ("in-progress", json!({"start": instant(first - 1800)}))
        } else {
            let status = if k % 25 == 24 {
                "cancelled"
            } else {
                "finished"
            };
            (
                status,
                json!({"start": instant(first - 1800), "end": instant(last + 1800)}),
            )
        };
        let encounter = json!({
            "resourceType": "Encounter",
            "id": id,
            "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "IMP", "display": "inpatient encounter"},
            "type": [{"text": format!("Inpatient stay {}", k + 1)}],
            "subject": subject,
            "period": period,
        });
        resources.insert(("Encounter".to_owned(), id.clone()), encounter);
        encounters.push(id);
    }
    for i in 0..SCALE_OBSERVATIONS {
        let id = format!("scale-obs-{i:05}");
        let when = instant(SCALE_START + i as i64 * SCALE_STEP);
        let mut obs = json!({
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "subject": subject,
            "encounter": {"reference": format!("Encounter/scale-enc-{:03}", i / per_encounter)},
            "effectiveDateTime": when,
            "issued": when,
        });
        let vital = category("vital-signs", "Vital Signs");
        let (cat, code, value) = match i % 8 {
            0 => (
                vital,
                loinc("8867-4", "Heart rate"),
                quantity(wobble(i, 37, 55.0, 50).round(), "/min"),
            ),
            1 => (
                vital,
                loinc("9279-1", "Respiratory rate"),
                quantity(wobble(i, 7, 12.0, 10).round(), "/min"),
            ),
            2 => (
                vital,
                loinc("8310-5", "Body temperature"),
                quantity(wobble(i, 3, 36.1, 2), "Cel"),
            ),
            3 => (
                vital,
                loinc("29463-7", "Body weight"),
                quantity(wobble(i, 11, 60.0, 25), "kg"),
            ),
            4 => {
                let systolic = wobble(i, 53, 100.0, 60).round();
                let diastolic = wobble(i, 29, 60.0, 35).round();
                obs["component"] = json!([
                    {"code": loinc("8480-6", "Systolic blood pressure"),
                     "valueQuantity": quantity(systolic, "mm[Hg]")},
                    {"code": loinc("8462-4", "Diastolic blood pressure"),
                     "valueQuantity": quantity(diastolic, "mm[Hg]")},
                ]);
                (
                    vital,
                    loinc("85354-9", "Blood pressure panel with all children optional"),
                    Value::Null,
                )
            }
            5 => lab_value(
                &mut obs,
                i,
                "2339-0",
                "Glucose [Mass/volume] in Blood",
                60.0,
                80,
                "mg/dL",
                (70.0, 99.0),
            ),
            6 => lab_value(
                &mut obs,
                i,
                "718-7",
                "Hemoglobin [Mass/volume] in Blood",
                10.0,
                8,
                "g/dL",
                (12.0, 16.0),
            ),
            _ => lab_value(
                &mut obs,
                i,
                "2823-3",
                "Potassium [Moles/volume] in Serum or Plasma",
                3.0,
                3,
                "mmol/L",
                (3.5, 5.1),
            ),
        };
        obs["category"] = cat;
        obs["code"] = code;
        if !value.is_null() {
            obs["valueQuantity"] = value;
        }
        resources.insert(("Observation".to_owned(), id.clone()), obs);
        observations.push(id);
    }
    Scale {
        resources,
        encounters,
        observations,
    }
}

/// A laboratory result with a reference range and (on every other one) an interpretation.
#[allow(clippy::too_many_arguments)]
fn lab_value(
    obs: &mut Value,
    i: usize,
    code: &str,
    display: &str,
    low: f64,
    span: usize,
    unit: &str,
    (normal_low, normal_high): (f64, f64),
) -> (Value, Value, Value) {
    let value = wobble(i, 17, low, span);
    obs["referenceRange"] = json!([{
        "low": quantity(normal_low, unit),
        "high": quantity(normal_high, unit),
    }]);
    if i % 16 < 8 {
        let flag = if value > normal_high {
            "H"
        } else if value < normal_low {
            "L"
        } else {
            "N"
        };
        obs["interpretation"] = interpretation(flag);
    }
    (
        category("laboratory", "Laboratory"),
        loinc(code, display),
        quantity(value, unit),
    )
}

/// The hostile patient, their Encounters and their Observations.
pub fn hostile() -> Vec<Value> {
    let subject = json!({"reference": format!("Patient/{HOSTILE_PATIENT_ID}")});
    let patient = json!({
        "resourceType": "Patient",
        "id": HOSTILE_PATIENT_ID,
        "text": {"status": "generated",
            "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script>Hostile</div>"},
        "identifier": [mrn("HOSTILE-<b>0001</b>")],
        "name": [
            {"use": "official", "family": "Hostile",
             "given": ["<img src=x onerror=alert(1)>"],
             "text": "<img src=x onerror=alert(1)> Hostile"},
            {"use": "usual", "family": "\u{202E}الحسيني", "given": ["مريم"],
             "text": "\u{202E}مريم الحسيني"},
            {"use": "nickname", "family": "כהן", "given": ["\u{202E}שרה"]},
        ],
        "gender": "unknown",
        "birthDate": "1970",
        "telecom": [{"system": "phone", "value": "<script>alert(1)</script>555", "use": "home"}],
        "address": [{"line": ["<b>1</b> \u{202E}Main"], "city": "قم", "use": "home"}],
        "communication": [{"language": {"text": "<i>Farsi</i>"}, "preferred": true}],
        "maritalStatus": {"text": "<u>M</u>"},
        "contact": [{"relationship": [{"text": "<svg onload=alert(1)>"}],
                     "name": {"text": "\u{202E}<img src=x>"}}],
        "generalPractitioner": [{"display": "<a href=\"javascript:alert(1)\">Dr</a>"}],
        "multipleBirthInteger": 2,
    });
    let encounter = |id: &str, start: &str, status: &str, text: &str| {
        json!({
            "resourceType": "Encounter",
            "id": id,
            "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB"},
            "type": [{"text": text}],
            "subject": subject,
            "period": {"start": start},
        })
    };
    let mut all = vec![
        patient,
        encounter(
            "hostile-enc-1",
            "2020-05",
            "finished",
            "<script>alert(1)</script> visit",
        ),
        encounter(
            "hostile-enc-2",
            "2021-03-04T10:00:00+05:30",
            "finished",
            "\u{202E}زيارة",
        ),
    ];
    let enc1 = json!({"reference": "Encounter/hostile-enc-1"});
    let enc2 = json!({"reference": "Encounter/hostile-enc-2"});
    let mut n = 0;
    let mut obs = |cat: &str, code: Value, encounter: &Value, when: Value, rest: Value| {
        n += 1;
        let mut o = json!({
            "resourceType": "Observation",
            "id": format!("hostile-obs-{n:02}"),
            "status": "final",
            "category": category(cat, cat),
            "code": code,
            "subject": subject,
            "encounter": encounter,
        });
        if let (Some(o), Some(w)) = (o.as_object_mut(), when.as_object()) {
            o.extend(w.clone());
        }
        if let (Some(o), Some(r)) = (o.as_object_mut(), rest.as_object()) {
            o.extend(r.clone());
        }
        o
    };
    let when = |t: &str| json!({"effectiveDateTime": t});
    let list = vec![
        obs(
            "vital-signs",
            loinc("8867-4", "Heart rate"),
            &enc1,
            when("2020-05"),
            json!({"valueQuantity": quantity(72.0, "/min")}),
        ),
        obs(
            "laboratory",
            loinc("883-9", "ABO group [Type] in Blood"),
            &enc1,
            when("2020-05-02"),
            json!({"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                "code": "112144000", "display": "Blood group A (finding)"}],
                "text": "<b>A</b>"}}),
        ),
        obs(
            "laboratory",
            loinc("48767-8", "Annotation comment [Interpretation] Narrative"),
            &enc1,
            when("2020-05-03T08:00:00Z"),
            json!({"valueString": "<script>alert(1)</script>"}),
        ),
        obs(
            "social-history",
            json!({"coding": [{"system": "http://example.org/cairn-hostile", "code": "smoker"}],
                "text": "Ever smoked"}),
            &enc1,
            when("2020-05-04T08:00:00Z"),
            json!({"valueBoolean": false}),
        ),
        obs(
            "survey",
            loinc(
                "44261-6",
                "Patient Health Questionnaire 9 item (PHQ-9) total score",
            ),
            &enc1,
            when("2020-05-05T08:00:00Z"),
            json!({"valueInteger": 27}),
        ),
        obs(
            "laboratory",
            json!({"coding": [{"system": "http://example.org/cairn-hostile", "code": "range"}],
                "text": "Estimated range"}),
            &enc2,
            when("2021-03-04T10:10:00+05:30"),
            json!({"valueRange": {"low": quantity(1.5, "mmol/L"), "high": quantity(2.5, "mmol/L")}}),
        ),
        obs(
            "laboratory",
            loinc("5370-3", "Antinuclear antibodies titer"),
            &enc2,
            when("2021-03-04T10:20:00+05:30"),
            json!({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 64}}}),
        ),
        obs(
            "exam",
            loinc("131329", "MDC_ECG_ELEC_POTL_I"),
            &enc2,
            json!({"effectivePeriod": {"start": "2021-03-04T10:30:00+05:30",
                "end": "2021-03-04T10:30:10+05:30"}}),
            json!({"valueSampledData": {"origin": {"value": 2048}, "period": 10,
                "factor": 1.612, "dimensions": 1, "data": "2041 2043 E U L 2047"}}),
        ),
        obs(
            "social-history",
            json!({"text": "Time of last meal"}),
            &enc2,
            when("2021-03-04"),
            json!({"valueTime": "07:30:00"}),
        ),
        obs(
            "social-history",
            json!({"text": "Date of last travel"}),
            &enc2,
            when("2021"),
            json!({"valueDateTime": "2019"}),
        ),
        obs(
            "social-history",
            json!({"text": "Period abroad"}),
            &enc2,
            json!({"issued": "2021-03-05T00:00:00Z"}),
            json!({"valuePeriod": {"start": "2019-03", "end": "2020"}}),
        ),
        obs(
            "vital-signs",
            loinc("85354-9", "Blood pressure panel with all children optional"),
            &enc2,
            when("2021-03-04T10:40:00+05:30"),
            json!({"component": [
                {"code": loinc("8480-6", "Systolic blood pressure"),
                 "valueQuantity": quantity(182.0, "mm[Hg]"),
                 "interpretation": interpretation("H")},
                {"code": loinc("8462-4", "Diastolic blood pressure"),
                 "dataAbsentReason": {"coding": [{
                     "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                     "code": "error"}], "text": "Error"}},
            ]}),
        ),
        obs(
            "laboratory",
            loinc("718-7", "Hemoglobin [Mass/volume] in Blood"),
            &enc2,
            when("2021-03-04T10:50:00+05:30"),
            json!({"dataAbsentReason": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "not-performed", "display": "Not Performed"}]}}),
        ),
        obs(
            "laboratory",
            loinc("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
            &enc2,
            when("2021-03-04T11:00:00+05:30"),
            json!({"valueQuantity": {"value": 5.4}}),
        ),
        obs(
            "laboratory",
            json!({"coding": [{"system": "http://example.org/cairn-hostile", "code": "xss"}],
                "text": "<img src=x onerror=alert(1)>"}),
            &enc2,
            when("2021-03-04T11:10:00+05:30"),
            json!({"valueQuantity": {"value": 1, "unit": "<b>mg</b>"}}),
        ),
        obs(
            "laboratory",
            loinc("2339-0", "Glucose [Mass/volume] in Blood"),
            &enc2,
            when("2021-03-04T11:20:00+05:30"),
            json!({
                "text": {"status": "generated",
                    "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script><p onclick=\"alert(1)\">Glucose high</p></div>"},
                "valueQuantity": quantity(250.0, "mg/dL"),
                "referenceRange": [{"low": quantity(70.0, "mg/dL"), "high": quantity(99.0, "mg/dL"),
                    "text": "<i>70-99</i>"}],
                "interpretation": interpretation("H"),
            }),
        ),
    ];
    all.extend(list);
    all
}
