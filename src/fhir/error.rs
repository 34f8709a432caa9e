//! Failures of a FHIR read, and what the user is told.

use serde_json::Value;

use crate::domain::problem::{NextStep, Problem, sentence, truncate_for_display};
use crate::http::HttpResponse;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    #[error("the resource id {0:?} is not a valid FHIR id")]
    InvalidId(String),
    #[error("the EHR no longer accepts Cairn's sign-in")]
    Unauthorized,
    #[error("Cairn does not have permission to read this")]
    Forbidden,
    /// A Patient read answered 403 (Epic: no body, `WWW-Authenticate: Bearer
    /// error="insufficient_scope"`): the app's access does not cover this patient.
    #[error("Cairn lacks permission to read this patient")]
    PatientForbidden,
    #[error("the EHR has no such record")]
    NotFound,
    #[error("the EHR answered HTTP {status}")]
    Http {
        status: u16,
        diagnostics: Option<String>,
    },
    #[error("the EHR's answer is not a readable FHIR resource")]
    Malformed,
    #[error("the EHR returned a different patient than the one in context")]
    WrongPatient,
    #[error("enter between 1 and 100 characters to search")]
    BadQuery,
    /// Epic's break-the-glass (OperationOutcome 4130 or 4131): the record is restricted.
    #[error("this record is restricted and needs break-the-glass in the EHR")]
    BreakTheGlass,
    /// Epic's 4113: the `sessionID` a `next` link names has expired.
    #[error("the EHR's search session has expired")]
    SessionExpired,
}

impl From<FhirError> for Problem {
    fn from(err: FhirError) -> Problem {
        err.problem()
    }
}

impl FhirError {
    pub fn problem(&self) -> Problem {
        match self {
            FhirError::PatientForbidden => {
                return Problem::new(
                    "Missing permission",
                    "Cairn lacks permission to read this patient (the EHR answered HTTP 403). \
                     Cairn's access in the EHR must include reading patients; ask your EHR's \
                     administrator to check the app's permissions.",
                    NextStep::ContactSupport,
                );
            }
            FhirError::BreakTheGlass => {
                return Problem::new(
                    "This record is restricted",
                    "This patient's record needs break-the-glass. Open the patient in the EHR, \
                     give your reason for access there, then open Cairn again.",
                    NextStep::Relaunch,
                );
            }
            _ => {}
        }
        let (title, next) = match self {
            FhirError::Unauthorized => ("Your session has ended", NextStep::Relaunch),
            FhirError::Forbidden => ("Missing permission", NextStep::ContactSupport),
            FhirError::NotFound => ("Record not found", NextStep::Relaunch),
            FhirError::Http { status, .. } if *status >= 500 || *status == 429 => {
                ("Your EHR is having trouble", NextStep::TryAgain)
            }
            FhirError::WrongPatient => {
                ("Cairn stopped to keep the record safe", NextStep::Relaunch)
            }
            FhirError::SessionExpired => ("Your EHR is having trouble", NextStep::TryAgain),
            _ => ("Cairn could not read the record", NextStep::ContactSupport),
        };
        let mut detail = sentence(&format!("{self}."));
        if let FhirError::Http {
            diagnostics: Some(d),
            ..
        } = self
        {
            detail.push_str(&format!(" The EHR said: “{d}”"));
        }
        Problem::new(title, detail, next)
    }

    /// The error for a non-2xx response, with OperationOutcome diagnostics as plain text.
    /// Epic's codes are read first: break-the-glass (4130, 4131) and an expired search session
    /// (4113), whatever the status.
    pub fn from_status(resp: &HttpResponse) -> FhirError {
        let codes = operation_outcome_codes(&resp.body);
        if codes.iter().any(|c| c == "4130" || c == "4131") {
            return FhirError::BreakTheGlass;
        }
        if codes.iter().any(|c| c == "4113") {
            return FhirError::SessionExpired;
        }
        match resp.status {
            401 => FhirError::Unauthorized,
            403 => FhirError::Forbidden,
            404 | 410 => FhirError::NotFound,
            status => FhirError::Http {
                status,
                diagnostics: operation_outcome_text(&resp.body),
            },
        }
    }
}

/// The human-readable text of an OperationOutcome body, if it is one.
pub fn operation_outcome_text(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    outcome_issues_text(&v)
}

/// The codes of an OperationOutcome body's issues (`issue.details.coding.code`, Epic's numeric
/// codes among them); empty when the body is not an OperationOutcome.
pub fn operation_outcome_codes(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    if v.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
        return Vec::new();
    }
    v.get("issue")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("details")?.get("coding")?.as_array())
        .flatten()
        .filter_map(|c| c.get("code")?.as_str())
        .map(|c| c.trim().to_owned())
        .take(32)
        .collect()
}

/// Longest OperationOutcome text shown.
pub const MAX_OUTCOME_CHARS: usize = 300;

/// The diagnostics (or `details.text`) of an OperationOutcome's issues, as plain text.
pub fn outcome_issues_text(outcome: &Value) -> Option<String> {
    let texts: Vec<&str> = outcome
        .get("issue")?
        .as_array()?
        .iter()
        .filter_map(|i| {
            i.get("diagnostics")
                .and_then(Value::as_str)
                .or_else(|| i.get("details")?.get("text")?.as_str())
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    (!texts.is_empty()).then(|| truncate_for_display(&texts.join("; "), MAX_OUTCOME_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_outcome_diagnostics_are_extracted() {
        let body = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","diagnostics":"<b>db down</b>"},{"details":{"text":"retry later"}}]}"#;
        let resp = HttpResponse {
            status: 500,
            content_type: None,
            body: body.to_vec(),
        };
        assert_eq!(
            FhirError::from_status(&resp),
            FhirError::Http {
                status: 500,
                diagnostics: Some("<b>db down</b>; retry later".into())
            }
        );
        assert_eq!(operation_outcome_text(b"<html>"), None);
        assert!(operation_outcome_codes(b"<html>").is_empty());
        assert_eq!(
            operation_outcome_text(br#"{"resourceType":"Patient"}"#),
            None
        );
    }

    fn epic(status: u16, code: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/fhir+json".into()),
            body: format!(
                r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"fatal","code":"suppressed","details":{{"coding":[{{"system":"urn:oid:1.2.840.114350.1.13.0.1.7.2.657369","code":"{code}"}}],"text":"t"}}}}]}}"#
            )
            .into_bytes(),
        }
    }

    #[test]
    fn epic_codes_are_read_before_the_status() {
        assert_eq!(
            FhirError::from_status(&epic(403, "4130")),
            FhirError::BreakTheGlass
        );
        assert_eq!(
            FhirError::from_status(&epic(403, "4131")),
            FhirError::BreakTheGlass
        );
        assert_eq!(
            FhirError::from_status(&epic(400, "4113")),
            FhirError::SessionExpired
        );
        assert_eq!(
            FhirError::from_status(&epic(404, "4113")),
            FhirError::SessionExpired
        );
        assert_eq!(
            FhirError::from_status(&epic(403, "4118")),
            FhirError::Forbidden
        );
        assert_eq!(operation_outcome_codes(&epic(403, "4130").body), ["4130"]);
    }

    #[test]
    fn a_refused_patient_read_says_what_it_means() {
        // Epic: 403, no body, `WWW-Authenticate: Bearer error="insufficient_scope"`.
        let bare = HttpResponse {
            status: 403,
            content_type: None,
            body: Vec::new(),
        };
        assert_eq!(FhirError::from_status(&bare), FhirError::Forbidden);
        let problem = FhirError::PatientForbidden.problem();
        assert_eq!(problem.title, "Missing permission");
        assert!(
            problem
                .detail
                .starts_with("Cairn lacks permission to read this patient"),
            "{}",
            problem.detail
        );
        assert_eq!(problem.next_step, NextStep::ContactSupport);
        let glass = FhirError::from_status(&epic(403, "4130")).problem();
        assert_eq!(glass.title, "This record is restricted");
        assert!(glass.detail.contains("break-the-glass"), "{}", glass.detail);
        assert_eq!(glass.next_step, NextStep::Relaunch);
    }

    #[test]
    fn every_problem_starts_with_a_capital() {
        for err in [
            FhirError::InvalidId("x".into()),
            FhirError::Unauthorized,
            FhirError::Forbidden,
            FhirError::PatientForbidden,
            FhirError::NotFound,
            FhirError::Http {
                status: 500,
                diagnostics: Some("d".into()),
            },
            FhirError::Malformed,
            FhirError::WrongPatient,
            FhirError::BadQuery,
            FhirError::BreakTheGlass,
            FhirError::SessionExpired,
        ] {
            crate::domain::problem::assert_capitalised(&err.problem());
        }
    }
}
