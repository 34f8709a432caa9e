//! Patient search, for a clinician who opened Cairn without a patient in context: by family
//! name, given name and birth date (Epic's minimum data set), or by medical record number in
//! the form the server's configuration says.

use serde_json::Value;

use crate::fhir::error::FhirError;
use crate::fhir::patient::{MAX_RESOURCE_BYTES, MrnRule, Patient, decode_patient};
use crate::fhir::request::is_valid_id;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::secret::AccessToken;
use crate::uri::form;

/// Results asked for in one search; a clinician refines the query rather than pages.
pub const SEARCH_COUNT: u32 = 20;
/// Longest value accepted in any field of the search form.
pub const MAX_QUERY_CHARS: usize = 100;

/// What the clinician typed in the search form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchForm {
    pub family: String,
    pub given: String,
    /// `YYYY-MM-DD` (what a date input gives).
    pub birth_date: String,
    /// A FHIR administrative gender code (see [`SEXES`]), or empty.
    pub sex: String,
    pub mrn: String,
}

/// The sexes the form offers: FHIR administrative gender code and label.
pub const SEXES: [(&str, &str); 4] = [
    ("female", "Female"),
    ("male", "Male"),
    ("other", "Other"),
    ("unknown", "Unknown"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientQuery {
    /// Epic's minimum data set for a search by name: family and given name and birth date;
    /// the sex narrows it.
    Person {
        family: String,
        given: String,
        birth_date: String,
        sex: Option<String>,
    },
    /// A medical record number, exact.
    Mrn(String),
}

/// The form as a query, or a message saying what to add or correct. An MRN, when entered,
/// is searched for alone.
pub fn patient_query(form: &SearchForm) -> Result<PatientQuery, String> {
    let too_long =
        |what: &str| format!("The {what} is too long: enter at most {MAX_QUERY_CHARS} characters.");
    let mrn = form.mrn.trim();
    if !mrn.is_empty() {
        if mrn.chars().count() > MAX_QUERY_CHARS {
            return Err(too_long("MRN"));
        }
        return Ok(PatientQuery::Mrn(mrn.to_owned()));
    }
    let family = form.family.trim();
    let given = form.given.trim();
    let birth_date = form.birth_date.trim();
    let missing: Vec<&str> = [
        (family, "family name"),
        (given, "given name"),
        (birth_date, "birth date"),
    ]
    .into_iter()
    .filter(|(value, _)| value.is_empty())
    .map(|(_, what)| what)
    .collect();
    if missing.len() == 3 {
        return Err("Enter the family name, given name and birth date, or the MRN.".to_owned());
    }
    if !missing.is_empty() {
        return Err(format!(
            "Add the {} to search by name, or enter the MRN instead.",
            and_list(&missing)
        ));
    }
    for (value, what) in [(family, "family name"), (given, "given name")] {
        if value.chars().count() > MAX_QUERY_CHARS {
            return Err(too_long(what));
        }
    }
    if !is_full_date(birth_date) {
        return Err("Enter the birth date as year, month and day (YYYY-MM-DD).".to_owned());
    }
    let sex = form.sex.trim();
    if !sex.is_empty() && !SEXES.iter().any(|(code, _)| *code == sex) {
        return Err("Choose the sex from the list, or leave it empty.".to_owned());
    }
    Ok(PatientQuery::Person {
        family: family.to_owned(),
        given: given.to_owned(),
        birth_date: birth_date.to_owned(),
        sex: (!sex.is_empty()).then(|| sex.to_owned()),
    })
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `YYYY-MM-DD`, a real calendar day.
fn is_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return false;
    }
    if !digits(8..10) {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        s[..4].parse::<u32>(),
        s[5..7].parse::<u32>(),
        s[8..].parse::<u32>(),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

/// The `identifier` search value for an MRN, in the form the server's rule says: its type text
/// (`MRN|203713`, Epic's `{IDType}|{ID}`), else its system (`urn:oid:…|203713`, standard FHIR),
/// else the bare value, which a standard server matches in any system (so it finds the patient
/// whose MRN the banner shows).
pub fn mrn_search_value(rule: Option<&MrnRule>, mrn: &str) -> String {
    match rule {
        Some(MrnRule {
            type_text: Some(type_text),
            ..
        }) => format!("{type_text}|{mrn}"),
        Some(MrnRule {
            system: Some(system),
            ..
        }) => format!("{system}|{mrn}"),
        _ => mrn.to_owned(),
    }
}

/// The search request; `mrn` is the server's rule for which identifier is the MRN. A query
/// with an empty or overlong value is refused before any request.
pub fn patient_search_request(
    fhir_base: &str,
    query: &PatientQuery,
    mrn: Option<&MrnRule>,
    token: &AccessToken,
) -> Result<HttpRequest, FhirError> {
    let params: Vec<(&str, String)> = match query {
        PatientQuery::Person {
            family,
            given,
            birth_date,
            sex,
        } => [
            ("family", Some(family)),
            ("given", Some(given)),
            ("birthdate", Some(birth_date)),
            ("gender", sex.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?.trim().to_owned())))
        .collect(),
        PatientQuery::Mrn(value) => vec![("identifier", value.trim().to_owned())],
    };
    if params
        .iter()
        .any(|(_, v)| v.is_empty() || v.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(FhirError::BadQuery);
    }
    let mut pairs: Vec<(&str, String)> = params
        .into_iter()
        .map(|(name, value)| match name {
            "identifier" => (name, mrn_search_value(mrn, &value)),
            _ => (name, value),
        })
        .collect();
    pairs.push(("_count", SEARCH_COUNT.to_string()));
    let query = form(pairs.iter().map(|(n, v)| (*n, v.as_str())));
    Ok(HttpRequest {
        method: Method::Get,
        url: format!("{}/Patient?{query}", fhir_base.trim_end_matches('/')),
        headers: vec![
            ("Accept".into(), "application/fhir+json".into()),
            ("Authorization".into(), format!("Bearer {}", token.secret())),
        ],
        body: None,
        max_body: MAX_RESOURCE_BYTES,
    })
}

/// Shown when a search matched nobody.
pub const NO_MATCH: &str = "No patient matches. Check the spelling, the birth date or the number.";

/// The patients a search found, or what the clinician is told instead: Epic's refusals that
/// more in the form would fix (too few elements, 59133; more than 100 matches, 4127) say what
/// to add; any other failure says what the EHR said.
pub fn read_patient_search(
    resp: &HttpResponse,
    query: &PatientQuery,
) -> Result<Vec<Patient>, String> {
    if let Some(refusal) = search_refusal(resp) {
        return Err(refusal.message(query));
    }
    parse_patient_bundle(resp)
        .map_err(|err| format!("The search did not work. {}", err.problem().detail))
}

/// A patient search Epic refused for what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRefusal {
    /// 59133: too few elements (below the minimum data set).
    TooFewElements,
    /// 4127: more than 100 patients match.
    TooManyMatches,
}

impl SearchRefusal {
    /// What to add to the search, from what was sent.
    pub fn message(self, query: &PatientQuery) -> String {
        match (self, query) {
            (SearchRefusal::TooFewElements, PatientQuery::Mrn(_)) => {
                "The EHR cannot search by this MRN alone: search by family name, given name \
                 and birth date instead."
                    .to_owned()
            }
            (SearchRefusal::TooManyMatches, PatientQuery::Mrn(_)) => {
                "More than 100 patients match this MRN: check the number.".to_owned()
            }
            (SearchRefusal::TooFewElements, PatientQuery::Person { sex: None, .. }) => {
                "The EHR needs more to find a patient: add the sex, or search by MRN.".to_owned()
            }
            (SearchRefusal::TooFewElements, PatientQuery::Person { .. }) => {
                "The EHR needs more to find a patient: search by MRN.".to_owned()
            }
            (SearchRefusal::TooManyMatches, PatientQuery::Person { sex: None, .. }) => {
                "More than 100 patients match: add the sex, or search by MRN.".to_owned()
            }
            (SearchRefusal::TooManyMatches, PatientQuery::Person { .. }) => {
                "More than 100 patients match: enter the full family and given names, or \
                 search by MRN."
                    .to_owned()
            }
        }
    }
}

/// Epic's refusal codes in an OperationOutcome, whether it is the whole answer (an error
/// status) or an entry of a searchset Bundle: in an issue's `details.coding[].code`, or as a
/// word of its diagnostics or details text. Warnings and information (4101 "no results",
/// 4122 "parameter ignored") are not refusals.
pub fn search_refusal(resp: &HttpResponse) -> Option<SearchRefusal> {
    if resp.body.len() > MAX_RESOURCE_BYTES {
        return None;
    }
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    let resource_type = |r: &Value| {
        r.get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let outcomes: Vec<&Value> = match resource_type(&v).as_deref() {
        Some("OperationOutcome") => vec![&v],
        Some("Bundle") => crate::fhir::json::array(v.get("entry"))
            .filter_map(|e| e.get("resource"))
            .filter(|r| resource_type(r).as_deref() == Some("OperationOutcome"))
            .collect(),
        _ => return None,
    };
    let codes = |issue: &Value| -> Vec<String> {
        let coded = crate::fhir::json::array(issue.get("details").and_then(|d| d.get("coding")))
            .filter_map(|c| c.get("code").and_then(Value::as_str))
            .map(|c| c.trim().to_owned());
        let written = [
            issue.get("diagnostics"),
            issue.get("details").and_then(|d| d.get("text")),
        ]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .flat_map(|t| t.split(|c: char| !c.is_ascii_alphanumeric()))
        .map(str::to_owned);
        coded.chain(written).collect()
    };
    outcomes
        .into_iter()
        .flat_map(|o| crate::fhir::json::array(o.get("issue")))
        .filter(|issue| {
            !matches!(
                issue.get("severity").and_then(Value::as_str),
                Some("warning" | "information")
            )
        })
        .flat_map(codes)
        .find_map(|code| match code.as_str() {
            "59133" => Some(SearchRefusal::TooFewElements),
            "4127" => Some(SearchRefusal::TooManyMatches),
            _ => None,
        })
}

/// Results asked for per page of the chart's searches (servers may send fewer).
pub const PAGE_COUNT: u32 = 200;

/// The patient's encounters, newest first. `None` for an invalid patient id.
pub fn encounter_search_url(fhir_base: &str, patient: &str) -> Option<String> {
    is_valid_id(patient).then(|| {
        let query = form([
            ("patient", patient),
            ("_sort", "-date"),
            ("_count", &PAGE_COUNT.to_string()),
        ]);
        format!("{}/Encounter?{query}", fhir_base.trim_end_matches('/'))
    })
}

/// Vital signs: the chart's cards and trends.
pub const VITAL_SIGNS: &str = "vital-signs";
/// Laboratory results: the chart's grouped table.
pub const LABORATORY: &str = "laboratory";
/// The rest of FHIR's observation-category code system, one search each (each may fail
/// alone). Epic refuses an Observation search without a category, so "everything else" has to
/// be named.
pub const OTHER_CATEGORIES: [&str; 7] = [
    "social-history",
    "survey",
    "exam",
    "imaging",
    "procedure",
    "therapy",
    "activity",
];
/// Every category: an encounter's observations.
pub fn all_categories() -> Vec<&'static str> {
    [VITAL_SIGNS, LABORATORY]
        .into_iter()
        .chain(OTHER_CATEGORIES)
        .collect()
}

/// The patient's observations in `categories` (comma-separated, OR), newest first, optionally
/// of one encounter. Epic refuses Observation searches without a category or code, so there
/// is always one. `None` for an invalid id or no category.
pub fn observation_search_url(
    fhir_base: &str,
    patient: &str,
    categories: &[&str],
    encounter: Option<&str>,
) -> Option<String> {
    if !is_valid_id(patient) || categories.is_empty() || encounter.is_some_and(|e| !is_valid_id(e))
    {
        return None;
    }
    let categories = categories.join(",");
    let encounter = encounter.map(|e| format!("Encounter/{e}"));
    let count = PAGE_COUNT.to_string();
    let query = form(
        [
            ("patient", Some(patient)),
            ("category", Some(categories.as_str())),
            ("encounter", encounter.as_deref()),
            ("_sort", Some("-date")),
            ("_count", Some(count.as_str())),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?))),
    );
    Some(format!(
        "{}/Observation?{query}",
        fhir_base.trim_end_matches('/')
    ))
}

/// The patients a searchset Bundle matched: entries whose `search.mode` is `match` (or absent),
/// whose resource is a Patient with a valid id. Other entries (includes, OperationOutcomes,
/// broken resources) are skipped, never fatal.
pub fn parse_patient_bundle(resp: &HttpResponse) -> Result<Vec<Patient>, FhirError> {
    if !resp.is_success() {
        return Err(FhirError::from_status(resp));
    }
    if resp.body.len() > MAX_RESOURCE_BYTES {
        return Err(FhirError::Malformed);
    }
    let bundle: Value = serde_json::from_slice(&resp.body).map_err(|_| FhirError::Malformed)?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirError::Malformed);
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(entries
        .iter()
        .filter(|e| {
            let mode = e
                .get("search")
                .and_then(|s| s.get("mode"))
                .and_then(Value::as_str);
            matches!(mode, None | Some("match"))
        })
        .filter_map(|e| e.get("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        .map(decode_patient)
        .filter(|p| p.id.as_deref().is_some_and(is_valid_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AccessToken {
        AccessToken::new("AT-CANARY-1".into())
    }

    fn person(family: &str, given: &str, birth_date: &str, sex: Option<&str>) -> PatientQuery {
        PatientQuery::Person {
            family: family.into(),
            given: given.into(),
            birth_date: birth_date.into(),
            sex: sex.map(str::to_owned),
        }
    }

    #[test]
    fn the_form_becomes_a_query_or_says_what_to_add() {
        let form = |family: &str, given: &str, birth_date: &str, sex: &str, mrn: &str| SearchForm {
            family: family.into(),
            given: given.into(),
            birth_date: birth_date.into(),
            sex: sex.into(),
            mrn: mrn.into(),
        };
        let long = "x".repeat(MAX_QUERY_CHARS + 1);
        let cases: Vec<(SearchForm, Result<PatientQuery, &str>)> = vec![
            (
                form(" O'Brien ", " Siobhán ", "1984-07-02", "", ""),
                Ok(person("O'Brien", "Siobhán", "1984-07-02", None)),
            ),
            (
                form("Wyman", "Alfreda", "2000-02-29", "female", ""),
                Ok(person("Wyman", "Alfreda", "2000-02-29", Some("female"))),
            ),
            // An MRN is searched for alone, whatever else is filled in.
            (
                form("", "", "", "", " 203713 "),
                Ok(PatientQuery::Mrn("203713".into())),
            ),
            (
                form("Wyman", "", "", "", "E4007"),
                Ok(PatientQuery::Mrn("E4007".into())),
            ),
            (
                form("", "", "", "", ""),
                Err("Enter the family name, given name and birth date, or the MRN."),
            ),
            (
                form("  ", "\t", "", "male", " "),
                Err("Enter the family name, given name and birth date, or the MRN."),
            ),
            (
                form("Wyman", "", "", "", ""),
                Err(
                    "Add the given name and birth date to search by name, or enter the MRN instead.",
                ),
            ),
            (
                form("Wyman", "Alfreda", "", "", ""),
                Err("Add the birth date to search by name, or enter the MRN instead."),
            ),
            (
                form("", "Alfreda", "1984-07-02", "", ""),
                Err("Add the family name to search by name, or enter the MRN instead."),
            ),
            (
                form("", "", "1984-07-02", "", ""),
                Err(
                    "Add the family name and given name to search by name, or enter the MRN instead.",
                ),
            ),
            (
                form("Wyman", "Alfreda", "1984", "", ""),
                Err("Enter the birth date as year, month and day (YYYY-MM-DD)."),
            ),
            (
                form("Wyman", "Alfreda", "02/07/1984", "", ""),
                Err("Enter the birth date as year, month and day (YYYY-MM-DD)."),
            ),
            (
                form("Wyman", "Alfreda", "2001-02-29", "", ""),
                Err("Enter the birth date as year, month and day (YYYY-MM-DD)."),
            ),
            (
                form("Wyman", "Alfreda", "1984-13-01", "", ""),
                Err("Enter the birth date as year, month and day (YYYY-MM-DD)."),
            ),
            (
                form("Wyman", "Alfreda", "1984-07-02", "F", ""),
                Err("Choose the sex from the list, or leave it empty."),
            ),
            (
                form(&long, "Alfreda", "1984-07-02", "", ""),
                Err("The family name is too long: enter at most 100 characters."),
            ),
            (
                form("Wyman", &long, "1984-07-02", "", ""),
                Err("The given name is too long: enter at most 100 characters."),
            ),
            (
                form("", "", "", "", &long),
                Err("The MRN is too long: enter at most 100 characters."),
            ),
        ];
        for (form, expected) in cases {
            assert_eq!(
                patient_query(&form),
                expected.map_err(str::to_owned),
                "{form:?}"
            );
        }
    }

    #[test]
    fn requests_by_name_and_birth_date() {
        let request = |query: &PatientQuery| {
            patient_search_request("https://ehr.example/fhir/", query, None, &token()).unwrap()
        };
        let by_person = request(&person("O'Brien & Søn", "Siobhán", "1984-07-02", None));
        assert_eq!(
            by_person.url,
            "https://ehr.example/fhir/Patient?family=O%27Brien+%26+S%C3%B8n&given=Siobh%C3%A1n\
             &birthdate=1984-07-02&_count=20"
        );
        assert_eq!(
            by_person.header("authorization"),
            Some("Bearer AT-CANARY-1")
        );
        assert!(!by_person.url.contains("AT-CANARY"));
        assert_eq!(
            request(&person("Wyman", "Alfreda", "1984-07-02", Some("female"))).url,
            "https://ehr.example/fhir/Patient?family=Wyman&given=Alfreda&birthdate=1984-07-02\
             &gender=female&_count=20"
        );
        for bad in [
            person("", "A", "1984-07-02", None),
            person("W", " ", "1984-07-02", None),
            person("W", "A", "1984-07-02", Some("")),
            PatientQuery::Mrn("  ".into()),
            PatientQuery::Mrn("x".repeat(101)),
        ] {
            assert_eq!(
                patient_search_request("https://e/fhir", &bad, None, &token()),
                Err(FhirError::BadQuery),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_mrn_is_searched_for_in_the_form_the_server_takes() {
        let rule = |type_text: Option<&str>, system: Option<&str>| MrnRule {
            type_text: type_text.map(str::to_owned),
            system: system.map(str::to_owned),
        };
        let cases = [
            // Epic: `{IDType}|{ID}`, the identifier's type text.
            (Some(rule(Some("MRN"), None)), "identifier=MRN%7C203713"),
            (
                Some(rule(
                    Some("EPI"),
                    Some("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0"),
                )),
                "identifier=EPI%7C203713",
            ),
            // Standard FHIR: `system|value`.
            (
                Some(rule(
                    None,
                    Some("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"),
                )),
                "identifier=urn%3Aoid%3A1.2.840.114350.1.13.0.1.7.5.737384.14%7C203713",
            ),
            (
                Some(rule(None, Some("http://hospital.smarthealthit.org"))),
                "identifier=http%3A%2F%2Fhospital.smarthealthit.org%7C203713",
            ),
            // No rule: the value in any system (not `MRN|…`, which a standard server reads as
            // the system "MRN" and matches nothing).
            (None, "identifier=203713"),
        ];
        for (rule, expected) in cases {
            let request = patient_search_request(
                "https://ehr.example/fhir",
                &PatientQuery::Mrn(" 203713 ".into()),
                rule.as_ref(),
                &token(),
            )
            .unwrap();
            assert_eq!(
                request.url,
                format!("https://ehr.example/fhir/Patient?{expected}&_count=20"),
                "{rule:?}"
            );
        }
    }

    fn outcome(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/fhir+json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    /// An OperationOutcome as Epic writes one: its code in `details.coding` under an Epic OID
    /// system, the words in `details.text` and `diagnostics`.
    fn epic_outcome(severity: &str, code: &str, text: &str) -> String {
        format!(
            r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"{severity}","code":"processing",
              "details":{{"coding":[{{"system":"urn:oid:1.2.840.114350.1.13.0.1.7.2.657369","code":"{code}","display":"{text}"}}],"text":"{text}"}},
              "diagnostics":"{text}"}}]}}"#
        )
    }

    #[test]
    fn epics_refusals_say_what_to_add() {
        let too_few = epic_outcome("fatal", "59133", "Too few elements were provided.");
        let too_many = epic_outcome(
            "error",
            "4127",
            "The search returned more than the maximum number of results allowed.",
        );
        let in_bundle = |outcome: &str| {
            format!(
                r#"{{"resourceType":"Bundle","type":"searchset","total":0,"entry":[
                  {{"resource":{outcome},"search":{{"mode":"outcome"}}}}]}}"#
            )
        };
        let by_name = person("Smith", "John", "1970-01-01", None);
        let by_name_and_sex = person("Smith", "John", "1970-01-01", Some("male"));
        let by_mrn = PatientQuery::Mrn("203713".into());
        let cases: Vec<(&str, HttpResponse, &PatientQuery, &str)> = vec![
            (
                "59133 by name",
                outcome(400, &too_few),
                &by_name,
                "The EHR needs more to find a patient: add the sex, or search by MRN.",
            ),
            (
                "59133 by name and sex",
                outcome(400, &too_few),
                &by_name_and_sex,
                "The EHR needs more to find a patient: search by MRN.",
            ),
            (
                "59133 by MRN",
                outcome(400, &too_few),
                &by_mrn,
                "The EHR cannot search by this MRN alone: search by family name, given name and \
                 birth date instead.",
            ),
            (
                "4127 by name",
                outcome(400, &too_many),
                &by_name,
                "More than 100 patients match: add the sex, or search by MRN.",
            ),
            (
                "4127 by name and sex",
                outcome(400, &too_many),
                &by_name_and_sex,
                "More than 100 patients match: enter the full family and given names, or search \
                 by MRN.",
            ),
            (
                "4127 by MRN",
                outcome(400, &too_many),
                &by_mrn,
                "More than 100 patients match this MRN: check the number.",
            ),
            (
                "4127 as an outcome entry of a 200 Bundle",
                outcome(200, &in_bundle(&too_many)),
                &by_name,
                "More than 100 patients match: add the sex, or search by MRN.",
            ),
            (
                "the code only in the diagnostics",
                outcome(
                    400,
                    r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Error 59133: not enough search criteria"}]}"#,
                ),
                &by_name,
                "The EHR needs more to find a patient: add the sex, or search by MRN.",
            ),
            (
                "another error: what the EHR said",
                outcome(
                    400,
                    &epic_outcome(
                        "error",
                        "4100",
                        "The resource request contained an invalid parameter",
                    ),
                ),
                &by_name,
                "The search did not work. The EHR answered HTTP 400. The EHR said: “The \
                 resource request contained an invalid parameter”",
            ),
            (
                "a 500 without a body",
                outcome(500, ""),
                &by_name,
                "The search did not work. The EHR answered HTTP 500.",
            ),
            (
                "a code that only looks alike",
                outcome(
                    400,
                    r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","diagnostics":"Error 41270"}]}"#,
                ),
                &by_name,
                "The search did not work. The EHR answered HTTP 400. The EHR said: “Error 41270”",
            ),
        ];
        for (what, response, query, expected) in cases {
            assert_eq!(
                read_patient_search(&response, query),
                Err(expected.to_owned()),
                "{what}"
            );
        }
    }

    #[test]
    fn warnings_and_empty_results_are_not_refusals() {
        // Epic's empty result: total 0 with a 4101 information outcome, and a 4122 warning for
        // an ignored parameter.
        let empty = r#"{"resourceType":"Bundle","type":"searchset","total":0,"entry":[
            {"resource":{"resourceType":"OperationOutcome","issue":[
              {"severity":"information","code":"informational","details":{"coding":[{"code":"4101"}],"text":"No results were found."}},
              {"severity":"warning","code":"processing","details":{"coding":[{"code":"4122"}],"text":"4127 ignored"}}]},
             "search":{"mode":"outcome"}}]}"#;
        assert_eq!(search_refusal(&outcome(200, empty)), None);
        assert_eq!(
            read_patient_search(&outcome(200, empty), &PatientQuery::Mrn("1".into())),
            Ok(vec![])
        );
        for junk in [
            "",
            "<html>",
            "[]",
            r#"{"resourceType":"Patient"}"#,
            r#"{"resourceType":"OperationOutcome","issue":7}"#,
        ] {
            assert_eq!(search_refusal(&outcome(400, junk)), None, "{junk}");
        }
    }

    #[test]
    fn chart_search_urls() {
        assert_eq!(
            encounter_search_url("https://e/fhir/", "p-1").as_deref(),
            Some("https://e/fhir/Encounter?patient=p-1&_sort=-date&_count=200")
        );
        assert_eq!(
            observation_search_url("https://e/fhir", "p-1", &["vital-signs"], None).as_deref(),
            Some(
                "https://e/fhir/Observation?patient=p-1&category=vital-signs&_sort=-date&_count=200"
            )
        );
        assert_eq!(
            observation_search_url(
                "https://e/fhir",
                "p-1",
                &["vital-signs", "laboratory"],
                Some("e.9")
            )
            .as_deref(),
            Some(
                "https://e/fhir/Observation?patient=p-1&category=vital-signs%2Claboratory\
                 &encounter=Encounter%2Fe.9&_sort=-date&_count=200"
            )
        );
        assert_eq!(encounter_search_url("https://e/fhir", "../x"), None);
        assert_eq!(
            observation_search_url("https://e/fhir", "p", &[], None),
            None
        );
        assert_eq!(
            observation_search_url("https://e/fhir", "p", &["laboratory"], Some("a/b")),
            None
        );
    }

    #[test]
    fn every_category_is_asked_for_exactly_once() {
        let mut all = all_categories();
        assert_eq!(all.len(), 9);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 9, "a category is asked for twice");
    }

    #[test]
    fn only_matched_patients_are_kept() {
        let body = br#"{"resourceType":"Bundle","type":"searchset","entry":[
            {"resource":{"resourceType":"Patient","id":"a","name":[{"family":"One"}]},"search":{"mode":"match"}},
            {"resource":{"resourceType":"Patient","id":"b"}},
            {"resource":{"resourceType":"Organization","id":"o"},"search":{"mode":"include"}},
            {"resource":{"resourceType":"Patient","id":"c"},"search":{"mode":"include"}},
            {"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}},
            {"resource":{"resourceType":"Patient","id":"../x"}},
            {"resource":{"resourceType":"Patient"}},
            {"resource":"junk"}, 7, null]}"#;
        let resp = HttpResponse {
            status: 200,
            content_type: Some("application/fhir+json".into()),
            body: body.to_vec(),
        };
        let ids: Vec<_> = parse_patient_bundle(&resp)
            .unwrap()
            .into_iter()
            .map(|p| p.id.unwrap())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let empty = HttpResponse {
            body: br#"{"resourceType":"Bundle","type":"searchset","total":0}"#.to_vec(),
            ..resp.clone()
        };
        assert_eq!(parse_patient_bundle(&empty).unwrap(), vec![]);
        let not_bundle = HttpResponse {
            body: br#"{"resourceType":"Patient","id":"a"}"#.to_vec(),
            ..resp.clone()
        };
        assert_eq!(parse_patient_bundle(&not_bundle), Err(FhirError::Malformed));
        let forbidden = HttpResponse {
            status: 403,
            ..resp
        };
        assert_eq!(parse_patient_bundle(&forbidden), Err(FhirError::Forbidden));
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = crate::testing::SplitMix(11);
        let seed = br#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"a","name":[{"given":["A"]}]}}]}"#;
        for _ in 0..5000 {
            let resp = HttpResponse {
                status: 200,
                content_type: None,
                body: rng.mutate(seed),
            };
            let _ = parse_patient_bundle(&resp);
            let _ = read_patient_search(&resp, &PatientQuery::Mrn("1".into()));
        }
        let seed = epic_outcome("error", "4127", "Too many");
        for _ in 0..5000 {
            let resp = HttpResponse {
                status: 400,
                content_type: None,
                body: rng.mutate(seed.as_bytes()),
            };
            let _ = read_patient_search(&resp, &person("A", "B", "2000-01-01", None));
        }
    }
}
