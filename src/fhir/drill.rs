//! Observation searches split by category, and the encounter drill-down's own filter.
//!
//! Epic's Observation APIs are registered and granted per category, and Epic refuses a whole
//! search when one of its categories is unknown (59111) or outside the grant; so every category
//! is its own search, failing alone. Epic also ignores a parameter it does not support (warning
//! 4122) and then answers as if it had not been sent: an `encounter=` search may come back with
//! every encounter's observations, so the drill-down keeps only those that name its encounter.

use serde_json::Value;

use crate::fhir::error::FhirError;
use crate::fhir::observation::Observation;

/// A category in words a clinician reads (the notice of a category that failed names it so).
pub fn category_label(category: &str) -> &'static str {
    match category {
        "vital-signs" => "Vital signs",
        "laboratory" => "Laboratory results",
        "social-history" => "Social history",
        "survey" => "Surveys and questionnaires",
        "exam" => "Exam findings",
        "imaging" => "Imaging results",
        "procedure" => "Procedure results",
        "therapy" => "Therapy results",
        "activity" => "Activity",
        _ => "Other results",
    }
}

/// True when an Observation's `encounter.reference` names encounter `encounter_id`: relative
/// (`Encounter/<id>`) or absolute under the FHIR base (`<base>/Encounter/<id>`), optionally with
/// a version (`/_history/<n>`). No reference, or another encounter's, is false.
pub fn names_encounter(reference: &str, encounter_id: &str, fhir_base: &str) -> bool {
    names("Encounter", reference, encounter_id, fhir_base)
}

/// True when `reference` names the `resource_type` resource `id` on this server: relative or
/// absolute under the FHIR base, optionally with a version.
fn names(resource_type: &str, reference: &str, id: &str, fhir_base: &str) -> bool {
    let reference = reference.trim();
    let base = fhir_base.trim_end_matches('/');
    let relative = match reference.strip_prefix(base) {
        Some(rest) if !base.is_empty() => match rest.strip_prefix('/') {
            Some(rest) => rest,
            None => return false,
        },
        _ => reference,
    };
    let Some(rest) = relative
        .strip_prefix(resource_type)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let named = match rest.split_once("/_history/") {
        Some((named, version)) if !version.is_empty() && !version.contains('/') => named,
        Some(_) => return false,
        None => rest,
    };
    !id.is_empty() && named == id
}

/// True when a search result (Observation, Encounter) belongs to patient `patient_id`: its
/// `subject.reference` (or, without a subject, `patient.reference`) is `Patient/<id>`,
/// relative or absolute under the FHIR base. No subject, or another patient's, is false.
pub fn belongs_to_patient(resource: &Value, patient_id: &str, fhir_base: &str) -> bool {
    let subject = resource
        .get("subject")
        .or_else(|| resource.get("patient"))
        .and_then(|s| s.get("reference"))
        .and_then(Value::as_str);
    subject.is_some_and(|r| names("Patient", r, patient_id, fhir_base))
}

/// The resources of a search page that belong to patient `patient_id`, in their order, and
/// how many were dropped because they name another patient or none.
pub fn of_patient<'a>(
    resources: &'a [Value],
    patient_id: &str,
    fhir_base: &str,
) -> (Vec<&'a Value>, usize) {
    let kept: Vec<&Value> = resources
        .iter()
        .filter(|r| belongs_to_patient(r, patient_id, fhir_base))
        .collect();
    let dropped = resources.len() - kept.len();
    (kept, dropped)
}

/// The notice for results left out of a search because they named another patient.
pub fn other_patient_notice(dropped: usize) -> String {
    let (count, verb) = if dropped == 1 {
        ("1 result".to_owned(), "was")
    } else {
        (format!("{dropped} results"), "were")
    };
    format!(
        "{count} from your EHR {verb} left out: {} not for this patient. Tell your EHR's \
         support team.",
        if dropped == 1 { "it was" } else { "they were" }
    )
}

/// The observations that belong to encounter `encounter_id`, in their order.
pub fn of_encounter(
    observations: impl IntoIterator<Item = Observation>,
    encounter_id: &str,
    fhir_base: &str,
) -> Vec<Observation> {
    observations
        .into_iter()
        .filter(|o| {
            o.encounter
                .as_deref()
                .is_some_and(|r| names_encounter(r, encounter_id, fhir_base))
        })
        .collect()
}

/// The notice of one search that failed: `label` names the category (or is `None` for a
/// search of its own section), `first_page` says nothing at all could be read.
pub fn failed_notice(label: Option<&str>, first_page: bool, reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    // A reason that ends in the EHR's quoted words ends the sentence there.
    let end = if reason.ends_with('”') { "" } else { "." };
    match (label, first_page) {
        (Some(label), true) => format!("{label} could not be read: {reason}{end}"),
        (Some(label), false) => {
            format!(
                "Some {} may be missing: a page could not be read ({reason}).",
                lower(label)
            )
        }
        (None, true) => format!("These results could not be read: {reason}{end}"),
        (None, false) => {
            format!("Some results may be missing: a page could not be read ({reason}).")
        }
    }
}

/// Why a page failed, for [`failed_notice`]: the error, and what the EHR said when it said
/// something (Epic's refusal of a category reads "Required search parameter has an invalid
/// value.").
pub fn failure_reason(error: &FhirError) -> String {
    match error {
        FhirError::Http {
            diagnostics: Some(said),
            ..
        } => format!("{error}, saying “{said}”"),
        other => other.to_string(),
    }
}

/// A search that stopped early ([`crate::fhir::pager::Stop::message`]), named by its category.
pub fn labelled(label: Option<&str>, message: &str) -> String {
    match label {
        Some(label) => format!("{label}: {message}"),
        None => message.to_owned(),
    }
}

/// The total of a feed made of several searches: known only when every search's is.
pub fn combined_total(totals: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    totals
        .into_iter()
        .try_fold(0u64, |sum, total| Some(sum.saturating_add(total?)))
}

/// The progress line while pages arrive: "Loading… 200 of 450 so far", without a total that
/// is not above what is shown (never "400 of 200").
pub fn loading_text(shown: usize, total: Option<u64>) -> String {
    let shown_u64 = u64::try_from(shown).unwrap_or(u64::MAX);
    match total.filter(|&t| t > shown_u64) {
        Some(total) => format!("Loading… {shown} of {total} so far"),
        None => format!("Loading… {shown} so far"),
    }
}

/// A label of Cairn's own (ASCII) with its first letter in lower case, to go mid-sentence.
fn lower(label: &str) -> String {
    let mut out = label.to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::observation::decode_observation;
    use crate::fhir::search::all_categories;

    const BASE: &str = "https://ehr.example/api/FHIR/R4";

    #[test]
    fn only_the_patients_own_results_are_kept() {
        use serde_json::json;
        // (resource, belongs to Patient/p1)
        let table = [
            (json!({"subject": {"reference": "Patient/p1"}}), true),
            (json!({"subject": {"reference": " Patient/p1 "}}), true),
            (
                json!({"subject": {"reference": format!("{BASE}/Patient/p1")}}),
                true,
            ),
            (
                json!({"subject": {"reference": format!("{BASE}/Patient/p1/_history/3")}}),
                true,
            ),
            (json!({"patient": {"reference": "Patient/p1"}}), true),
            (json!({"subject": {"reference": "Patient/p2"}}), false),
            (json!({"subject": {"reference": "Patient/p12"}}), false),
            (json!({"subject": {"reference": "Patient/p"}}), false),
            (json!({"subject": {"reference": "Group/p1"}}), false),
            (json!({"subject": {"reference": "Patientp1"}}), false),
            (
                json!({"subject": {"reference": "https://other.example/fhir/Patient/p1"}}),
                false,
            ),
            (
                json!({"subject": {"reference": format!("{BASE}x/Patient/p1")}}),
                false,
            ),
            (
                json!({"subject": {"reference": "Patient/p1/_history/"}}),
                false,
            ),
            (json!({"subject": {"display": "Jane"}}), false),
            (json!({"subject": {"reference": 7}}), false),
            (
                json!({"subject": {"reference": "Patient/p2"}, "patient": {"reference": "Patient/p1"}}),
                false,
            ),
            (json!({}), false),
        ];
        for (resource, expected) in &table {
            assert_eq!(
                belongs_to_patient(resource, "p1", BASE),
                *expected,
                "{resource}"
            );
        }
        assert!(!belongs_to_patient(&table[0].0, "", BASE));
        let page: Vec<Value> = table.iter().map(|(r, _)| r.clone()).collect();
        let (kept, dropped) = of_patient(&page, "p1", BASE);
        assert_eq!(kept.len(), 5);
        assert_eq!(dropped, table.len() - 5);
        assert!(std::ptr::eq(kept[0], &page[0]) && std::ptr::eq(kept[4], &page[4]));
        assert_eq!(
            other_patient_notice(1),
            "1 result from your EHR was left out: it was not for this patient. Tell your EHR's \
             support team."
        );
        assert!(other_patient_notice(3).starts_with("3 results from your EHR were left out: they"));
    }

    #[test]
    fn references_to_the_chosen_encounter() {
        for (reference, expected) in [
            ("Encounter/e1", true),
            (" Encounter/e1 ", true),
            ("https://ehr.example/api/FHIR/R4/Encounter/e1", true),
            ("Encounter/e1/_history/3", true),
            (
                "https://ehr.example/api/FHIR/R4/Encounter/e1/_history/2",
                true,
            ),
            ("Encounter/e10", false),
            ("Encounter/e", false),
            ("Encounter/", false),
            ("Encounter/e1/_history/", false),
            ("Encounter/e1/extra", false),
            ("encounter/e1", false),
            ("Patient/e1", false),
            ("e1", false),
            ("", false),
            ("https://other.example/api/FHIR/R4/Encounter/e1", false),
            ("https://ehr.example/api/FHIR/R4x/Encounter/e1", false),
            ("https://ehr.example/api/FHIR/R4Encounter/e1", false),
            ("https://ehr.example/Encounter/e1", false),
            ("#e1", false),
        ] {
            assert_eq!(
                names_encounter(reference, "e1", BASE),
                expected,
                "{reference}"
            );
        }
        assert!(names_encounter(
            "https://ehr.example/api/FHIR/R4/Encounter/e1",
            "e1",
            "https://ehr.example/api/FHIR/R4/"
        ));
        assert!(!names_encounter("Encounter/", "", BASE));
    }

    #[test]
    fn only_the_chosen_encounters_observations_are_kept() {
        let obs = |id: &str, encounter: Option<&str>| {
            let mut v = serde_json::json!({"resourceType": "Observation", "id": id});
            if let Some(e) = encounter {
                v["encounter"] = serde_json::json!({"reference": e});
            }
            decode_observation(&v).unwrap()
        };
        // What Epic answers when it ignores `encounter=` (4122): every encounter's results.
        let all = vec![
            obs("a", Some("Encounter/e1")),
            obs("b", Some("Encounter/e2")),
            obs("c", None),
            obs("d", Some("https://ehr.example/api/FHIR/R4/Encounter/e1")),
            obs("e", Some("https://elsewhere.example/fhir/Encounter/e1")),
        ];
        let kept: Vec<_> = of_encounter(all, "e1", BASE)
            .into_iter()
            .filter_map(|o| o.id)
            .collect();
        assert_eq!(kept, ["a", "d"]);
    }

    #[test]
    fn every_category_has_plain_words() {
        for category in all_categories() {
            let label = category_label(category);
            assert_ne!(label, "Other results", "{category}");
            assert!(label.starts_with(char::is_uppercase), "{label}");
            assert!(!label.contains('-'), "{label}");
        }
    }

    #[test]
    fn totals_and_progress() {
        assert_eq!(combined_total([Some(2), Some(3)]), Some(5));
        assert_eq!(combined_total([Some(2), None]), None);
        assert_eq!(combined_total([]), Some(0));
        assert_eq!(combined_total([Some(u64::MAX), Some(1)]), Some(u64::MAX));
        assert_eq!(loading_text(200, Some(450)), "Loading… 200 of 450 so far");
        assert_eq!(loading_text(400, Some(200)), "Loading… 400 so far");
        assert_eq!(loading_text(200, Some(200)), "Loading… 200 so far");
        assert_eq!(loading_text(0, None), "Loading… 0 so far");
    }

    #[test]
    fn the_ehrs_reason_is_quoted() {
        let refused = FhirError::Http {
            status: 400,
            diagnostics: Some("Required search parameter has an invalid value.".into()),
        };
        assert_eq!(
            failed_notice(Some("Social history"), true, &failure_reason(&refused)),
            "Social history could not be read: the EHR answered HTTP 400, saying “Required \
             search parameter has an invalid value.”"
        );
        assert_eq!(
            failure_reason(&FhirError::Forbidden),
            "Cairn does not have permission to read this"
        );
    }

    #[test]
    fn notices_name_the_category() {
        assert_eq!(
            failed_notice(Some("Imaging results"), true, "the EHR answered HTTP 400"),
            "Imaging results could not be read: the EHR answered HTTP 400."
        );
        assert_eq!(
            failed_notice(Some("Social history"), false, "no answer."),
            "Some social history may be missing: a page could not be read (no answer)."
        );
        assert_eq!(
            failed_notice(None, false, "the EHR answered HTTP 500"),
            "Some results may be missing: a page could not be read (the EHR answered HTTP 500)."
        );
        assert_eq!(
            labelled(Some("Exam findings"), "Some results may be missing: x."),
            "Exam findings: Some results may be missing: x."
        );
    }
}
