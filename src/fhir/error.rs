//! Failures of a FHIR read, and what the user is told.

use serde_json::Value;

use crate::domain::problem::{NextStep, Problem, truncate_for_display};
use crate::http::HttpResponse;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    #[error("the resource id {0:?} is not a valid FHIR id")]
    InvalidId(String),
    #[error("the EHR no longer accepts Cairn's sign-in")]
    Unauthorized,
    #[error("Cairn does not have permission to read this")]
    Forbidden,
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
}

impl From<FhirError> for Problem {
    fn from(err: FhirError) -> Problem {
        err.problem()
    }
}

impl FhirError {
    pub fn problem(&self) -> Problem {
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
            _ => ("Cairn could not read the record", NextStep::ContactSupport),
        };
        let mut detail = format!("{self}.");
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
    pub fn from_status(resp: &HttpResponse) -> FhirError {
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
        assert_eq!(
            operation_outcome_text(br#"{"resourceType":"Patient"}"#),
            None
        );
    }
}
