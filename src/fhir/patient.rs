//! Patient, decoded field by field: a wrong-typed field is absent, never an error.

use serde_json::Value;

use crate::domain::LowerCase;
use crate::fhir::error::FhirError;
use crate::fhir::json::{array, text};
use crate::fhir::observation::concept;
use crate::http::HttpResponse;

/// Bodies larger than this are refused unread.
pub const MAX_RESOURCE_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    pub id: Option<String>,
    pub names: Vec<HumanName>,
    /// As written: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub identifiers: Vec<Identifier>,
    pub deceased: Deceased,
    pub telecom: Vec<ContactPoint>,
    pub addresses: Vec<Address>,
    /// `communication`: each language's label, and whether it is marked preferred.
    pub languages: Vec<(String, bool)>,
    pub marital_status: Option<String>,
    pub contacts: Vec<Contact>,
    /// `generalPractitioner[].display`.
    pub general_practitioners: Vec<String>,
    pub multiple_birth: MultipleBirth,
}

/// A phone number, e-mail address or other contact point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactPoint {
    pub system: Option<String>,
    pub value: Option<String>,
    pub use_: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub use_: Option<String>,
    pub text: Option<String>,
    pub lines: Vec<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A contact person (next of kin, emergency contact…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Each relationship's label.
    pub relationships: Vec<String>,
    pub name: Option<HumanName>,
    pub telecom: Vec<ContactPoint>,
    pub address: Option<Address>,
    pub organization: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MultipleBirth {
    #[default]
    Unknown,
    No,
    Yes,
    /// `multipleBirthInteger`: the birth order.
    Order(i64),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HumanName {
    pub use_: Option<String>,
    pub text: Option<String>,
    pub family: Option<String>,
    pub given: Vec<String>,
    pub prefix: Vec<String>,
    pub suffix: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identifier {
    pub type_text: Option<String>,
    pub type_codes: Vec<String>,
    pub system: Option<String>,
    pub value: Option<String>,
}

/// Which identifier is the medical record number, as a server's configuration names it
/// (`fhir_servers[].mrn`): its `type.text` (Epic: `MRN`, `EPI`, …; compared ignoring case)
/// and/or its `system` (Epic: `urn:oid:1.2.840.114350…`). At least one is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MrnRule {
    pub type_text: Option<String>,
    pub system: Option<String>,
}

/// The patient's medical record number: with a rule, the identifier matching it (one that
/// matches both its type text and its system first); without one, the identifier typed HL7
/// v2-0203 `MR`, else one whose type text says "medical record". Identifiers without a value
/// are skipped.
pub fn find_mrn<'a>(
    identifiers: &'a [Identifier],
    rule: Option<&MrnRule>,
    lower: LowerCase,
) -> Option<&'a str> {
    let with_value = || identifiers.iter().filter(|i| i.value.is_some());
    let found = match rule {
        Some(rule) => {
            let by_text = |i: &Identifier| {
                rule.type_text.as_deref().is_some_and(|wanted| {
                    i.type_text
                        .as_deref()
                        .is_some_and(|t| lower(t) == lower(wanted))
                })
            };
            let by_system = |i: &Identifier| {
                rule.system.is_some() && i.system.as_deref() == rule.system.as_deref()
            };
            with_value()
                .find(|i| by_text(i) && by_system(i))
                .or_else(|| with_value().find(|i| by_text(i) || by_system(i)))
        }
        None => with_value()
            .find(|i| i.type_codes.iter().any(|c| c == "MR"))
            .or_else(|| {
                with_value().find(|i| {
                    i.type_text
                        .as_deref()
                        .is_some_and(|t| lower(t).contains("medical record"))
                })
            }),
    };
    found.and_then(|i| i.value.as_deref())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Deceased {
    No,
    Yes,
    /// `deceasedDateTime`, as written.
    On(String),
    #[default]
    Unknown,
}

pub fn parse_patient(resp: &HttpResponse, expected_id: &str) -> Result<Patient, FhirError> {
    if !resp.is_success() {
        // A Patient read refused (Epic: 403, no body, `WWW-Authenticate: Bearer
        // error="insufficient_scope"`) is a permission on patients the app lacks.
        return Err(match FhirError::from_status(resp) {
            FhirError::Forbidden => FhirError::PatientForbidden,
            other => other,
        });
    }
    if resp.body.len() > MAX_RESOURCE_BYTES {
        return Err(FhirError::Malformed);
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|_| FhirError::Malformed)?;
    if v.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return Err(FhirError::Malformed);
    }
    let patient = decode_patient(&v);
    if patient.id.as_deref() != Some(expected_id) {
        return Err(FhirError::WrongPatient);
    }
    Ok(patient)
}

/// The names in the signed-in user's own resource (their `fhirUser`), read by id: none unless
/// the answer is that very resource.
pub fn parse_user_names(resp: &HttpResponse, resource_type: &str, id: &str) -> Vec<HumanName> {
    if !resp.is_success() || resp.body.len() > MAX_RESOURCE_BYTES {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&resp.body) else {
        return Vec::new();
    };
    let is_it = v.get("resourceType").and_then(Value::as_str) == Some(resource_type)
        && v.get("id").and_then(Value::as_str) == Some(id);
    if !is_it {
        return Vec::new();
    }
    array(v.get("name")).map(decode_name).collect()
}

/// Decodes whatever is usable in a Patient resource.
pub fn decode_patient(v: &Value) -> Patient {
    Patient {
        id: text(v.get("id")),
        names: array(v.get("name")).map(decode_name).collect(),
        birth_date: text(v.get("birthDate")),
        gender: text(v.get("gender")),
        identifiers: array(v.get("identifier")).map(decode_identifier).collect(),
        deceased: match (v.get("deceasedBoolean"), text(v.get("deceasedDateTime"))) {
            (_, Some(when)) => Deceased::On(when),
            (Some(Value::Bool(true)), None) => Deceased::Yes,
            (Some(Value::Bool(false)), None) => Deceased::No,
            (None, None) => Deceased::Unknown,
            (Some(_), None) => Deceased::Unknown,
        },
        telecom: array(v.get("telecom")).map(decode_contact_point).collect(),
        addresses: array(v.get("address")).map(decode_address).collect(),
        languages: array(v.get("communication"))
            .filter_map(|c| {
                let label = concept(c.get("language")).label()?.to_owned();
                Some((label, c.get("preferred") == Some(&Value::Bool(true))))
            })
            .collect(),
        marital_status: concept(v.get("maritalStatus")).label().map(str::to_owned),
        contacts: array(v.get("contact")).map(decode_contact).collect(),
        general_practitioners: array(v.get("generalPractitioner"))
            .filter_map(|r| text(r.get("display")))
            .collect(),
        multiple_birth: match (v.get("multipleBirthBoolean"), v.get("multipleBirthInteger")) {
            (_, Some(n)) if n.as_i64().is_some() => MultipleBirth::Order(n.as_i64().unwrap_or(0)),
            (Some(Value::Bool(true)), _) => MultipleBirth::Yes,
            (Some(Value::Bool(false)), _) => MultipleBirth::No,
            _ => MultipleBirth::Unknown,
        },
    }
}

fn decode_contact_point(v: &Value) -> ContactPoint {
    ContactPoint {
        system: text(v.get("system")),
        value: text(v.get("value")),
        use_: text(v.get("use")),
    }
}

fn decode_address(v: &Value) -> Address {
    Address {
        use_: text(v.get("use")),
        text: text(v.get("text")),
        lines: strings(v.get("line")),
        city: text(v.get("city")),
        district: text(v.get("district")),
        state: text(v.get("state")),
        postal_code: text(v.get("postalCode")),
        country: text(v.get("country")),
    }
}

fn decode_contact(v: &Value) -> Contact {
    Contact {
        relationships: array(v.get("relationship"))
            .filter_map(|r| concept(Some(r)).label().map(str::to_owned))
            .collect(),
        name: v.get("name").filter(|n| n.is_object()).map(decode_name),
        telecom: array(v.get("telecom")).map(decode_contact_point).collect(),
        address: v
            .get("address")
            .filter(|a| a.is_object())
            .map(decode_address),
        organization: text(v.get("organization").and_then(|o| o.get("display"))),
    }
}

fn decode_name(v: &Value) -> HumanName {
    HumanName {
        use_: text(v.get("use")),
        text: text(v.get("text")),
        family: text(v.get("family")),
        given: strings(v.get("given")),
        prefix: strings(v.get("prefix")),
        suffix: strings(v.get("suffix")),
    }
}

fn decode_identifier(v: &Value) -> Identifier {
    let ty = v.get("type");
    Identifier {
        type_text: text(ty.and_then(|t| t.get("text"))),
        type_codes: array(ty.and_then(|t| t.get("coding")))
            .filter_map(|c| text(c.get("code")))
            .collect(),
        system: text(v.get("system")),
        value: text(v.get("value")),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    array(v).filter_map(|x| text(Some(x))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_own_resource_gives_its_names_and_nothing_else_does() {
        let practitioner = r#"{"resourceType": "Practitioner", "id": "p1",
            "name": [{"use": "official", "family": "Clinician", "given": ["Ada"]}]}"#;
        let names = |status, body: &str, ty, id| {
            parse_user_names(&resp(status, body), ty, id)
                .iter()
                .map(|n| n.family.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(200, practitioner, "Practitioner", "p1"),
            ["Clinician"]
        );
        assert!(names(200, practitioner, "Practitioner", "p2").is_empty());
        assert!(names(200, practitioner, "Patient", "p1").is_empty());
        assert!(names(403, practitioner, "Practitioner", "p1").is_empty());
        assert!(names(200, "not json", "Practitioner", "p1").is_empty());
        assert!(
            names(
                200,
                r#"{"resourceType": "Practitioner", "id": "p1", "name": "x"}"#,
                "Practitioner",
                "p1"
            )
            .is_empty()
        );
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/fhir+json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn decodes_a_synthea_patient() {
        let body = r#"{"resourceType":"Patient","id":"p1","name":[{"use":"official","family":"Riojas","given":["Alejandro"],"prefix":["Mr."]}],
            "gender":"male","birthDate":"1963-10-05","deceasedDateTime":"2008-12-14T03:11:33+00:00",
            "identifier":[{"system":"https://github.com/synthetichealth/synthea","value":"x"},
              {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}],"text":"Medical Record Number"},"value":"MRN-1"}]}"#;
        let p = parse_patient(&resp(200, body), "p1").unwrap();
        assert_eq!(p.names[0].given, ["Alejandro"]);
        assert_eq!(p.birth_date.as_deref(), Some("1963-10-05"));
        assert_eq!(p.deceased, Deceased::On("2008-12-14T03:11:33+00:00".into()));
        assert_eq!(p.identifiers[1].type_codes, ["MR"]);
        assert_eq!(p.identifiers[1].value.as_deref(), Some("MRN-1"));
    }

    #[test]
    fn wrong_types_degrade_to_absent() {
        let body = r#"{"resourceType":"Patient","id":"p1","name":"Bob","gender":7,"birthDate":["x"],
            "identifier":[{"value":5},{"type":"MR","value":"v"}],"deceasedBoolean":"yes"}"#;
        let p = parse_patient(&resp(200, body), "p1").unwrap();
        assert!(p.names.is_empty());
        assert_eq!(p.gender, None);
        assert_eq!(p.birth_date, None);
        assert_eq!(p.identifiers[0].value, None);
        assert_eq!(p.identifiers[1].value.as_deref(), Some("v"));
        assert_eq!(p.deceased, Deceased::Unknown);
    }

    #[test]
    fn refusals() {
        let cases = [
            (resp(401, ""), FhirError::Unauthorized),
            (resp(403, ""), FhirError::PatientForbidden),
            (
                resp(
                    403,
                    r#"{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"suppressed","details":{"coding":[{"code":"4130"}]}}]}"#,
                ),
                FhirError::BreakTheGlass,
            ),
            (resp(404, ""), FhirError::NotFound),
            (resp(410, ""), FhirError::NotFound),
            (
                resp(502, "bad gateway"),
                FhirError::Http {
                    status: 502,
                    diagnostics: None,
                },
            ),
            (resp(200, "<html>"), FhirError::Malformed),
            (
                resp(200, r#"{"resourceType":"Observation","id":"p1"}"#),
                FhirError::Malformed,
            ),
            (resp(200, r#"[]"#), FhirError::Malformed),
            (
                resp(200, r#"{"resourceType":"Patient","id":"other"}"#),
                FhirError::WrongPatient,
            ),
            (
                resp(200, r#"{"resourceType":"Patient"}"#),
                FhirError::WrongPatient,
            ),
        ];
        for (r, expected) in cases {
            assert_eq!(parse_patient(&r, "p1"), Err(expected));
        }
    }

    #[test]
    fn mutated_json_never_panics() {
        let mut rng = crate::testing::SplitMix(11);
        let seed = br#"{"resourceType":"Patient","id":"p1","name":[{"given":["A"],"family":"B"}],"birthDate":"2000-01-01","identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"1"}]}"#;
        for _ in 0..5000 {
            let mut body = seed.to_vec();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() as usize) % body.len();
                body[at] = b"{}[]\":,0a\\"[(rng.next() % 10) as usize];
            }
            let r = HttpResponse {
                status: 200,
                content_type: None,
                body,
            };
            if let Ok(p) = parse_patient(&r, "p1") {
                let _ = crate::domain::banner::banner(
                    &p,
                    crate::domain::banner::CivilDate {
                        year: 2026,
                        month: 11,
                        day: 22,
                    },
                    None,
                    str::to_lowercase,
                );
            }
        }
    }
}
