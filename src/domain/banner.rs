//! What the patient banner shows.

use crate::fhir::patient::{Deceased, HumanName, Patient};

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

pub fn banner(patient: &Patient, today: CivilDate) -> Banner {
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
        gender: patient.gender.as_deref().map(capitalise),
        mrn: patient
            .identifiers
            .iter()
            .find(|i| i.type_codes.iter().any(|c| c == "MR"))
            .or_else(|| {
                patient.identifiers.iter().find(|i| {
                    i.type_text
                        .as_deref()
                        .is_some_and(|t| t.to_ascii_lowercase().contains("medical record"))
                })
            })
            .and_then(|i| i.value.clone()),
        deceased: match &patient.deceased {
            Deceased::On(when) => Some(format!("Deceased {}", when.get(..10).unwrap_or(when))),
            Deceased::Yes => Some("Deceased".to_owned()),
            Deceased::No | Deceased::Unknown => None,
        },
    }
}

/// The official name, else the usual one, else the first: "Given Middle Family".
pub fn display_name(names: &[HumanName]) -> String {
    let pick = |use_: &str| names.iter().find(|n| n.use_.as_deref() == Some(use_));
    let Some(name) = pick("official").or_else(|| pick("usual")).or(names.first()) else {
        return NAME_NOT_RECORDED.to_owned();
    };
    let parts: Vec<&str> = name
        .given
        .iter()
        .map(String::as_str)
        .chain(name.family.as_deref())
        .collect();
    if parts.is_empty() {
        name.text
            .clone()
            .unwrap_or_else(|| NAME_NOT_RECORDED.to_owned())
    } else {
        parts.join(" ")
    }
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

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::patient::{Identifier, decode_patient};

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
        let name = |json: &str| banner(&patient(json), TODAY).name;
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
    }

    #[test]
    fn ages_and_dates() {
        let b = |json: &str| banner(&patient(json), TODAY);
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
            },
            TODAY,
        );
        assert_eq!(b.gender.as_deref(), Some("Female"));
        assert_eq!(b.mrn.as_deref(), Some("M-77"));
        let by_text =
            patient(r#"{"identifier":[{"type":{"text":"Medical Record Number"},"value":"T-1"}]}"#);
        assert_eq!(banner(&by_text, TODAY).mrn.as_deref(), Some("T-1"));
    }
}
