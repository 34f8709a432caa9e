//! Generic searchset decoding: one page of a FHIR search, split by `Bundle.entry.search.mode`
//! (matrix #37). Lenient: an entry of the wrong shape is skipped, never fatal, and nothing here
//! panics on any input.

use serde_json::Value;

use crate::fhir::error::{FhirError, outcome_issues_text};
use crate::http::HttpResponse;

/// Largest page body read (20 MiB). A bigger answer is refused rather than parsed.
pub const MAX_PAGE_BYTES: usize = 20 * 1024 * 1024;

/// One decoded page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Resources whose `search.mode` is `match` or absent (OperationOutcomes excluded).
    pub matches: Vec<Value>,
    /// Resources with `search.mode` = `include`.
    pub includes: Vec<Value>,
    /// Text of OperationOutcome entries (`search.mode` = `outcome`, or any OperationOutcome).
    pub outcomes: Vec<String>,
    /// `Bundle.link[relation=next].url`, raw (the pager resolves and checks it).
    pub next: Option<String>,
    /// `Bundle.total`, when the server gave a non-negative integer.
    pub total: Option<u64>,
    /// Size of the response body, for byte caps.
    pub bytes: usize,
}

/// Decodes a searchset (or collection) Bundle. Non-2xx answers become the matching
/// [`FhirError`]; a body over [`MAX_PAGE_BYTES`], not JSON, not a Bundle, or a Bundle of another
/// `type` (transaction, history, document, …) is [`FhirError::Malformed`]. A Bundle without
/// `type` is accepted.
pub fn parse_searchset(resp: &HttpResponse) -> Result<Page, FhirError> {
    if !resp.is_success() {
        return Err(FhirError::from_status(resp));
    }
    if resp.body.len() > MAX_PAGE_BYTES {
        return Err(FhirError::Malformed);
    }
    let bundle: Value = serde_json::from_slice(&resp.body).map_err(|_| FhirError::Malformed)?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(FhirError::Malformed);
    }
    match bundle.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "searchset" || t == "collection" => {}
        Some(_) => return Err(FhirError::Malformed),
    }
    let mut page = Page {
        next: next_link(&bundle),
        total: bundle.get("total").and_then(Value::as_u64),
        bytes: resp.body.len(),
        ..Page::default()
    };
    let Value::Object(mut bundle) = bundle else {
        return Err(FhirError::Malformed);
    };
    let entries = match bundle.remove("entry") {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    for entry in entries {
        let Value::Object(mut entry) = entry else {
            continue;
        };
        let mode = match entry.get("search") {
            None | Some(Value::Null) => Some(Mode::Match),
            Some(Value::Object(search)) => match search.get("mode") {
                None | Some(Value::Null) => Some(Mode::Match),
                Some(Value::String(m)) => match m.as_str() {
                    "match" => Some(Mode::Match),
                    "include" => Some(Mode::Include),
                    "outcome" => Some(Mode::Outcome),
                    _ => None,
                },
                Some(_) => None,
            },
            Some(_) => None,
        };
        // An unknown or wrong-typed mode: not something Cairn can place, so skipped.
        let Some(mode) = mode else {
            continue;
        };
        let Some(resource) = entry.remove("resource") else {
            continue;
        };
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
            continue;
        };
        if resource_type == "OperationOutcome" {
            if let Some(text) = outcome_issues_text(&resource) {
                page.outcomes.push(text);
            }
            continue;
        }
        match mode {
            Mode::Match => page.matches.push(resource),
            Mode::Include => page.includes.push(resource),
            // An "outcome" entry that is not an OperationOutcome is not a result.
            Mode::Outcome => {}
        }
    }
    Ok(page)
}

enum Mode {
    Match,
    Include,
    Outcome,
}

/// The first `link` with `relation` = `next` and a non-empty string `url`.
fn next_link(bundle: &Value) -> Option<String> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .filter(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
        .filter_map(|l| l.get("url").and_then(Value::as_str))
        .map(str::trim)
        .find(|u| !u.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::error::MAX_OUTCOME_CHARS;

    fn ok(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: Some("application/fhir+json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    fn ids(values: &[Value]) -> Vec<String> {
        values
            .iter()
            .map(|v| {
                format!(
                    "{}/{}",
                    v["resourceType"].as_str().unwrap_or("?"),
                    v["id"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_split_by_search_mode() {
        let body = r#"{"resourceType":"Bundle","type":"searchset","total":42,
            "link":[{"relation":"self","url":"https://e/fhir/Observation?a=1"},
                    {"relation":"next","url":" https://e/fhir/Observation?page=2 "}],
            "entry":[
            {"resource":{"resourceType":"Observation","id":"o1"},"search":{"mode":"match"}},
            {"resource":{"resourceType":"Observation","id":"o2"}},
            {"resource":{"resourceType":"Observation","id":"o3"},"search":{}},
            {"resource":{"resourceType":"Observation","id":"o4"},"search":{"mode":null}},
            {"resource":{"resourceType":"Patient","id":"p"},"search":{"mode":"include"}},
            {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","diagnostics":"Too many <b>results</b>"},{"details":{"text":"truncated"}}]},"search":{"mode":"outcome"}},
            {"resource":{"resourceType":"OperationOutcome","issue":[{"diagnostics":"  "}]},"search":{"mode":"outcome"}},
            {"resource":{"resourceType":"OperationOutcome","issue":[{"diagnostics":"no mode"}]}},
            {"resource":{"resourceType":"Observation","id":"x1"},"search":{"mode":"outcome"}},
            {"resource":{"resourceType":"Observation","id":"x2"},"search":{"mode":"weird"}},
            {"resource":{"resourceType":"Observation","id":"x3"},"search":{"mode":7}},
            {"resource":{"resourceType":"Observation","id":"x4"},"search":"match"},
            {"resource":{"id":"x5"}},
            {"resource":{"resourceType":3,"id":"x6"}},
            {"resource":"junk"},
            {"fullUrl":"https://e/fhir/Observation/x7"},
            7, null, "entry", []]}"#;
        let page = parse_searchset(&ok(body)).unwrap();
        assert_eq!(
            ids(&page.matches),
            [
                "Observation/o1",
                "Observation/o2",
                "Observation/o3",
                "Observation/o4"
            ]
        );
        assert_eq!(ids(&page.includes), ["Patient/p"]);
        assert_eq!(
            page.outcomes,
            ["Too many <b>results</b>; truncated", "no mode"]
        );
        assert_eq!(
            page.next.as_deref(),
            Some("https://e/fhir/Observation?page=2")
        );
        assert_eq!(page.total, Some(42));
        assert_eq!(page.bytes, body.len());
    }

    #[test]
    fn table_of_bundles() {
        type Expect = Result<(usize, Option<&'static str>, Option<u64>), FhirError>;
        let cases: &[(&str, Expect)] = &[
            (
                r#"{"resourceType":"Bundle","type":"searchset","total":0}"#,
                Ok((0, None, Some(0))),
            ),
            (
                r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a"}}]}"#,
                Ok((1, None, None)),
            ),
            (
                r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"a"}}]}"#,
                Ok((1, None, None)),
            ),
            (
                r#"{"resourceType":"Bundle","type":"searchset","entry":{"resource":{}},"total":-1,"link":"next"}"#,
                Ok((0, None, None)),
            ),
            (
                r#"{"resourceType":"Bundle","type":"searchset","total":1.5,"link":[{"relation":"next"},{"relation":"next","url":7},{"relation":"next","url":""},{"relation":"next","url":"p2"}]}"#,
                Ok((0, Some("p2"), None)),
            ),
            (
                r#"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"previous","url":"p0"}]}"#,
                Ok((0, None, None)),
            ),
            (
                r#"{"resourceType":"Bundle","type":"transaction"}"#,
                Err(FhirError::Malformed),
            ),
            (
                r#"{"resourceType":"Bundle","type":"history"}"#,
                Err(FhirError::Malformed),
            ),
            (
                r#"{"resourceType":"Bundle","type":["searchset"]}"#,
                Err(FhirError::Malformed),
            ),
            (
                r#"{"resourceType":"Patient","id":"a"}"#,
                Err(FhirError::Malformed),
            ),
            (r#"{"resourceType":7}"#, Err(FhirError::Malformed)),
            (r#"[{"resourceType":"Bundle"}]"#, Err(FhirError::Malformed)),
            ("<html>oops</html>", Err(FhirError::Malformed)),
            ("", Err(FhirError::Malformed)),
        ];
        for (body, expect) in cases {
            let got = parse_searchset(&ok(body)).map(|p| (p.matches.len(), p.next, p.total));
            let expect = expect
                .clone()
                .map(|(n, next, total)| (n, next.map(str::to_owned), total));
            assert_eq!(got, expect, "{body}");
        }
    }

    #[test]
    fn errors_and_size_cap() {
        let forbidden = HttpResponse {
            status: 403,
            ..ok("{}")
        };
        assert_eq!(parse_searchset(&forbidden), Err(FhirError::Forbidden));
        let gone = HttpResponse {
            status: 410,
            ..ok("{}")
        };
        assert_eq!(parse_searchset(&gone), Err(FhirError::NotFound));
        let oo = HttpResponse {
            status: 500,
            ..ok(r#"{"resourceType":"OperationOutcome","issue":[{"diagnostics":"db down"}]}"#)
        };
        assert_eq!(
            parse_searchset(&oo),
            Err(FhirError::Http {
                status: 500,
                diagnostics: Some("db down".into())
            })
        );
        let mut huge = br#"{"resourceType":"Bundle","type":"searchset","x":""#.to_vec();
        huge.resize(MAX_PAGE_BYTES + 1, b'a');
        let huge = HttpResponse {
            body: huge,
            ..ok("")
        };
        assert_eq!(parse_searchset(&huge), Err(FhirError::Malformed));
    }

    #[test]
    fn epic_outcome_entries_are_not_results() {
        // Epic's empty result: 200, `total: 0`, and an OperationOutcome entry (4101); and a
        // page with a 4122 warning (a parameter ignored) beside its matches.
        let empty = r#"{"resourceType":"Bundle","type":"searchset","total":0,"entry":[
            {"fullUrl":"urn:uuid:1","resource":{"resourceType":"OperationOutcome","issue":[{
              "severity":"warning","code":"processing",
              "details":{"coding":[{"system":"urn:oid:1.2.840.114350.1.13.0.1.7.2.657369",
                "code":"4101","display":"Resource request returns no results."}],
                "text":"Resource request returns no results."}}]},
             "search":{"mode":"outcome"}}]}"#;
        let page = parse_searchset(&ok(empty)).unwrap();
        assert!(page.matches.is_empty());
        assert_eq!(page.total, Some(0));
        assert_eq!(page.outcomes, ["Resource request returns no results."]);
        let warned = r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[
            {"resource":{"resourceType":"Observation","id":"o1"},"search":{"mode":"match"}},
            {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information",
              "code":"informational","details":{"coding":[{"code":"4122"}],
              "text":"An unknown query parameter was supplied by the client."},
              "diagnostics":"encounter","location":["http.encounter"]}]},
             "search":{"mode":"outcome"}},
            {"resource":{"resourceType":"OperationOutcome","issue":"junk"},"search":{"mode":"outcome"}},
            {"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}}]}"#;
        let page = parse_searchset(&ok(warned)).unwrap();
        assert_eq!(ids(&page.matches), ["Observation/o1"]);
        assert_eq!(page.outcomes, ["encounter"]);
    }

    #[test]
    fn long_outcome_text_is_truncated() {
        let long = "x".repeat(1000);
        let body = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{{"resourceType":"OperationOutcome","issue":[{{"diagnostics":"{long}"}}]}},"search":{{"mode":"outcome"}}}}]}}"#
        );
        let page = parse_searchset(&ok(&body)).unwrap();
        assert_eq!(page.outcomes.len(), 1);
        assert!(page.outcomes[0].chars().count() <= MAX_OUTCOME_CHARS + 1);
    }

    #[test]
    fn mutated_bundles_never_panic() {
        let mut rng = crate::testing::SplitMix(37);
        let seed = br#"{"resourceType":"Bundle","type":"searchset","total":2,"link":[{"relation":"next","url":"https://e/fhir/Observation?page=2"}],"entry":[{"resource":{"resourceType":"Observation","id":"a"},"search":{"mode":"match"}},{"resource":{"resourceType":"Patient","id":"p"},"search":{"mode":"include"}},{"resource":{"resourceType":"OperationOutcome","issue":[{"diagnostics":"d"}]},"search":{"mode":"outcome"}}]}"#;
        let mut parsed = 0;
        for _ in 0..5000 {
            let resp = HttpResponse {
                status: 200,
                content_type: None,
                body: rng.mutate(seed),
            };
            if parse_searchset(&resp).is_ok() {
                parsed += 1;
            }
        }
        // The mutations must leave a fair share of valid JSON, or the test exercises nothing.
        assert!(parsed > 100, "{parsed}");
    }
}
