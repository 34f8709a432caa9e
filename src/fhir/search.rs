//! Patient search, for a clinician who opened Cairn without a patient in context: by name, or
//! by medical record number the way Epic takes it (`identifier=MRN|…`).

use serde_json::Value;

use crate::fhir::error::FhirError;
use crate::fhir::patient::{MAX_RESOURCE_BYTES, Patient, decode_patient};
use crate::fhir::request::is_valid_id;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::secret::AccessToken;

/// Results asked for in one search; a clinician refines the query rather than pages.
pub const SEARCH_COUNT: u32 = 20;
/// Longest query accepted.
pub const MAX_QUERY_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientQuery {
    /// Part of a name (given or family).
    Name(String),
    /// A medical record number, exact.
    Mrn(String),
}

/// The search request. An empty or overlong query is refused before any request.
pub fn patient_search_request(
    fhir_base: &str,
    query: &PatientQuery,
    token: &AccessToken,
) -> Result<HttpRequest, FhirError> {
    let (param, value) = match query {
        PatientQuery::Name(name) => ("name", name.trim().to_owned()),
        PatientQuery::Mrn(mrn) => ("identifier", format!("MRN|{}", mrn.trim())),
    };
    let raw = match query {
        PatientQuery::Name(v) | PatientQuery::Mrn(v) => v.trim(),
    };
    if raw.is_empty() || raw.chars().count() > MAX_QUERY_CHARS {
        return Err(FhirError::BadQuery);
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(param, &value)
        .append_pair("_count", &SEARCH_COUNT.to_string())
        .finish();
    Ok(HttpRequest {
        method: Method::Get,
        url: format!("{}/Patient?{query}", fhir_base.trim_end_matches('/')),
        headers: vec![
            ("Accept".into(), "application/fhir+json".into()),
            ("Authorization".into(), format!("Bearer {}", token.secret())),
        ],
        body: None,
    })
}

/// Results asked for per page of the chart's searches (servers may send fewer).
pub const PAGE_COUNT: u32 = 200;

/// The patient's encounters, newest first. `None` for an invalid patient id.
pub fn encounter_search_url(fhir_base: &str, patient: &str) -> Option<String> {
    is_valid_id(patient).then(|| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("patient", patient)
            .append_pair("_sort", "-date")
            .append_pair("_count", &PAGE_COUNT.to_string())
            .finish();
        format!("{}/Encounter?{query}", fhir_base.trim_end_matches('/'))
    })
}

/// Vital signs: the chart's cards and trends.
pub const VITAL_SIGNS: &str = "vital-signs";
/// Laboratory results: the chart's grouped table.
pub const LABORATORY: &str = "laboratory";
/// The rest of FHIR's observation-category code system, asked for in one search. Epic refuses
/// an Observation search without a category, so "everything else" has to be named.
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
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("patient", patient)
        .append_pair("category", &categories.join(","));
    if let Some(encounter) = encounter {
        query.append_pair("encounter", &format!("Encounter/{encounter}"));
    }
    let query = query
        .append_pair("_sort", "-date")
        .append_pair("_count", &PAGE_COUNT.to_string())
        .finish();
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

    #[test]
    fn requests_by_name_and_by_mrn() {
        let by_name = patient_search_request(
            "https://ehr.example/fhir/",
            &PatientQuery::Name("  O'Brien & Søn ".into()),
            &token(),
        )
        .unwrap();
        assert_eq!(
            by_name.url,
            "https://ehr.example/fhir/Patient?name=O%27Brien+%26+S%C3%B8n&_count=20"
        );
        assert_eq!(by_name.header("authorization"), Some("Bearer AT-CANARY-1"));
        let by_mrn = patient_search_request(
            "https://ehr.example/fhir",
            &PatientQuery::Mrn("E1234".into()),
            &token(),
        )
        .unwrap();
        assert_eq!(
            by_mrn.url,
            "https://ehr.example/fhir/Patient?identifier=MRN%7CE1234&_count=20"
        );
        assert!(!by_mrn.url.contains("AT-CANARY"));
        for bad in ["", "   ", &"x".repeat(101)] {
            assert_eq!(
                patient_search_request("https://e/fhir", &PatientQuery::Name(bad.into()), &token()),
                Err(FhirError::BadQuery)
            );
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
        }
    }
}
