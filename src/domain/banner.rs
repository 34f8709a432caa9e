//! What the patient banner shows.

use crate::domain::LowerCase;
use crate::domain::problem::sentence;
use crate::fhir::patient::{Deceased, HumanName, MrnRule, Patient, find_mrn};

/// A calendar date in the user's time zone (no time, no zone: today's date for ages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub name: String,
    /// As recorded, at its precision (`1963`, `1963-10`, `1963-10-05`).
    pub birth_date: Option<String>,
    /// Whole years, e.g. `42 y` (at death, for a deceased patient with a date).
    pub age: Option<String>,
    pub gender: Option<String>,
    pub mrn: Option<String>,
    pub deceased: Option<String>,
}

pub const NAME_NOT_RECORDED: &str = "Name not recorded";

/// The banner of `patient`; `mrn` is the server's rule for which identifier is the medical
/// record number (`None`: HL7 v2-0203 `MR`, see [`find_mrn`]).
pub fn banner(
    patient: &Patient,
    today: CivilDate,
    mrn: Option<&MrnRule>,
    lower: LowerCase,
) -> Banner {
    let died_on = match &patient.deceased {
        Deceased::On(when) => parse_date(when),
        _ => None,
    };
    let age_at = died_on.unwrap_or(today);
    Banner {
        name: display_name(&patient.names),
        birth_date: patient.birth_date.clone(),
        age: patient
            .birth_date
            .as_deref()
            .and_then(parse_date)
            .and_then(|born| age_in_years(born, age_at))
            .map(|y| format!("{y} y")),
        gender: patient.gender.as_deref().map(sentence),
        mrn: find_mrn(&patient.identifiers, mrn, lower).map(str::to_owned),
        deceased: match &patient.deceased {
            Deceased::On(when) => Some(format!("Deceased {}", when.get(..10).unwrap_or(when))),
            Deceased::Yes => Some("Deceased".to_owned()),
            Deceased::No | Deceased::Unknown => None,
        },
    }
}

/// The official name, else the usual one, else the first: "Given Middle Family".
pub fn display_name(names: &[HumanName]) -> String {
    person_name(names).unwrap_or_else(|| NAME_NOT_RECORDED.to_owned())
}

/// A person's name by the banner's rules ([`display_name`]), or `None` when none is recorded:
/// for whoever signed in, where nothing is shown rather than "Name not recorded".
pub fn person_name(names: &[HumanName]) -> Option<String> {
    let pick = |use_: &str| names.iter().find(|n| n.use_.as_deref() == Some(use_));
    let name = pick("official")
        .or_else(|| pick("usual"))
        .or(names.first())?;
    let parts: Vec<&str> = name
        .given
        .iter()
        .map(String::as_str)
        .chain(name.family.as_deref())
        .collect();
    let shown = if parts.is_empty() {
        name.text.clone()?
    } else {
        parts.join(" ")
    };
    (!shown.trim().is_empty()).then_some(shown)
}

/// A full `YYYY-MM-DD` date at the start of a FHIR date or dateTime; partial dates give `None`.
fn parse_date(s: &str) -> Option<CivilDate> {
    let date = s.get(..10)?;
    let mut parts = date.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let valid = date.len() == 10 && (1..=12).contains(&month) && (1..=31).contains(&day);
    valid.then_some(CivilDate { year, month, day })
}

fn age_in_years(born: CivilDate, on: CivilDate) -> Option<i32> {
    let mut years = on.year - born.year;
    if (on.month, on.day) < (born.month, born.day) {
        years -= 1;
    }
    (years >= 0).then_some(years)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::patient::{Identifier, MrnRule, decode_patient};

    const TODAY: CivilDate = CivilDate {
        year: 2026,
        month: 11,
        day: 22,
    };

    fn patient(json: &str) -> Patient {
        decode_patient(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn names() {
        let name = |json: &str| banner(&patient(json), TODAY, None, str::to_lowercase).name;
        assert_eq!(
            name(
                r#"{"name":[{"use":"maiden","family":"Deckow","given":["Alfreda"]},{"use":"official","family":"Wyman","given":["Alfreda","Jo"],"prefix":["Mrs."]}]}"#
            ),
            "Alfreda Jo Wyman"
        );
        assert_eq!(
            name(
                r#"{"name":[{"use":"nickname","given":["Al"]},{"use":"usual","family":"Smith","given":["Albert"]}]}"#
            ),
            "Albert Smith"
        );
        assert_eq!(name(r#"{"name":[{"text":"محمد علي"}]}"#), "محمد علي");
        assert_eq!(
            name(r#"{"name":[{"given":["<img src=x onerror=alert(1)>"]}]}"#),
            "<img src=x onerror=alert(1)>"
        );
        assert_eq!(name(r#"{}"#), NAME_NOT_RECORDED);
        assert_eq!(name(r#"{"name":[{}]}"#), NAME_NOT_RECORDED);
        // Whoever signed in gets a name or nothing.
        let person = |json: &str| person_name(&patient(json).names);
        assert_eq!(
            person(r#"{"name":[{"use":"official","text":"Dr. Ada Clinician","family":"Clinician","given":["Ada"]}]}"#).as_deref(),
            Some("Ada Clinician")
        );
        assert_eq!(
            person(r#"{"name":[{"text":"Dr. Ada Clinician"}]}"#).as_deref(),
            Some("Dr. Ada Clinician")
        );
        assert_eq!(person(r#"{}"#), None);
        assert_eq!(person(r#"{"name":[{}]}"#), None);
        assert_eq!(person(r#"{"name":[{"text":"  "}]}"#), None);
    }

    #[test]
    fn ages_and_dates() {
        let b = |json: &str| banner(&patient(json), TODAY, None, str::to_lowercase);
        assert_eq!(
            b(r#"{"birthDate":"1984-07-02"}"#).age.as_deref(),
            Some("42 y")
        );
        assert_eq!(
            b(r#"{"birthDate":"1984-11-22"}"#).age.as_deref(),
            Some("42 y")
        );
        assert_eq!(
            b(r#"{"birthDate":"1984-11-23"}"#).age.as_deref(),
            Some("41 y")
        );
        assert_eq!(
            b(r#"{"birthDate":"2020-02-29"}"#).age.as_deref(),
            Some("6 y")
        );
        // Partial dates are shown as written, without a guessed age.
        let partial = b(r#"{"birthDate":"1984-07"}"#);
        assert_eq!(partial.birth_date.as_deref(), Some("1984-07"));
        assert_eq!(partial.age, None);
        assert_eq!(b(r#"{"birthDate":"1984"}"#).age, None);
        assert_eq!(b(r#"{"birthDate":"garbage"}"#).age, None);
        assert_eq!(b(r#"{"birthDate":"2030-01-01"}"#).age, None);
        // Age at death, and the death date shown.
        let dead =
            b(r#"{"birthDate":"1963-10-05","deceasedDateTime":"2008-12-14T03:11:33+00:00"}"#);
        assert_eq!(dead.age.as_deref(), Some("45 y"));
        assert_eq!(dead.deceased.as_deref(), Some("Deceased 2008-12-14"));
        assert_eq!(
            b(r#"{"deceasedBoolean":true}"#).deceased.as_deref(),
            Some("Deceased")
        );
        assert_eq!(b(r#"{"deceasedBoolean":false}"#).deceased, None);
    }

    #[test]
    fn gender_and_mrn() {
        let b = banner(
            &Patient {
                id: None,
                names: vec![],
                birth_date: None,
                gender: Some("female".into()),
                identifiers: vec![
                    Identifier {
                        value: Some("SSN".into()),
                        type_codes: vec!["SS".into()],
                        ..Default::default()
                    },
                    Identifier {
                        value: Some("M-77".into()),
                        type_codes: vec!["MR".into()],
                        ..Default::default()
                    },
                ],
                deceased: Deceased::Unknown,
                ..Default::default()
            },
            TODAY,
            None,
            str::to_lowercase,
        );
        assert_eq!(b.gender.as_deref(), Some("Female"));
        assert_eq!(b.mrn.as_deref(), Some("M-77"));
        let by_text =
            patient(r#"{"identifier":[{"type":{"text":"Medical Record Number"},"value":"T-1"}]}"#);
        assert_eq!(
            banner(&by_text, TODAY, None, str::to_lowercase)
                .mrn
                .as_deref(),
            Some("T-1")
        );
    }

    /// Identifiers as Epic sends them: type text only, OID systems; the MRN is not first.
    const EPIC: &str = r#"{"identifier":[
        {"use":"usual","type":{"text":"EPI"},"system":"urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0","value":"E4007"},
        {"use":"usual","type":{"text":"CEID"},"system":"urn:oid:1.2.840.114350.1.13.0.1.7.3.688884.100","value":"ABC123"},
        {"use":"usual","type":{"text":"MRN"},"system":"urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14","value":"203713"},
        {"use":"usual","system":"urn:oid:2.16.840.1.113883.4.1","value":"xxx-xx-1234"}]}"#;
    /// Identifiers as Synthea writes them: HL7 v2-0203 codes with a type text.
    const SYNTHEA: &str = r#"{"identifier":[
        {"system":"https://github.com/synthetichealth/synthea","value":"7c2b-uuid"},
        {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical Record Number"}],"text":"Medical Record Number"},"system":"http://hospital.smarthealthit.org","value":"MRN-7c2b"},
        {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS"}],"text":"Social Security Number"},"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-25-9373"}]}"#;

    #[test]
    fn the_mrn_follows_the_servers_rule() {
        let rule = |type_text: Option<&str>, system: Option<&str>| MrnRule {
            type_text: type_text.map(str::to_owned),
            system: system.map(str::to_owned),
        };
        let epic_mrn_system = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14";
        let cases: &[(&str, &str, Option<MrnRule>, Option<&str>)] = &[
            // No rule: today's heuristic (v2-0203 `MR`, or "medical record" in the type text).
            ("synthea, default", SYNTHEA, None, Some("MRN-7c2b")),
            ("epic, default: no MR code", EPIC, None, None),
            (
                "epic by type text",
                EPIC,
                Some(rule(Some("MRN"), None)),
                Some("203713"),
            ),
            (
                "epic by type text, any case",
                EPIC,
                Some(rule(Some("mrn"), None)),
                Some("203713"),
            ),
            (
                "type text in another language, any case",
                r#"{"identifier":[{"type":{"text":"N° DE DOSSIER MÉDICAL"},"value":"D-77"}]}"#,
                Some(rule(Some("n° de dossier médical"), None)),
                Some("D-77"),
            ),
            (
                "epic, EPI as the MRN",
                EPIC,
                Some(rule(Some("EPI"), None)),
                Some("E4007"),
            ),
            (
                "epic by system",
                EPIC,
                Some(rule(None, Some(epic_mrn_system))),
                Some("203713"),
            ),
            (
                "epic, both must agree first",
                EPIC,
                Some(rule(Some("MRN"), Some(epic_mrn_system))),
                Some("203713"),
            ),
            (
                "epic, text or system",
                EPIC,
                Some(rule(Some("NOPE"), Some(epic_mrn_system))),
                Some("203713"),
            ),
            (
                "epic, nothing matches",
                EPIC,
                Some(rule(Some("MR"), None)),
                None,
            ),
            (
                "synthea by system",
                SYNTHEA,
                Some(rule(None, Some("http://hospital.smarthealthit.org"))),
                Some("MRN-7c2b"),
            ),
            (
                "synthea by type text",
                SYNTHEA,
                Some(rule(Some("medical record number"), None)),
                Some("MRN-7c2b"),
            ),
            // A configured rule replaces the heuristic: the MR identifier is not a fallback.
            (
                "synthea, rule matches nothing",
                SYNTHEA,
                Some(rule(Some("MRN"), None)),
                None,
            ),
            (
                "a matching identifier without a value is skipped",
                r#"{"identifier":[{"type":{"text":"MRN"}},{"type":{"text":"MRN"},"value":"2"}]}"#,
                Some(rule(Some("MRN"), None)),
                Some("2"),
            ),
            (
                "default skips a valueless MR",
                r#"{"identifier":[{"type":{"coding":[{"code":"MR"}]}},{"type":{"coding":[{"code":"MR"}]},"value":"3"}]}"#,
                None,
                Some("3"),
            ),
        ];
        for (what, json, rule, expected) in cases {
            assert_eq!(
                banner(&patient(json), TODAY, rule.as_ref(), str::to_lowercase)
                    .mrn
                    .as_deref(),
                *expected,
                "{what}"
            );
        }
    }
}
