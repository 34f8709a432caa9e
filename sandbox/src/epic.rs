//! Epic mode: what makes the development EHR answer as Epic does, from Epic's published
//! documentation (fhir.epic.com: the OAuth 2.0 specification, the R4 Patient.Search,
//! Observation.Search and Encounter.Search pages and their error tables) and customers'
//! discovery documents.
//!
//! Here: the resources' Epic shapes (identifiers with `type.text` and OID systems, encounter
//! class and flowsheet codings, ids longer than 64 characters), Epic's OperationOutcomes (with
//! its error codes under its OID), the granted scope (v1 only, bounded by the registered APIs),
//! and the `sessionID` paging sessions.
//!
//! The error codes and texts follow Epic's error tables and captured Epic responses where
//! those were available (4101, 4111, 4113, 4118, 4122, 4130, the code system OID); the texts
//! of 4127, 59111 and 59133 are paraphrases, not Epic's exact wording.

use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The APIs registered on the app unless a test says otherwise.
pub const DEFAULT_REGISTERED_APIS: [&str; 4] =
    ["Patient", "Encounter", "Observation", "Practitioner"];

/// The code system of Epic's OperationOutcome error codes.
pub const OUTCOME_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369";
/// Epic's patient identifier systems: `…737384.<n>`.
const ID_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384";
/// Epic's encounter class (ADT patient class) code system.
pub const ENCOUNTER_CLASS_SYSTEM: &str = "urn:oid:1.2.840.114350.1.72.1.7.7.10.696784.13260";
/// Epic's flowsheet row code system (vital signs).
pub const FLOWSHEET_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679";
/// How long the ids of long-id resources (Observations) are.
pub const LONG_ID_LEN: usize = 90;

/// The Observation categories Epic's Observation.Search knows; any other is refused (59111).
pub const KNOWN_CATEGORIES: [&str; 18] = [
    "vital-signs",
    "laboratory",
    "social-history",
    "survey",
    "exam",
    "imaging",
    "procedure",
    "therapy",
    "activity",
    "core-characteristics",
    "functional-mental-status",
    "genomics",
    "lda",
    "labor-delivery",
    "newborn-delivery",
    "obstetrics-gynecology",
    "periodontal",
    "smartdata",
];

/// One of Epic's error codes with the text Epic's documentation gives for it.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: &'static str,
    pub display: &'static str,
    /// The OperationOutcome `issue.code`.
    pub issue: &'static str,
}

pub const NO_RESULTS: Code = Code {
    code: "4101",
    display: "Resource request returns no results.",
    issue: "processing",
};
pub const REQUIRED_PARAMETER_MISSING: Code = Code {
    code: "4111",
    display: "Required search parameter missing from request.",
    issue: "required",
};
pub const SESSION_EXPIRED: Code = Code {
    code: "4113",
    display: "Session ID for cached search results has expired.",
    issue: "processing",
};
pub const NOT_AUTHORIZED: Code = Code {
    code: "4118",
    display: "User not authorized for request.",
    issue: "forbidden",
};
pub const PARAMETER_IGNORED: Code = Code {
    code: "4122",
    display: "An unknown query parameter was supplied by the client.",
    issue: "informational",
};
pub const TOO_MANY_MATCHES: Code = Code {
    code: "4127",
    display: "The search returned too many results. Refine the search criteria.",
    issue: "too-costly",
};
pub const BREAK_THE_GLASS: Code = Code {
    code: "4130",
    display: "Break-the-Glass security does not authorize you to access the selected patient.",
    issue: "suppressed",
};
pub const INVALID_CATEGORY: Code = Code {
    code: "59111",
    display: "Required search parameter has an invalid value.",
    issue: "value",
};
pub const TOO_FEW_ELEMENTS: Code = Code {
    code: "59133",
    display: "Not enough search criteria: the minimum data set for a patient search was not \
              provided.",
    issue: "required",
};

/// One issue as Epic writes it: `details.coding` with the Epic code, `details.text`, and
/// `diagnostics` saying what in this request caused it.
pub fn issue(severity: &str, code: Code, diagnostics: &str) -> Value {
    json!({
        "severity": severity,
        "code": code.issue,
        "details": {
            "coding": [{"system": OUTCOME_SYSTEM, "code": code.code, "display": code.display}],
            "text": code.display,
        },
        "diagnostics": diagnostics,
    })
}

/// An OperationOutcome response with one fatal issue.
pub fn outcome(status: StatusCode, code: Code, diagnostics: &str) -> Response {
    crate::fhir::fhir_json(
        status,
        &json!({"resourceType": "OperationOutcome", "issue": [issue("fatal", code, diagnostics)]}),
    )
}

/// A searchset entry carrying an OperationOutcome (`search.mode: outcome`), as Epic adds for
/// warnings and empty results.
pub fn outcome_entry(severity: &str, code: Code, diagnostics: &str) -> Value {
    json!({
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [issue(severity, code, diagnostics)],
        },
        "search": {"mode": "outcome"},
    })
}

/// The 4122 warning entry for a search parameter Epic ignores, located at `http.<name>` as
/// Epic does.
pub fn ignored_parameter(name: &str) -> Value {
    let mut entry = outcome_entry(
        "warning",
        PARAMETER_IGNORED,
        &format!("The search parameter {name} is not supported and was ignored."),
    );
    entry["resource"]["issue"][0]["location"] = json!([format!("http.{name}")]);
    entry
}

/// A stored resource in Epic's shape.
pub fn reshape(resource: &Value) -> Value {
    let mut r = resource.clone();
    match resource["resourceType"].as_str() {
        Some("Patient") => r["identifier"] = patient_identifiers(resource),
        Some("Encounter") => {
            let (code, display) = match resource["class"]["code"].as_str() {
                Some("IMP" | "ACUTE" | "NONAC") => ("1", "Inpatient"),
                Some("EMER") => ("3", "Emergency"),
                _ => ("2", "Outpatient"),
            };
            r["class"] =
                json!({"system": ENCOUNTER_CLASS_SYSTEM, "code": code, "display": display});
        }
        Some("Observation") => {
            if let Some(id) = resource["id"].as_str() {
                r["id"] = long_id(id).into();
            }
            let vital = resource["category"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["coding"].as_array().into_iter().flatten())
                .any(|c| c["code"] == "vital-signs");
            if vital && let Some(codings) = r["code"]["coding"].as_array_mut() {
                let loinc = codings
                    .iter()
                    .find(|c| c["system"] == "http://loinc.org")
                    .cloned()
                    .unwrap_or(Value::Null);
                let loinc_code = loinc["code"].as_str().unwrap_or_default();
                let fallback = loinc["display"]
                    .as_str()
                    .or(resource["code"]["text"].as_str())
                    .unwrap_or("Vital sign")
                    .to_owned();
                let (row, display) = match flowsheet_row(loinc_code) {
                    Some((row, display)) => (row.to_owned(), display.to_owned()),
                    None => (format!("3040{}", digits(loinc_code, 5)), fallback),
                };
                codings.insert(
                    0,
                    json!({"system": FLOWSHEET_SYSTEM, "code": row, "display": display}),
                );
            }
        }
        _ => {}
    }
    r
}

/// The Epic flowsheet row of a vital sign (by its LOINC code): its id and Epic's display (rows
/// 5, 8, 9 and 14 as captured Epic responses show them).
fn flowsheet_row(loinc: &str) -> Option<(&'static str, &'static str)> {
    Some(match loinc {
        "85354-9" | "55284-4" => ("5", "BP"),
        "8310-5" => ("6", "Temp"),
        "8867-4" => ("8", "Pulse"),
        "9279-1" => ("9", "Resp"),
        "2708-6" | "59408-5" => ("10", "SpO2"),
        "8302-2" => ("11", "Height"),
        "29463-7" => ("14", "Weight"),
        "39156-5" => ("301070", "BMI (Calculated)"),
        _ => return None,
    })
}

/// `n` decimal digits derived from `seed` (deterministic).
fn digits(seed: &str, n: usize) -> String {
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(n)
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}

/// A patient's identifiers as Epic sends them: `type.text` and OID systems only, no v2-0203
/// codings. The MRN's value is the stored MR identifier's.
fn patient_identifiers(patient: &Value) -> Value {
    let id = patient["id"].as_str().unwrap_or_default();
    let mrn = crate::store::mrn_of(patient);
    let mut out = vec![json!({
        "use": "usual",
        "type": {"text": "EPI"},
        "system": format!("{ID_SYSTEM}.0"),
        "value": format!("E{}", digits(id, 7)),
    })];
    if let Some(mrn) = mrn {
        out.push(json!({
            "use": "usual",
            "type": {"text": "MRN"},
            "system": format!("{ID_SYSTEM}.14"),
            "value": mrn,
        }));
    }
    out.push(json!({
        "use": "usual",
        "type": {"text": "CEID"},
        "system": format!("{ID_SYSTEM}.13"),
        "value": format!("CAI{}", digits(&format!("ceid:{id}"), 12)),
    }));
    Value::Array(out)
}

/// The Epic-style id of a stored resource id: exactly [`LONG_ID_LEN`] characters of
/// `[A-Za-z0-9.-]`: `e`, the stored id's length (two digits), a deterministic filler, then the
/// stored id.
pub fn long_id(id: &str) -> String {
    if id.len() > LONG_ID_LEN - 3 || id.len() > 99 {
        return id.to_owned();
    }
    let want = LONG_ID_LEN - 3 - id.len();
    let mut filler = String::new();
    let mut round = 0u32;
    while filler.len() < want {
        let digest = Sha256::digest(format!("{round}:{id}").as_bytes());
        filler.push_str(&URL_SAFE_NO_PAD.encode(digest).replace('_', "."));
        round += 1;
    }
    filler.truncate(want);
    format!("e{:02}{filler}{id}", id.len())
}

/// The stored id behind a [`long_id`], if `long` is one.
pub fn stored_id(long: &str) -> Option<String> {
    let len: usize = long.get(1..3)?.parse().ok()?;
    let id = long.get(long.len().checked_sub(len)?..)?;
    (long_id(id) == long).then(|| id.to_owned())
}

/// The resource type of a scope's resource part (`Observation:laboratory` → `Observation`).
fn api_type(api: &str) -> &str {
    api.split(':').next().unwrap_or(api)
}

/// Whether the Observation APIs of `category` are registered.
pub fn category_registered(registered: &[String], category: &str) -> bool {
    registered
        .iter()
        .any(|api| api == "Observation" || *api == format!("Observation:{category}"))
}

/// Scopes that are not about resources, kept as requested.
const CONTEXT_SCOPES: [&str; 9] = [
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "online_access",
    "offline_access",
    "email",
];

/// What Epic grants for `requested`: the context scopes as asked, and each resource scope in
/// v1 form (`user/…read` for a clinician, `patient/…read` for a patient) when its API is
/// registered. A v2 scope, or one whose API is not registered, is refused (`invalid_scope`
/// with this description).
pub fn grant(requested: &str, patient_user: bool, registered: &[String]) -> Result<String, String> {
    let level = if patient_user { "patient" } else { "user" };
    let types: Vec<&str> = {
        let mut t: Vec<&str> = registered.iter().map(|a| api_type(a)).collect();
        t.dedup();
        t
    };
    let mut granted: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !granted.contains(&s) {
            granted.push(s);
        }
    };
    for scope in requested.split_whitespace() {
        if CONTEXT_SCOPES.contains(&scope) {
            push(scope.to_owned());
            continue;
        }
        let Some((_, rest)) = scope.split_once('/') else {
            continue;
        };
        let Some((ty, permissions)) = rest.split_once('.') else {
            continue;
        };
        match permissions {
            "read" | "*" => {}
            "write" => continue,
            p if p
                .split('?')
                .next()
                .is_some_and(|p| !p.is_empty() && p.chars().all(|c| "cruds".contains(c))) =>
            {
                return Err(format!(
                    "{scope} is a SMART v2 scope; this server grants SMART v1 scopes only \
                     (e.g. {level}/{ty}.read)"
                ));
            }
            _ => continue,
        }
        if ty == "*" {
            for t in &types {
                push(format!("{level}/{t}.read"));
            }
        } else if types.contains(&ty) {
            push(format!("{level}/{ty}.read"));
        } else {
            return Err(format!(
                "{scope}: the {ty} APIs are not registered for this app"
            ));
        }
    }
    Ok(granted.join(" "))
}

/// The granted scope as a fault spells it.
pub fn spell(scope: &str, mixed_case: bool, unprefixed: bool, v2_split: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        let parsed = s
            .split_once('/')
            .and_then(|(lvl, rest)| rest.split_once('.').map(|(ty, p)| (lvl, ty, p)));
        let Some((level, ty, permissions)) = parsed else {
            out.push(s.to_owned());
            continue;
        };
        if unprefixed && permissions == "read" {
            out.push(format!("{ty}.read"));
            out.push(format!("{ty}.search"));
        } else if mixed_case && permissions == "read" {
            out.push(format!("{level}/{ty}.Read"));
        } else if v2_split
            && permissions.len() > 1
            && permissions.chars().all(|c| "cruds".contains(c))
        {
            out.extend(permissions.chars().map(|c| format!("{level}/{ty}.{c}")));
        } else {
            out.push(s.to_owned());
        }
    }
    out.join(" ")
}

/// A search behind a `sessionID` next link.
pub struct PagingSession {
    pub resource_type: String,
    /// The search's parameters, `_offset` of the page the link leads to included.
    pub params: Vec<(String, String)>,
    pub created: Instant,
    /// Already expired when first used ([`crate::Fault::EpicPagingSessionExpired`]).
    pub born_expired: bool,
}

/// Epic's `kid`: the base64url SHA-256 of the key (its RFC 7638 thumbprint input).
pub fn kid(n: &str, e: &str) -> String {
    let canonical = format!("{{\"e\":\"{e}\",\"kty\":\"RSA\",\"n\":\"{n}\"}}");
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_are_long_reversible_and_plain() {
        for id in [
            "scale-obs-00001",
            "a9fcc685-c7a2-4474-bf25-26c8fe4b48f9",
            "x",
        ] {
            let long = long_id(id);
            assert_eq!(long.len(), LONG_ID_LEN, "{long}");
            assert!(
                long.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            );
            assert_eq!(stored_id(&long).as_deref(), Some(id));
            assert_eq!(long_id(id), long, "deterministic");
        }
        assert_eq!(stored_id("scale-obs-00001"), None);
        assert_eq!(stored_id("e15xx"), None);
    }

    #[test]
    fn grants_are_v1_and_bounded_by_the_registered_apis() {
        let all: Vec<String> = DEFAULT_REGISTERED_APIS
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            grant(
                "launch openid fhirUser patient/Patient.read patient/Observation.read",
                false,
                &all
            ),
            Ok("launch openid fhirUser user/Patient.read user/Observation.read".into())
        );
        assert_eq!(
            grant("launch/patient patient/*.read", true, &all),
            Ok(
                "launch/patient patient/Patient.read patient/Encounter.read \
                patient/Observation.read patient/Practitioner.read"
                    .into()
            )
        );
        assert!(grant("user/Patient.rs", false, &all).is_err());
        assert!(grant("user/Observation.r", false, &all).is_err());
        assert!(grant("user/Condition.read", false, &all).is_err());
        let labs = vec!["Patient".to_owned(), "Observation:laboratory".to_owned()];
        assert_eq!(
            grant("user/Observation.read", false, &labs),
            Ok("user/Observation.read".into())
        );
        assert!(category_registered(&labs, "laboratory"));
        assert!(!category_registered(&labs, "vital-signs"));
        assert!(category_registered(&all, "vital-signs"));
    }

    #[test]
    fn faults_spell_the_grant() {
        let g = "launch user/Patient.read user/Observation.read";
        assert_eq!(
            spell(g, true, false, false),
            "launch user/Patient.Read user/Observation.Read"
        );
        assert_eq!(
            spell(g, false, true, false),
            "launch Patient.read Patient.search Observation.read Observation.search"
        );
        assert_eq!(
            spell("patient/Observation.rs openid", false, false, true),
            "patient/Observation.r patient/Observation.s openid"
        );
    }
}
