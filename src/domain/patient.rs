//! The Patient section: what the Patient resource Cairn already read says about the person,
//! field by field. Each item is a list of parts, each part one string from the record (or a
//! word of Cairn's), so the view can isolate each in its own `<bdi>`. Pure.

use crate::domain::banner::display_name;
use crate::domain::problem::sentence;
use crate::fhir::patient::{Address, ContactPoint, Deceased, HumanName, MultipleBirth, Patient};

/// One labelled field and its items; fields with nothing recorded are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub items: Vec<Vec<String>>,
}

pub fn details(p: &Patient) -> Vec<Field> {
    let one = |v: Option<String>| v.map(|v| vec![vec![v]]).unwrap_or_default();
    let fields = [
        ("Names", p.names.iter().map(name_item).collect()),
        ("Born", one(p.birth_date.clone())),
        ("Gender", one(p.gender.as_deref().map(sentence))),
        (
            "Identifiers",
            p.identifiers
                .iter()
                .filter_map(|i| {
                    let kind = i
                        .type_text
                        .clone()
                        .or_else(|| i.type_codes.first().cloned())
                        .or_else(|| i.system.clone())
                        .unwrap_or_else(|| "Identifier".into());
                    Some(vec![kind, i.value.clone()?])
                })
                .collect(),
        ),
        (
            "Phone and e-mail",
            p.telecom.iter().filter_map(telecom_item).collect(),
        ),
        (
            "Addresses",
            p.addresses.iter().filter_map(address_item).collect(),
        ),
        (
            "Languages",
            p.languages
                .iter()
                .map(|(language, preferred)| {
                    let mut item = vec![language.clone()];
                    if *preferred {
                        item.push("preferred".into());
                    }
                    item
                })
                .collect(),
        ),
        (
            "Marital status",
            one(p.marital_status.as_deref().map(marital)),
        ),
        (
            "Contacts",
            p.contacts
                .iter()
                .filter_map(|c| {
                    let mut item = c.relationships.clone();
                    item.extend(
                        c.name
                            .as_ref()
                            .map(|n| display_name(std::slice::from_ref(n))),
                    );
                    item.extend(c.organization.clone());
                    item.extend(c.telecom.iter().filter_map(|t| t.value.clone()));
                    item.extend(
                        c.address
                            .as_ref()
                            .and_then(address_item)
                            .into_iter()
                            .flatten(),
                    );
                    (!item.is_empty()).then_some(item)
                })
                .collect(),
        ),
        (
            "General practitioner",
            p.general_practitioners
                .iter()
                .map(|g| vec![g.clone()])
                .collect(),
        ),
        (
            "Deceased",
            one(match &p.deceased {
                Deceased::No => Some("No".into()),
                Deceased::Yes => Some("Yes".into()),
                Deceased::On(when) => Some(crate::domain::time::display(when)),
                Deceased::Unknown => None,
            }),
        ),
        (
            "Multiple birth",
            one(match p.multiple_birth {
                MultipleBirth::No => Some("No".into()),
                MultipleBirth::Yes => Some("Yes".into()),
                MultipleBirth::Order(n) => Some(format!("Yes, born {}", ordinal(n))),
                MultipleBirth::Unknown => None,
            }),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, items): &(_, Vec<Vec<String>>)| !items.is_empty())
        .map(|(label, items)| Field { label, items })
        .collect()
}

/// What kind of name, then the name: `Official`, `Alfreda Wyman`.
fn name_item(n: &HumanName) -> Vec<String> {
    let kind = match n.use_.as_deref() {
        Some("official") => "Official",
        Some("usual") => "Usual",
        Some("nickname") => "Nickname",
        Some("maiden") => "Maiden",
        Some("old") => "Former",
        Some("anonymous") => "Anonymous",
        Some("temp") => "Temporary",
        _ => "Name",
    };
    vec![kind.into(), display_name(std::slice::from_ref(n))]
}

fn telecom_item(t: &ContactPoint) -> Option<Vec<String>> {
    let kind = match t.system.as_deref() {
        Some("phone") => "Phone",
        Some("email") => "E-mail",
        Some("fax") => "Fax",
        Some("sms") => "Text message",
        Some("pager") => "Pager",
        Some("url") => "Web",
        _ => "Contact",
    };
    let mut item = vec![kind.to_owned(), t.value.clone()?];
    item.extend(t.use_.clone());
    Some(item)
}

/// The address's text, else its parts in writing order; its use (`home`, `work`) last.
fn address_item(a: &Address) -> Option<Vec<String>> {
    let mut item: Vec<String> = match &a.text {
        Some(text) => vec![text.clone()],
        None => a
            .lines
            .iter()
            .chain(&a.city)
            .chain(&a.district)
            .chain(&a.state)
            .chain(&a.postal_code)
            .chain(&a.country)
            .cloned()
            .collect(),
    };
    if item.is_empty() {
        return None;
    }
    item.extend(a.use_.clone());
    Some(item)
}

/// HL7 v3 MaritalStatus codes, which records often give as their only text (Synthea: `M`).
fn marital(label: &str) -> String {
    match label {
        "A" => "Annulled",
        "D" => "Divorced",
        "I" => "Interlocutory",
        "L" => "Legally separated",
        "M" => "Married",
        "C" => "Common law",
        "P" => "Polygamous",
        "T" => "Domestic partner",
        "U" => "Unmarried",
        "S" => "Never married",
        "W" => "Widowed",
        "UNK" => "Unknown",
        other => other,
    }
    .to_owned()
}

fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::patient::decode_patient;
    use serde_json::json;

    fn fields(v: serde_json::Value) -> Vec<(&'static str, Vec<Vec<String>>)> {
        details(&decode_patient(&v))
            .into_iter()
            .map(|f| (f.label, f.items))
            .collect()
    }

    fn parts(items: &[&[&str]]) -> Vec<Vec<String>> {
        items
            .iter()
            .map(|i| i.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    }

    #[test]
    fn a_synthea_patient() {
        let got = fields(json!({
            "resourceType": "Patient", "id": "p",
            "identifier": [
                {"system": "https://github.com/synthetichealth/synthea", "value": "3287b938"},
                {"type": {"coding": [{"code": "MR"}], "text": "Medical Record Number"}, "value": "3287b938"},
                {"type": {"coding": [{"code": "SS"}]}, "value": "999-98-7415"}],
            "name": [{"use": "official", "family": "Wyman", "given": ["Alfreda"], "prefix": ["Mrs."]},
                     {"use": "maiden", "family": "Deckow", "given": ["Alfreda"]}],
            "telecom": [{"system": "phone", "value": "555-397-1190", "use": "home"}],
            "gender": "female", "birthDate": "1980-10-28",
            "address": [{"line": ["924 Osinski Meadow"], "city": "Wilmington", "state": "Massachusetts",
                         "postalCode": "01887", "country": "US"}],
            "maritalStatus": {"coding": [{"code": "M", "display": "M"}], "text": "M"},
            "multipleBirthBoolean": false,
            "communication": [{"language": {"coding": [{"code": "en-US", "display": "English"}], "text": "English"}}]
        }));
        let want = vec![
            (
                "Names",
                parts(&[
                    &["Official", "Alfreda Wyman"],
                    &["Maiden", "Alfreda Deckow"],
                ]),
            ),
            ("Born", parts(&[&["1980-10-28"]])),
            ("Gender", parts(&[&["Female"]])),
            (
                "Identifiers",
                parts(&[
                    &["https://github.com/synthetichealth/synthea", "3287b938"],
                    &["Medical Record Number", "3287b938"],
                    &["SS", "999-98-7415"],
                ]),
            ),
            (
                "Phone and e-mail",
                parts(&[&["Phone", "555-397-1190", "home"]]),
            ),
            (
                "Addresses",
                parts(&[&[
                    "924 Osinski Meadow",
                    "Wilmington",
                    "Massachusetts",
                    "01887",
                    "US",
                ]]),
            ),
            ("Languages", parts(&[&["English"]])),
            ("Marital status", parts(&[&["Married"]])),
            ("Multiple birth", parts(&[&["No"]])),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn every_field_the_section_shows() {
        let got = fields(json!({
            "resourceType": "Patient", "id": "p",
            "name": [{"use": "usual", "text": "Bob"}, {"use": "nickname", "given": ["Bobby"]}, {"given": ["R."]}],
            "telecom": [{"system": "email", "value": "b@example.org"}, {"system": "phone"}],
            "address": [{"text": "1 Main St, Springfield", "use": "work"}, {"use": "home"}],
            "communication": [{"language": {"coding": [{"code": "fr"}]}},
                              {"language": {"text": "Español"}, "preferred": true},
                              {"preferred": true}],
            "maritalStatus": {"text": "Separated (by choice)"},
            "contact": [{"relationship": [{"coding": [{"code": "N", "display": "Next-of-Kin"}]}, {"text": "Mother"}],
                         "name": {"family": "Doe", "given": ["Jane"]},
                         "telecom": [{"system": "phone", "value": "555-0100"}],
                         "address": {"city": "Paris"}},
                        {"organization": {"display": "Acme Care"}},
                        {}],
            "generalPractitioner": [{"reference": "Practitioner/1", "display": "Dr. Who"}, {"reference": "Organization/2"}],
            "deceasedDateTime": "2020-02-03T04:05:00Z",
            "multipleBirthInteger": 2
        }));
        let want = vec![
            (
                "Names",
                parts(&[&["Usual", "Bob"], &["Nickname", "Bobby"], &["Name", "R."]]),
            ),
            ("Phone and e-mail", parts(&[&["E-mail", "b@example.org"]])),
            ("Addresses", parts(&[&["1 Main St, Springfield", "work"]])),
            ("Languages", parts(&[&["fr"], &["Español", "preferred"]])),
            ("Marital status", parts(&[&["Separated (by choice)"]])),
            (
                "Contacts",
                parts(&[
                    &["Next-of-Kin", "Mother", "Jane Doe", "555-0100", "Paris"],
                    &["Acme Care"],
                ]),
            ),
            ("General practitioner", parts(&[&["Dr. Who"]])),
            ("Deceased", parts(&[&["2020-02-03 04:05"]])),
            ("Multiple birth", parts(&[&["Yes, born 2nd"]])),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn nothing_recorded_and_wrong_types_show_nothing() {
        assert!(fields(json!({"resourceType": "Patient"})).is_empty());
        let got = fields(json!({
            "resourceType": "Patient", "telecom": "555", "address": [7], "contact": {"name": "x"},
            "communication": [{"language": "en"}], "maritalStatus": "M",
            "generalPractitioner": [{"display": 3}], "multipleBirthInteger": "2",
            "deceasedBoolean": false
        }));
        assert_eq!(got, vec![("Deceased", parts(&[&["No"]]))]);
        // Markup and bidirectional controls are kept as written: the view shows them as text.
        let got = fields(json!({"resourceType": "Patient",
            "name": [{"use": "official", "text": "<img src=x onerror=alert(1)>"}],
            "address": [{"city": "\u{202E}قم"}]}));
        assert_eq!(
            got[0].1,
            parts(&[&["Official", "<img src=x onerror=alert(1)>"]])
        );
        assert_eq!(got[1].1, parts(&[&["\u{202E}قم"]]));
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(23), "23rd");
    }
}
