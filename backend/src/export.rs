//! The export plan and its output, sans IO: which searches to run for a patient found by MRN,
//! the one patient a search must find, and the NDJSON and CSV written from what was read.

use cairn::domain::precision::Precision;
use cairn::fhir::observation::{ObsValue, Observation, decode_observation};
use cairn::fhir::search::{PAGE_COUNT, encounter_search_url, observation_search_url};
use serde_json::Value;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One resource per line, as FHIR Bulk Data writes it: the Patient, its Encounters, then
    /// its Observations.
    Ndjson,
    /// One row per Observation.
    Csv,
}

/// One search of the export, followed through all its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub resource_type: &'static str,
    /// What the progress line and errors call it, e.g. `Observation (laboratory)`.
    pub label: String,
    pub url: String,
}

/// The Patient search by MRN: `identifier=<system>|<value>`.
pub fn patient_search_url(fhir_base: &str, mrn_system: &str, mrn: &str) -> String {
    let query = cairn::uri::form([
        ("identifier", format!("{mrn_system}|{mrn}").as_str()),
        ("_count", PAGE_COUNT.to_string().as_str()),
    ]);
    format!("{}/Patient?{query}", fhir_base.trim_end_matches('/'))
}

/// A `--since` date: `YYYY-MM-DD`, a real calendar day.
pub fn check_since(since: &str) -> Result<(), String> {
    let parts: Vec<&str> = since.split('-').collect();
    let valid = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) => {
                    (1..=12).contains(&m)
                        && d >= 1
                        && d <= cairn::domain::time::days_in_month(i64::from(y), m)
                }
                _ => false,
            }
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "--since {since:?} is not a date like 2024-01-31 (year-month-day)"
        ))
    }
}

/// The searches after the Patient: its Encounters, then its Observations of each category
/// (one search per category, as Epic refuses some categories), each from `since` when given.
/// `None` when the patient id is not a valid FHIR id.
pub fn searches(
    fhir_base: &str,
    patient_id: &str,
    categories: &[String],
    since: Option<&str>,
) -> Option<Vec<Search>> {
    let with_since = |url: String| match since {
        Some(date) => format!("{url}&date=ge{date}"),
        None => url,
    };
    let mut searches = vec![Search {
        resource_type: "Encounter",
        label: "Encounter".to_owned(),
        url: with_since(encounter_search_url(fhir_base, patient_id)?),
    }];
    for category in categories {
        searches.push(Search {
            resource_type: "Observation",
            label: format!("Observation ({category})"),
            url: with_since(observation_search_url(
                fhir_base,
                patient_id,
                &[category.as_str()],
                None,
            )?),
        });
    }
    Some(searches)
}

/// The one Patient the MRN search found, or why there is not exactly one.
pub fn the_patient(matches: Vec<Value>, mrn: &str) -> Result<Value, String> {
    let mut patients: Vec<Value> = matches
        .into_iter()
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        .collect();
    match patients.len() {
        0 => Err(format!(
            "no patient has the MRN {mrn:?}: check the number and `mrn_system`; nothing was \
             exported"
        )),
        1 => Ok(patients.remove(0)),
        n => {
            let ids: Vec<&str> = patients
                .iter()
                .filter_map(|p| p.get("id").and_then(Value::as_str))
                .take(5)
                .collect();
            Err(format!(
                "{n} patients have the MRN {mrn:?} (ids {}): an MRN must name one patient, so \
                 nothing was exported; ask the EHR's team to merge or correct the records",
                ids.join(", ")
            ))
        }
    }
}

/// What one export read, in order, each resource once.
#[derive(Debug, Default)]
pub struct Collected {
    pub patient: Option<Value>,
    pub encounters: Vec<Value>,
    pub observations: Vec<Value>,
    seen: std::collections::HashSet<String>,
}

impl Collected {
    /// Adds a resource of a search; one already added (an Observation in two categories) is
    /// skipped. Returns whether it was new.
    pub fn add(&mut self, resource: Value) -> bool {
        let resource_type = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(id) = resource.get("id").and_then(Value::as_str)
            && !self.seen.insert(format!("{resource_type}/{id}"))
        {
            return false;
        }
        match resource_type.as_str() {
            "Patient" => self.patient = Some(resource),
            "Encounter" => self.encounters.push(resource),
            "Observation" => self.observations.push(resource),
            _ => return false,
        }
        true
    }

    /// `Patient 1, Encounter 12, Observation 345`.
    pub fn counts(&self) -> String {
        format!(
            "Patient {}, Encounter {}, Observation {}",
            usize::from(self.patient.is_some()),
            self.encounters.len(),
            self.observations.len()
        )
    }

    /// The file's bytes.
    pub fn render(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Ndjson => ndjson(
                self.patient
                    .iter()
                    .chain(&self.encounters)
                    .chain(&self.observations),
            ),
            Format::Csv => csv(&self.observations),
        }
    }
}

/// One JSON document per line, each ending in `\n`.
pub fn ndjson<'a>(resources: impl Iterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for resource in resources {
        // A `Value` always serialises; its strings escape newlines, so a line is a resource.
        if serde_json::to_writer(&mut out, resource).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// The CSV header.
pub const CSV_HEADER: &str = "date,code,display,value,unit,flag,encounter";

/// One row per Observation (RFC 4180: CRLF line ends, fields quoted when they need it):
/// its date, code (LOINC when it has one), display, value and unit (a quantity's number and
/// unit apart; other values as text; components as `name: value` joined by `; `),
/// interpretation flags, and the encounter's id.
pub fn csv(observations: &[Value]) -> Vec<u8> {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for observation in observations.iter().filter_map(decode_observation) {
        let (value, unit) = value_and_unit(&observation);
        let code = observation
            .code
            .loinc()
            .or_else(|| {
                observation
                    .code
                    .codings
                    .iter()
                    .find_map(|c| c.code.as_deref())
            })
            .unwrap_or_default()
            .to_owned();
        let encounter = observation
            .encounter
            .as_deref()
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
            .unwrap_or_default();
        let row = [
            observation.effective.clone().unwrap_or_default(),
            code,
            observation.code.label().unwrap_or_default().to_owned(),
            value,
            unit,
            observation.interpretation.join(" "),
            encounter,
        ];
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn value_and_unit(observation: &Observation) -> (String, String) {
    match &observation.value {
        ObsValue::Quantity(q) if q.value.is_some() => {
            let mut value = q.comparator.clone().unwrap_or_default();
            match (&q.written, q.value) {
                (Some(written), _) => value.push_str(written),
                (None, Some(v)) => value.push_str(&cairn::fhir::observation::format_number(v)),
                (None, None) => {}
            }
            (value, q.unit.clone().unwrap_or_default())
        }
        ObsValue::None if !observation.components.is_empty() => {
            let parts: Vec<String> = observation
                .components
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.code.label().unwrap_or("?"),
                        c.value.display(Precision::Recorded).unwrap_or_default()
                    )
                })
                .collect();
            (parts.join("; "), String::new())
        }
        other => (
            other.display(Precision::Recorded).unwrap_or_default(),
            String::new(),
        ),
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` gets a `'` so that a spreadsheet never runs it as a formula (text from the EHR is data).
fn csv_field(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '@'])
        || (value.starts_with('-') && value.parse::<f64>().is_err())
    {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_patient_search_is_by_system_and_value() {
        assert_eq!(
            patient_search_url("https://ehr.example/fhir/", "urn:oid:1.2.3", "E 100|1"),
            "https://ehr.example/fhir/Patient?identifier=urn%3Aoid%3A1.2.3%7CE+100%7C1&_count=200"
        );
    }

    #[test]
    fn the_plan_is_encounters_then_each_category_from_since() {
        let plan = searches(
            "https://ehr.example/fhir",
            "p1",
            &["vital-signs".to_owned(), "laboratory".to_owned()],
            Some("2020-01-31"),
        )
        .unwrap();
        let urls: Vec<&str> = plan.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://ehr.example/fhir/Encounter?patient=p1&_sort=-date&_count=200&date=ge2020-01-31",
                "https://ehr.example/fhir/Observation?patient=p1&category=vital-signs&_sort=-date&_count=200&date=ge2020-01-31",
                "https://ehr.example/fhir/Observation?patient=p1&category=laboratory&_sort=-date&_count=200&date=ge2020-01-31",
            ]
        );
        assert_eq!(plan[2].label, "Observation (laboratory)");
        assert!(searches("https://e/fhir", "bad id", &[], None).is_none());
    }

    #[test]
    fn since_must_be_a_calendar_day() {
        assert!(check_since("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024-1-1",
            "yesterday",
            "",
        ] {
            assert!(check_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exactly_one_patient_or_a_clear_refusal() {
        let p = |id: &str| json!({"resourceType": "Patient", "id": id});
        assert_eq!(the_patient(vec![p("a")], "M1").unwrap()["id"], "a");
        let none = the_patient(vec![], "M1").unwrap_err();
        assert!(none.starts_with("no patient has the MRN \"M1\""), "{none}");
        let two = the_patient(vec![p("a"), p("b")], "M1").unwrap_err();
        assert!(
            two.starts_with("2 patients have the MRN \"M1\" (ids a, b)"),
            "{two}"
        );
    }

    #[test]
    fn each_resource_once_and_ndjson_one_per_line() {
        let mut collected = Collected::default();
        assert!(collected.add(json!({"resourceType": "Patient", "id": "p"})));
        assert!(collected.add(json!({"resourceType": "Observation", "id": "o1", "note": "a\nb"})));
        assert!(!collected.add(json!({"resourceType": "Observation", "id": "o1"})));
        assert!(collected.add(json!({"resourceType": "Encounter", "id": "e1"})));
        assert_eq!(collected.counts(), "Patient 1, Encounter 1, Observation 1");
        let text = String::from_utf8(collected.render(Format::Ndjson)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], r#"{"id":"p","resourceType":"Patient"}"#);
        assert_eq!(lines[1], r#"{"id":"e1","resourceType":"Encounter"}"#);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn csv_rows_split_value_and_unit_and_guard_formulas() {
        let observations = [
            // Parsed from text, so that the decimal keeps its written precision.
            serde_json::from_str(
                r#"{"resourceType": "Observation", "id": "o1",
                "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0",
                    "display": "Glucose"}]},
                "effectiveDateTime": "2020-01-02T03:04:05Z",
                "valueQuantity": {"value": 5.10, "unit": "mmol/L"},
                "interpretation": [{"coding": [{"code": "H"}]}],
                "encounter": {"reference": "Encounter/e1"}}"#,
            )
            .unwrap(),
            json!({"resourceType": "Observation", "id": "o2",
                "code": {"text": "Blood pressure, \"sitting\""},
                "effectiveDateTime": "2020-01-02",
                "component": [
                    {"code": {"text": "Systolic"}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
                    {"code": {"text": "Diastolic"}, "valueQuantity": {"value": 80, "unit": "mm[Hg]"}}]}),
            json!({"resourceType": "Observation", "id": "o3",
                "code": {"text": "=HYPERLINK(\"x\")"}, "valueString": "-5 or so"}),
        ];
        let text = String::from_utf8(csv(&observations)).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "2020-01-02T03:04:05Z,2339-0,Glucose,5.10,mmol/L,H,e1"
        );
        assert_eq!(
            lines[2],
            "2020-01-02,,\"Blood pressure, \"\"sitting\"\"\",Systolic: 120 mm[Hg]; Diastolic: 80 mm[Hg],,,"
        );
        assert_eq!(lines[3], ",,\"'=HYPERLINK(\"\"x\"\")\",'-5 or so,,,");
        assert_eq!(lines[4], "");
    }
}
