//! Encounter, decoded leniently: what the chart says about the encounter in launch context.

use serde_json::Value;

use crate::fhir::error::FhirError;
use crate::fhir::patient::MAX_RESOURCE_BYTES;
use crate::http::HttpResponse;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encounter {
    pub id: String,
    pub status: Option<String>,
    /// `class.display`, else `class.code` (e.g. `AMB`).
    pub class: Option<String>,
    /// `type[0].text`, else its first coding's display.
    pub kind: Option<String>,
    /// `period.start` as written.
    pub start: Option<String>,
    /// `period.end` as written.
    pub end: Option<String>,
    /// `reasonCode` texts.
    pub reasons: Vec<String>,
    /// `location[].location.display`.
    pub locations: Vec<String>,
    /// `participant[].individual.display`. A bare reference (`Practitioner/12`, `urn:uuid:…`)
    /// names no one a reader would know, so it is left out.
    pub participants: Vec<String>,
}

impl Encounter {
    /// One line for the chart: "Encounter for check up · 2000-12-24 · finished".
    pub fn summary(&self) -> String {
        self.summary_parts().join(" · ")
    }

    /// The parts of [`Encounter::summary`], to be shown each in its own bidi isolate, so a
    /// right-to-left (or U+202E) type cannot reorder the date after it.
    pub fn summary_parts(&self) -> Vec<String> {
        let date = self.start.as_deref().map(|s| s.get(..10).unwrap_or(s));
        [
            self.kind.as_deref().or(self.class.as_deref()),
            date,
            self.status.as_deref(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect()
    }
}

/// The Encounter `expected_id` (from the token response's `encounter`): anything else is refused.
pub fn parse_encounter(resp: &HttpResponse, expected_id: &str) -> Result<Encounter, FhirError> {
    if !resp.is_success() {
        return Err(FhirError::from_status(resp));
    }
    if resp.body.len() > MAX_RESOURCE_BYTES {
        return Err(FhirError::Malformed);
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|_| FhirError::Malformed)?;
    decode_encounter(&v)
        .filter(|e| e.id == expected_id)
        .ok_or(FhirError::Malformed)
}

/// The launch's Encounter `expected_id`, which must also belong to patient `patient_id` (its
/// `subject`, relative or absolute under `fhir_base`): another patient's is refused.
pub fn parse_launch_encounter(
    resp: &HttpResponse,
    expected_id: &str,
    patient_id: &str,
    fhir_base: &str,
) -> Result<Encounter, FhirError> {
    let encounter = parse_encounter(resp, expected_id)?;
    // `parse_encounter` read this body whole and capped: parsing it again costs little.
    let v: Value = serde_json::from_slice(&resp.body).map_err(|_| FhirError::Malformed)?;
    if !crate::fhir::drill::belongs_to_patient(&v, patient_id, fhir_base) {
        return Err(FhirError::Malformed);
    }
    Ok(encounter)
}

/// Decodes whatever is usable in an Encounter with a valid id; `None` for anything else.
pub fn decode_encounter(v: &Value) -> Option<Encounter> {
    if v.get("resourceType").and_then(Value::as_str) != Some("Encounter") {
        return None;
    }
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| crate::fhir::request::is_valid_id(id))?;
    let class = v.get("class");
    let first_type = v.get("type").and_then(|t| t.get(0));
    let period = v.get("period");
    Some(Encounter {
        id: id.to_owned(),
        status: text(v.get("status")),
        class: text(class.and_then(|c| c.get("display")))
            .or_else(|| text(class.and_then(|c| c.get("code")))),
        kind: text(first_type.and_then(|t| t.get("text"))).or_else(|| {
            text(
                first_type
                    .and_then(|t| t.get("coding"))
                    .and_then(|c| c.get(0))
                    .and_then(|c| c.get("display")),
            )
        }),
        start: text(period.and_then(|p| p.get("start"))),
        end: text(period.and_then(|p| p.get("end"))),
        reasons: array(v.get("reasonCode"))
            .filter_map(|r| {
                text(r.get("text")).or_else(|| {
                    text(
                        r.get("coding")
                            .and_then(|c| c.get(0))
                            .and_then(|c| c.get("display")),
                    )
                })
            })
            .collect(),
        locations: array(v.get("location"))
            .filter_map(|l| text(l.get("location").and_then(|l| l.get("display"))))
            .collect(),
        participants: array(v.get("participant"))
            .filter_map(|p| text(p.get("individual")?.get("display")))
            .collect(),
    })
}

/// A text field, cut for display.
fn text(v: Option<&Value>) -> Option<String> {
    crate::fhir::json::text_max(v, 200)
}

/// At most 50 elements of an array field.
fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    crate::fhir::json::array(v).take(50)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/fhir+json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn synthea_shaped_encounter() {
        let body = r#"{"resourceType":"Encounter","id":"e1","status":"finished",
            "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
            "type":[{"coding":[{"display":"Check up (coding)"}],"text":"Encounter for check up"}],
            "period":{"start":"2000-12-24T03:11:33+00:00"}}"#;
        let e = parse_encounter(&resp(body), "e1").unwrap();
        assert_eq!(
            e.summary(),
            "Encounter for check up · 2000-12-24 · finished"
        );
        assert_eq!(e.class.as_deref(), Some("AMB"));
    }

    #[test]
    fn sparse_and_wrong_encounters() {
        let e = parse_encounter(
            &resp(r#"{"resourceType":"Encounter","id":"e1","class":{"code":"EMER"},"type":7}"#),
            "e1",
        )
        .unwrap();
        assert_eq!(e.summary(), "EMER");
        let coding_only = parse_encounter(
            &resp(r#"{"resourceType":"Encounter","id":"e1","type":[{"coding":[{"display":"Visit"}]}],"period":{"start":"2020"}}"#),
            "e1",
        )
        .unwrap();
        assert_eq!(coding_only.summary(), "Visit · 2020");
        for (body, id) in [
            (r#"{"resourceType":"Encounter","id":"other"}"#, "e1"),
            (r#"{"resourceType":"Patient","id":"e1"}"#, "e1"),
            ("<html>", "e1"),
        ] {
            assert_eq!(
                parse_encounter(&resp(body), id),
                Err(FhirError::Malformed),
                "{body}"
            );
        }
    }

    #[test]
    fn the_launch_encounter_must_be_the_patients() {
        const BASE: &str = "https://ehr.example/fhir";
        let with = |subject: &str| {
            resp(&format!(
                r#"{{"resourceType":"Encounter","id":"e1","subject":{{"reference":"{subject}"}}}}"#
            ))
        };
        for ok in ["Patient/p1", "https://ehr.example/fhir/Patient/p1"] {
            assert!(
                parse_launch_encounter(&with(ok), "e1", "p1", BASE).is_ok(),
                "{ok}"
            );
        }
        for wrong in [
            "Patient/p2",
            "https://other.example/fhir/Patient/p1",
            "Group/p1",
        ] {
            assert_eq!(
                parse_launch_encounter(&with(wrong), "e1", "p1", BASE),
                Err(FhirError::Malformed),
                "{wrong}"
            );
        }
        let no_subject = resp(r#"{"resourceType":"Encounter","id":"e1"}"#);
        assert!(parse_launch_encounter(&no_subject, "e1", "p1", BASE).is_err());
    }
}
