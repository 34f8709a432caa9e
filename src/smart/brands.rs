//! SMART User-access Brands: the Bundle of `Organization` brands (name, logo, portal) and their
//! `Endpoint`s (FHIR bases) behind a patient-facing "pick your health system" list.
//!
//! The bundle is fetched with `If-None-Match` and cached by ETag ([`brands_request`],
//! [`parse_brands`]). Parsing is lenient per entry — a broken Organization or Endpoint is
//! skipped, not fatal, and so are Organizations marked `active: false` and Endpoints whose
//! `status` is not `active` — bounded (body size, number of brands), and keeps only `https:`
//! URLs (`http:` on loopback). A brand never adds a server: [`match_brands`] keeps only brands
//! whose endpoint is a FHIR base Cairn is already configured for.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::domain::problem::{NextStep, Problem, truncate_for_display};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::urls;

/// Brand bundles can be large directories; anything larger than this is refused unread.
pub const MAX_BRANDS_BYTES: usize = 2 * 1024 * 1024;
/// The most brands kept from one bundle; the rest are dropped.
pub const MAX_BRANDS: usize = 5_000;
/// Brand names are cut to this many characters for display.
pub const MAX_NAME_CHARS: usize = 200;
/// Longer URLs are not kept.
pub const MAX_URL_CHARS: usize = 2_048;
/// Longer ETags are not cached.
const MAX_ETAG_CHARS: usize = 256;

const BRAND_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/organization-brand";
const PORTAL_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/organization-portal";

/// One brand (an `Organization`) as a picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// `Organization.name`, trimmed and cut to [`MAX_NAME_CHARS`]. Display as text only.
    pub name: String,
    /// The first acceptable `brandLogo` of the `organization-brand` extension.
    pub logo_url: Option<String>,
    /// The first acceptable `portalUrl` of an `organization-portal` extension.
    pub portal_url: Option<String>,
    /// Addresses of the brand's `Endpoint`s (from `Organization.endpoint` and `portalEndpoint`),
    /// exactly as the bundle spells them, without duplicates.
    pub fhir_bases: Vec<String>,
}

/// What a brands fetch yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrandsOutcome {
    /// HTTP 304: the cached brands (and their ETag) are still current.
    NotModified,
    /// A new bundle; `etag` is the response's ETag when it is a well-formed entity tag, to be
    /// cached with the brands and sent back as `If-None-Match`.
    Fresh {
        brands: Vec<Brand>,
        etag: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandsError {
    #[error("the list of health systems answered HTTP {0}")]
    Http(u16),
    #[error("the list of health systems is larger than {MAX_BRANDS_BYTES} bytes")]
    TooLarge,
    #[error("the list of health systems is not JSON")]
    NotJson,
    #[error("the list of health systems is not a FHIR Bundle")]
    NotBundle,
}

impl BrandsError {
    pub fn problem(&self) -> Problem {
        let next = match self {
            BrandsError::Http(status) if *status >= 500 || *status == 429 => NextStep::TryAgain,
            _ => NextStep::ContactSupport,
        };
        Problem::new(
            "Cairn could not load the list of health systems",
            format!("{self}."),
            next,
        )
    }
}

/// `GET` the brand bundle, conditional on the cached ETag when there is one (an ETag that is not
/// a well-formed entity tag is not sent).
pub fn brands_request(url: &str, etag: Option<&str>) -> HttpRequest {
    let mut headers = vec![(
        "Accept".to_owned(),
        "application/fhir+json, application/json".to_owned(),
    )];
    if let Some(etag) = etag.and_then(valid_etag) {
        headers.push(("If-None-Match".to_owned(), etag));
    }
    HttpRequest {
        method: Method::Get,
        url: url.to_owned(),
        headers,
        body: None,
        max_body: MAX_BRANDS_BYTES,
    }
}

/// Reads a brands response. `etag` is the response's `ETag` header, if any (the caller reads it
/// until [`HttpResponse`] carries headers); it is returned with fresh brands when well formed.
///
/// A 304 is [`BrandsOutcome::NotModified`]; another 2xx must be a JSON `Bundle` (any JSON
/// `Content-Type` or none: bundles are often static files). Entries that are not usable brands
/// are skipped; at most [`MAX_BRANDS`] brands are kept, in bundle order.
pub fn parse_brands(resp: &HttpResponse, etag: Option<&str>) -> Result<BrandsOutcome, BrandsError> {
    if resp.status == 304 {
        return Ok(BrandsOutcome::NotModified);
    }
    if !resp.is_success() {
        return Err(BrandsError::Http(resp.status));
    }
    if resp.body.len() > MAX_BRANDS_BYTES {
        return Err(BrandsError::TooLarge);
    }
    let bundle = match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(bundle)) => bundle,
        Ok(_) => return Err(BrandsError::NotBundle),
        Err(_) => return Err(BrandsError::NotJson),
    };
    if text(&bundle, "resourceType") != Some("Bundle") {
        return Err(BrandsError::NotBundle);
    }
    let entries: Vec<&Map<String, Value>> = match bundle.get("entry") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.iter().filter_map(Value::as_object).collect(),
        Some(_) => return Err(BrandsError::NotBundle),
    };
    let endpoints = EndpointIndex::new(&entries);
    let brands = entries
        .iter()
        .filter_map(|entry| entry.get("resource")?.as_object())
        .filter(|resource| text(resource, "resourceType") == Some("Organization"))
        .filter_map(|organization| brand(organization, &endpoints))
        .take(MAX_BRANDS)
        .collect();
    Ok(BrandsOutcome::Fresh {
        brands,
        etag: etag.and_then(valid_etag),
    })
}

/// The brands that name a FHIR base Cairn is configured for, each with the index (in
/// `allowed_fhir_bases`) of the first such base. Bases compare as exact strings except for one
/// trailing `/`. In the result, `fhir_bases` holds only the matching configured bases, spelled
/// as configured, so nothing from the bundle can add a server.
pub fn match_brands(brands: &[Brand], allowed_fhir_bases: &[String]) -> Vec<(usize, Brand)> {
    let trim = |base: &str| base.strip_suffix('/').unwrap_or(base).to_owned();
    let allowed: Vec<String> = allowed_fhir_bases.iter().map(|b| trim(b)).collect();
    brands
        .iter()
        .filter_map(|brand| {
            let offered: Vec<String> = brand.fhir_bases.iter().map(|b| trim(b)).collect();
            let matching: Vec<usize> = allowed
                .iter()
                .enumerate()
                .filter(|(_, base)| !base.is_empty() && offered.contains(base))
                .map(|(i, _)| i)
                .collect();
            let first = *matching.first()?;
            Some((
                first,
                Brand {
                    fhir_bases: matching
                        .iter()
                        .filter_map(|&i| allowed_fhir_bases.get(i).cloned())
                        .collect(),
                    ..brand.clone()
                },
            ))
        })
        .collect()
}

/// Endpoint addresses of the bundle, by `fullUrl` and by `Endpoint/<id>`. An id used by two
/// Endpoints resolves to neither.
struct EndpointIndex<'a> {
    by_full_url: HashMap<&'a str, Option<String>>,
    by_id: HashMap<&'a str, Option<String>>,
}

impl<'a> EndpointIndex<'a> {
    fn new(entries: &[&'a Map<String, Value>]) -> Self {
        let mut index = EndpointIndex {
            by_full_url: HashMap::new(),
            by_id: HashMap::new(),
        };
        for entry in entries {
            let Some(resource) = entry.get("resource").and_then(Value::as_object) else {
                continue;
            };
            if text(resource, "resourceType") != Some("Endpoint") {
                continue;
            }
            let address = endpoint_address(resource);
            if let Some(full_url) = text(entry, "fullUrl") {
                insert_unique(&mut index.by_full_url, full_url, address.clone());
            }
            if let Some(id) = text(resource, "id") {
                insert_unique(&mut index.by_id, id, address);
            }
        }
        index
    }

    /// The address a reference from `organization` leads to: `#id` names a contained Endpoint;
    /// otherwise the bundle's `fullUrl`s are tried, then `Endpoint/<id>`.
    fn resolve(&self, organization: &Map<String, Value>, reference: &str) -> Option<String> {
        if let Some(id) = reference.strip_prefix('#') {
            return organization
                .get("contained")?
                .as_array()?
                .iter()
                .filter_map(Value::as_object)
                .find(|r| text(r, "resourceType") == Some("Endpoint") && text(r, "id") == Some(id))
                .and_then(endpoint_address);
        }
        if let Some(found) = self.by_full_url.get(reference) {
            return found.clone();
        }
        let id = reference.strip_prefix("Endpoint/")?;
        self.by_id.get(id).cloned().flatten()
    }
}

fn insert_unique<'a>(
    map: &mut HashMap<&'a str, Option<String>>,
    key: &'a str,
    value: Option<String>,
) {
    map.entry(key)
        .and_modify(|existing| *existing = None)
        .or_insert(value);
}

/// An Endpoint's `address`, when acceptable and the Endpoint is not switched off.
fn endpoint_address(endpoint: &Map<String, Value>) -> Option<String> {
    match text(endpoint, "status") {
        None | Some("active") => acceptable_url(text(endpoint, "address")?),
        Some(_) => None,
    }
}

/// One Organization as a brand, or `None` when it has no usable name or is marked inactive.
fn brand(organization: &Map<String, Value>, endpoints: &EndpointIndex<'_>) -> Option<Brand> {
    if organization.get("active") == Some(&Value::Bool(false)) {
        return None;
    }
    let name = text(organization, "name")?.trim();
    if name.is_empty() {
        return None;
    }
    let logo_url = extension_values(organization, BRAND_EXTENSION, "brandLogo", "valueUrl")
        .find_map(acceptable_url);
    let portal_url = extension_values(organization, PORTAL_EXTENSION, "portalUrl", "valueUrl")
        .find_map(acceptable_url);
    let endpoint_refs = organization
        .get("endpoint")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("reference")?.as_str());
    let portal_refs = sub_extensions(organization, PORTAL_EXTENSION, "portalEndpoint")
        .filter_map(|e| e.get("valueReference")?.get("reference")?.as_str());
    let mut fhir_bases: Vec<String> = Vec::new();
    for reference in endpoint_refs.chain(portal_refs) {
        if let Some(address) = endpoints.resolve(organization, reference)
            && !fhir_bases.contains(&address)
        {
            fhir_bases.push(address);
        }
    }
    Some(Brand {
        name: truncate_for_display(name, MAX_NAME_CHARS),
        logo_url,
        portal_url,
        fhir_bases,
    })
}

/// The sub-extensions named `name` of every extension `url` on `resource`.
fn sub_extensions<'a>(
    resource: &'a Map<String, Value>,
    url: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'a Map<String, Value>> + 'a {
    resource
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(move |ext| text(ext, "url") == Some(url))
        .filter_map(|ext| ext.get("extension")?.as_array())
        .flatten()
        .filter_map(Value::as_object)
        .filter(move |sub| text(sub, "url") == Some(name))
}

/// The string `value_field`s of [`sub_extensions`].
fn extension_values<'a>(
    resource: &'a Map<String, Value>,
    url: &'a str,
    name: &'a str,
    value_field: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    sub_extensions(resource, url, name).filter_map(move |sub| text(sub, value_field))
}

/// `raw` unchanged when it is an absolute `https:` URL (`http:` on loopback) without user
/// information, whitespace or control characters, of bounded length.
fn acceptable_url(raw: &str) -> Option<String> {
    if raw.len() > MAX_URL_CHARS || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    urls::acceptable(raw).map(|_| raw.to_owned())
}

/// An entity tag as RFC 9110 §8.8.3 spells it (`"…"` or `W/"…"`), else `None`.
fn valid_etag(raw: &str) -> Option<String> {
    let raw = raw.trim_matches(|c| c == ' ' || c == '\t');
    let opaque = raw.strip_prefix("W/").unwrap_or(raw);
    let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
    let ok = raw.len() <= MAX_ETAG_CHARS
        && inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b));
    ok.then(|| raw.to_owned())
}

fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object.get(field)?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::SplitMix;

    fn response(status: u16, body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/fhir+json".into()),
            body: body.to_vec(),
        }
    }

    fn fresh(body: &Value) -> Vec<Brand> {
        match parse_brands(&response(200, body.to_string().as_bytes()), None) {
            Ok(BrandsOutcome::Fresh { brands, .. }) => brands,
            other => panic!("{other:?}"),
        }
    }

    fn bundle(entries: Value) -> Value {
        json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
    }

    fn organization(name: &str, endpoint_refs: &[&str]) -> Value {
        let refs: Vec<Value> = endpoint_refs
            .iter()
            .map(|r| json!({"reference": r}))
            .collect();
        json!({"resource": {"resourceType": "Organization", "name": name, "endpoint": refs}})
    }

    fn endpoint(id: &str, address: &str) -> Value {
        json!({
            "fullUrl": format!("https://brands.example/Endpoint/{id}"),
            "resource": {"resourceType": "Endpoint", "id": id, "status": "active", "address": address}
        })
    }

    /// Modelled on the SMART App Launch User-access Brands example: one health system with a
    /// brand logo and a portal, and a second brand (an affiliated clinic) that shares its
    /// endpoint, plus an Endpoint for a DSTU2 server and one that is switched off.
    fn realistic_bundle() -> Value {
        json!({
          "resourceType": "Bundle",
          "id": "example-brands",
          "type": "collection",
          "timestamp": "2022-10-17T19:35:00.000Z",
          "entry": [
            {
              "fullUrl": "https://brands.examplehealth.org/Organization/examplehealth",
              "resource": {
                "resourceType": "Organization",
                "id": "examplehealth",
                "extension": [
                  {
                    "url": "http://hl7.org/fhir/StructureDefinition/organization-brand",
                    "extension": [
                      {"url": "brandLogo", "valueUrl": "https://examplehealth.org/logo.svg"},
                      {"url": "brandLogoLicense", "valueUrl": "https://examplehealth.org/logo-license"}
                    ]
                  },
                  {
                    "url": "http://hl7.org/fhir/StructureDefinition/organization-portal",
                    "extension": [
                      {"url": "portalName", "valueString": "ExampleHealth MyChart"},
                      {"url": "portalDescription", "valueMarkdown": "Your records, online."},
                      {"url": "portalUrl", "valueUrl": "https://mychart.examplehealth.org"},
                      {"url": "portalLogo", "valueUrl": "https://mychart.examplehealth.org/logo.png"},
                      {"url": "portalEndpoint",
                       "valueReference": {"reference": "Endpoint/examplehealth-r4"}}
                    ]
                  }
                ],
                "identifier": [{"system": "urn:ietf:rfc:3986", "value": "https://examplehealth.org"}],
                "active": true,
                "name": "ExampleHealth",
                "alias": ["EH"],
                "telecom": [{"system": "url", "value": "https://examplehealth.org"}],
                "address": [{"city": "Madison", "state": "WI", "country": "US"}],
                "endpoint": [
                  {"reference": "Endpoint/examplehealth-r4"},
                  {"reference": "Endpoint/examplehealth-dstu2"},
                  {"reference": "Endpoint/examplehealth-retired"}
                ]
              }
            },
            {
              "fullUrl": "https://brands.examplehealth.org/Organization/lakeside-clinic",
              "resource": {
                "resourceType": "Organization",
                "id": "lakeside-clinic",
                "name": "  Lakeside Clinic (part of ExampleHealth)  ",
                "partOf": {"reference": "Organization/examplehealth"},
                "extension": [{
                  "url": "http://hl7.org/fhir/StructureDefinition/organization-brand",
                  "extension": [{"url": "brandLogo", "valueUrl": "http://lakeside.example/logo.png"}]
                }],
                "endpoint": [{
                  "reference": "https://brands.examplehealth.org/Endpoint/examplehealth-r4"
                }]
              }
            },
            {
              "fullUrl": "https://brands.examplehealth.org/Endpoint/examplehealth-r4",
              "resource": {
                "resourceType": "Endpoint",
                "id": "examplehealth-r4",
                "extension": [{
                  "url": "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version",
                  "valueCode": "4.0.1"
                }],
                "status": "active",
                "connectionType": {
                  "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                  "code": "hl7-fhir-rest"
                },
                "name": "ExampleHealth FHIR R4",
                "payloadType": [{"coding": [{
                  "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                  "code": "none"
                }]}],
                "address": "https://fhir.examplehealth.org/api/FHIR/R4"
              }
            },
            {
              "fullUrl": "https://brands.examplehealth.org/Endpoint/examplehealth-dstu2",
              "resource": {
                "resourceType": "Endpoint",
                "id": "examplehealth-dstu2",
                "status": "active",
                "address": "https://fhir.examplehealth.org/api/FHIR/DSTU2/"
              }
            },
            {
              "fullUrl": "https://brands.examplehealth.org/Endpoint/examplehealth-retired",
              "resource": {
                "resourceType": "Endpoint",
                "id": "examplehealth-retired",
                "status": "off",
                "address": "https://old.examplehealth.org/fhir"
              }
            }
          ]
        })
    }

    #[test]
    fn request_asks_for_fhir_json_and_sends_a_known_etag() {
        let plain = brands_request("https://ehr.example/brands.json", None);
        assert_eq!(plain.method, Method::Get);
        assert_eq!(plain.url, "https://ehr.example/brands.json");
        assert_eq!(
            plain.header("Accept"),
            Some("application/fhir+json, application/json")
        );
        assert_eq!(plain.header("If-None-Match"), None);
        assert_eq!(plain.body, None);

        let cases: &[(&str, Option<&str>)] = &[
            ("\"abc123\"", Some("\"abc123\"")),
            ("W/\"abc\"", Some("W/\"abc\"")),
            ("\"\"", Some("\"\"")),
            ("abc123", None),
            ("\"abc", None),
            ("\"a\"b\"", None),
            ("\"a\r\nX-Evil: 1\"", None),
            ("\"é\"", None),
        ];
        for (etag, sent) in cases {
            let req = brands_request("https://ehr.example/brands.json", Some(etag));
            assert_eq!(req.header("If-None-Match"), *sent, "{etag:?}");
        }
        let long = format!("\"{}\"", "a".repeat(300));
        assert_eq!(
            brands_request("https://x.example/b", Some(&long)).header("If-None-Match"),
            None
        );
    }

    #[test]
    fn the_realistic_bundle() {
        let body = realistic_bundle().to_string();
        let outcome = parse_brands(&response(200, body.as_bytes()), Some("W/\"v7\"")).unwrap();
        let BrandsOutcome::Fresh { brands, etag } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(etag.as_deref(), Some("W/\"v7\""));
        assert_eq!(
            brands,
            vec![
                Brand {
                    name: "ExampleHealth".into(),
                    logo_url: Some("https://examplehealth.org/logo.svg".into()),
                    portal_url: Some("https://mychart.examplehealth.org".into()),
                    fhir_bases: vec![
                        "https://fhir.examplehealth.org/api/FHIR/R4".into(),
                        "https://fhir.examplehealth.org/api/FHIR/DSTU2/".into(),
                    ],
                },
                Brand {
                    name: "Lakeside Clinic (part of ExampleHealth)".into(),
                    logo_url: None,
                    portal_url: None,
                    fhir_bases: vec!["https://fhir.examplehealth.org/api/FHIR/R4".into()],
                },
            ]
        );
    }

    #[test]
    fn the_sandbox_bundle_shape() {
        // As `sandbox/src/fhir.rs` serves it: loopback http, relative references, fullUrls
        // under a different path than the references.
        let origin = "http://127.0.0.1:8443";
        let body = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{
                "fullUrl": format!("{origin}/brands/Organization/cairn-dev"),
                "resource": {
                    "resourceType": "Organization", "id": "cairn-dev",
                    "name": "Cairn Development Health",
                    "extension": [{
                        "url": "http://hl7.org/fhir/StructureDefinition/organization-portal",
                        "extension": [
                            {"url": "portalUrl", "valueUrl": format!("{origin}/")},
                            {"url": "portalEndpoint",
                             "valueReference": {"reference": "Endpoint/cairn-dev-r4"}}
                        ]
                    }],
                    "endpoint": [{"reference": "Endpoint/cairn-dev-r4"}]
                }
            }, {
                "fullUrl": format!("{origin}/brands/Endpoint/cairn-dev-r4"),
                "resource": {"resourceType": "Endpoint", "id": "cairn-dev-r4",
                             "status": "active", "address": format!("{origin}/fhir/r4")}
            }]
        });
        assert_eq!(
            fresh(&body),
            vec![Brand {
                name: "Cairn Development Health".into(),
                logo_url: None,
                portal_url: Some(format!("{origin}/")),
                fhir_bases: vec![format!("{origin}/fhir/r4")],
            }]
        );
    }

    #[test]
    fn contained_endpoints_resolve() {
        let body = bundle(json!([{
            "resource": {
                "resourceType": "Organization",
                "name": "Contained Health",
                "contained": [
                    {"resourceType": "Endpoint", "id": "ep", "address": "https://c.example/fhir"},
                    {"resourceType": "Patient", "id": "pt"}
                ],
                "endpoint": [{"reference": "#ep"}, {"reference": "#pt"}, {"reference": "#missing"}]
            }
        }]));
        assert_eq!(fresh(&body)[0].fhir_bases, vec!["https://c.example/fhir"]);
    }

    #[test]
    fn references() {
        let cases: &[(&str, Value, &[&str])] = &[
            (
                "by id",
                json!([endpoint("a", "https://a.example/fhir")]),
                &["https://a.example/fhir"],
            ),
            (
                "by fullUrl",
                json!([endpoint("a", "https://a.example/fhir")]),
                &["https://a.example/fhir"],
            ),
            (
                "duplicate id is ambiguous",
                json!([
                    endpoint("a", "https://a.example/fhir"),
                    {"fullUrl": "urn:uuid:2",
                     "resource": {"resourceType": "Endpoint", "id": "a",
                                  "address": "https://evil.example/fhir"}}
                ]),
                &[],
            ),
            ("missing endpoint", json!([]), &[]),
            (
                "not an Endpoint",
                json!([{"fullUrl": "https://brands.example/Endpoint/a",
                        "resource": {"resourceType": "Patient", "id": "a",
                                     "address": "https://a.example"}}]),
                &[],
            ),
            (
                "status off",
                json!([{"resource": {"resourceType": "Endpoint", "id": "a", "status": "off",
                                     "address": "https://a.example/fhir"}}]),
                &[],
            ),
            (
                "http address",
                json!([endpoint("a", "http://a.example/fhir")]),
                &[],
            ),
            (
                "loopback http",
                json!([endpoint("a", "http://localhost:9/fhir")]),
                &["http://localhost:9/fhir"],
            ),
            (
                "javascript",
                json!([endpoint("a", "javascript:alert(1)")]),
                &[],
            ),
            ("relative", json!([endpoint("a", "/fhir")]), &[]),
            (
                "user info",
                json!([endpoint("a", "https://u:p@a.example/fhir")]),
                &[],
            ),
            (
                "whitespace",
                json!([endpoint("a", " https://a.example/fhir")]),
                &[],
            ),
            (
                "number address",
                json!([{"resource": {"resourceType": "Endpoint", "id": "a", "address": 7}}]),
                &[],
            ),
        ];
        for (label, endpoints, want) in cases {
            let reference = if *label == "by fullUrl" {
                "https://brands.example/Endpoint/a"
            } else {
                "Endpoint/a"
            };
            let mut entries = vec![organization("Org", &[reference])];
            entries.extend(endpoints.as_array().unwrap().iter().cloned());
            let brands = fresh(&bundle(Value::Array(entries)));
            assert_eq!(brands.len(), 1, "{label}");
            assert_eq!(brands[0].fhir_bases, *want, "{label}");
        }
    }

    #[test]
    fn logos_and_portals_must_be_safe_urls() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "https://cdn.example/logo.svg",
                Some("https://cdn.example/logo.svg"),
            ),
            (
                "http://127.0.0.1:8080/logo.png",
                Some("http://127.0.0.1:8080/logo.png"),
            ),
            (
                "http://localhost/logo.png",
                Some("http://localhost/logo.png"),
            ),
            ("http://cdn.example/logo.svg", None),
            ("javascript:alert(1)", None),
            ("data:image/svg+xml,<svg onload=alert(1)>", None),
            ("//cdn.example/logo.svg", None),
            ("logo.svg", None),
            ("https://user@cdn.example/logo.svg", None),
            ("https://cdn.example/lo\ngo.svg", None),
            ("", None),
        ];
        for (url, want) in cases {
            let body = bundle(json!([{"resource": {
                "resourceType": "Organization",
                "name": "Org",
                "extension": [
                    {"url": BRAND_EXTENSION, "extension": [{"url": "brandLogo", "valueUrl": url}]},
                    {"url": PORTAL_EXTENSION, "extension": [{"url": "portalUrl", "valueUrl": url}]}
                ]
            }}]));
            let brand = &fresh(&body)[0];
            assert_eq!(brand.logo_url.as_deref(), *want, "logo {url:?}");
            assert_eq!(brand.portal_url.as_deref(), *want, "portal {url:?}");
        }
        let long = format!("https://cdn.example/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(acceptable_url(&long), None);
    }

    #[test]
    fn broken_entries_are_skipped() {
        let body = bundle(json!([
            null,
            7,
            "Organization",
            {"resource": null},
            {"resource": []},
            {"resource": {"resourceType": "Organization"}},
            {"resource": {"resourceType": "Organization", "name": "   "}},
            {"resource": {"resourceType": "Organization", "name": ["A"]}},
            {"resource": {"resourceType": "Organization", "name": "Kept",
                          "extension": "nope", "endpoint": {"reference": "Endpoint/a"}}},
            {"resource": {"resourceType": "Organization", "name": "Also kept",
                          "extension": [null, {"url": 3}, {"url": BRAND_EXTENSION,
                                        "extension": [1, {"url": "brandLogo", "valueUrl": 5}]}],
                          "endpoint": [null, {"reference": 3}, {"display": "x"}]}},
            {"resource": {"resourceType": "Organization", "name": "Closed", "active": false}},
            {"resource": {"resourceType": "Location", "name": "Not a brand"}}
        ]));
        let names: Vec<String> = fresh(&body).into_iter().map(|b| b.name).collect();
        assert_eq!(names, vec!["Kept", "Also kept"]);
    }

    #[test]
    fn long_names_are_cut() {
        let name = "N".repeat(1_000);
        let brands = fresh(&bundle(json!([organization(&name, &[])])));
        assert_eq!(brands[0].name.chars().count(), MAX_NAME_CHARS + 1);
        assert!(brands[0].name.ends_with('…'));
    }

    #[test]
    fn at_most_five_thousand_brands() {
        let entries: Vec<Value> = (0..MAX_BRANDS + 10)
            .map(|i| json!({"resource": {"resourceType": "Organization", "name": format!("B{i}")}}))
            .collect();
        let brands = fresh(&bundle(Value::Array(entries)));
        assert_eq!(brands.len(), MAX_BRANDS);
        assert_eq!(brands.last().unwrap().name, format!("B{}", MAX_BRANDS - 1));
    }

    #[test]
    fn status_and_document_errors() {
        let big = format!(
            r#"{{"resourceType":"Bundle","pad":"{}"}}"#,
            "x".repeat(MAX_BRANDS_BYTES)
        );
        let cases: &[(u16, &[u8], Result<BrandsOutcome, BrandsError>)] = &[
            (304, b"", Ok(BrandsOutcome::NotModified)),
            (304, b"garbage", Ok(BrandsOutcome::NotModified)),
            (
                200,
                br#"{"resourceType":"Bundle"}"#,
                Ok(BrandsOutcome::Fresh {
                    brands: vec![],
                    etag: None,
                }),
            ),
            (
                200,
                br#"{"resourceType":"Bundle","entry":null}"#,
                Ok(BrandsOutcome::Fresh {
                    brands: vec![],
                    etag: None,
                }),
            ),
            (404, b"{}", Err(BrandsError::Http(404))),
            (500, b"", Err(BrandsError::Http(500))),
            (302, b"", Err(BrandsError::Http(302))),
            (200, b"", Err(BrandsError::NotJson)),
            (200, b"<html></html>", Err(BrandsError::NotJson)),
            (
                200,
                br#"{"resourceType":"Bundle","entry":["#,
                Err(BrandsError::NotJson),
            ),
            (200, b"[]", Err(BrandsError::NotBundle)),
            (200, b"{}", Err(BrandsError::NotBundle)),
            (
                200,
                br#"{"resourceType":"Organization","name":"X"}"#,
                Err(BrandsError::NotBundle),
            ),
            (
                200,
                br#"{"resourceType":"Bundle","entry":{}}"#,
                Err(BrandsError::NotBundle),
            ),
            (200, big.as_bytes(), Err(BrandsError::TooLarge)),
        ];
        for (status, body, want) in cases {
            let got = parse_brands(&response(*status, body), None);
            assert_eq!(
                &got,
                want,
                "{status} {:?}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
            if let Err(e) = got {
                assert!(!e.problem().title.is_empty());
            }
        }
        assert_eq!(
            BrandsError::Http(503).problem().next_step,
            NextStep::TryAgain
        );
        assert_eq!(
            BrandsError::NotJson.problem().next_step,
            NextStep::ContactSupport
        );
    }

    #[test]
    fn the_etag_is_returned_only_when_well_formed() {
        let body = br#"{"resourceType":"Bundle"}"#;
        for (etag, want) in [
            (Some("\"abc\""), Some("\"abc\"")),
            (Some(" W/\"abc\" "), Some("W/\"abc\"")),
            (Some("abc"), None),
            (Some("\"a\nb\""), None),
            (None, None),
        ] {
            let got = parse_brands(&response(200, body), etag).unwrap();
            assert_eq!(
                got,
                BrandsOutcome::Fresh {
                    brands: vec![],
                    etag: want.map(str::to_owned)
                },
                "{etag:?}"
            );
        }
    }

    fn brand_with(bases: &[&str]) -> Brand {
        Brand {
            name: "B".into(),
            logo_url: None,
            portal_url: None,
            fhir_bases: bases.iter().map(|b| (*b).to_owned()).collect(),
        }
    }

    #[test]
    fn matching_keeps_only_configured_servers() {
        let allowed: Vec<String> = vec![
            "https://fhir.a.example/R4".into(),
            "https://fhir.b.example/R4/".into(),
        ];
        /// Bases a brand offers → (index of the first configured match, bases kept).
        type Case<'a> = (&'a [&'a str], Option<(usize, &'a [&'a str])>);
        let cases: &[Case] = &[
            (
                &["https://fhir.a.example/R4"],
                Some((0, &["https://fhir.a.example/R4"])),
            ),
            (
                &["https://fhir.a.example/R4/"],
                Some((0, &["https://fhir.a.example/R4"])),
            ),
            (
                &["https://fhir.b.example/R4"],
                Some((1, &["https://fhir.b.example/R4/"])),
            ),
            (
                &[
                    "https://evil.example/R4",
                    "https://fhir.b.example/R4/",
                    "https://fhir.a.example/R4",
                ],
                Some((
                    0,
                    &["https://fhir.a.example/R4", "https://fhir.b.example/R4/"],
                )),
            ),
            (&["https://fhir.a.example/R4//"], None),
            (&["https://FHIR.a.example/R4"], None),
            (&["https://fhir.a.example/r4"], None),
            (&["https://fhir.a.example/R4/metadata"], None),
            (&["https://fhir.a.example"], None),
            (&["https://fhir.a.example/R4?x=1"], None),
            (&["https://evil.example/R4"], None),
            (&[""], None),
            (&[], None),
        ];
        for (bases, want) in cases {
            let brand = brand_with(bases);
            let got = match_brands(std::slice::from_ref(&brand), &allowed);
            let want: Vec<(usize, Brand)> = want
                .iter()
                .map(|(i, kept)| {
                    (
                        *i,
                        Brand {
                            fhir_bases: kept.iter().map(|b| (*b).to_owned()).collect(),
                            ..brand.clone()
                        },
                    )
                })
                .collect();
            assert_eq!(got, want, "{bases:?}");
        }
    }

    #[test]
    fn matching_the_realistic_bundle_and_empty_config() {
        let BrandsOutcome::Fresh { brands, .. } = parse_brands(
            &response(200, realistic_bundle().to_string().as_bytes()),
            None,
        )
        .unwrap() else {
            panic!("fresh");
        };
        let allowed = vec!["https://fhir.examplehealth.org/api/FHIR/R4/".to_owned()];
        let matched = match_brands(&brands, &allowed);
        let names: Vec<(usize, &str)> =
            matched.iter().map(|(i, b)| (*i, b.name.as_str())).collect();
        assert_eq!(
            names,
            vec![
                (0, "ExampleHealth"),
                (0, "Lakeside Clinic (part of ExampleHealth)")
            ]
        );
        assert!(matched.iter().all(|(_, b)| b.fhir_bases == allowed));
        assert!(match_brands(&brands, &[]).is_empty());
        assert!(match_brands(&brands, &[String::new(), "/".into()]).is_empty());
    }

    /// A random JSON value biased towards the keys and values a brand bundle uses.
    fn garbage_value(rng: &mut SplitMix, depth: u32) -> Value {
        const WORDS: &[&str] = &[
            "Bundle",
            "Organization",
            "Endpoint",
            "entry",
            "resource",
            "resourceType",
            "name",
            "endpoint",
            "reference",
            "Endpoint/a",
            "#a",
            "a",
            "id",
            "fullUrl",
            "address",
            "status",
            "off",
            "active",
            "contained",
            "extension",
            "url",
            "valueUrl",
            "valueReference",
            "brandLogo",
            "portalUrl",
            "portalEndpoint",
            BRAND_EXTENSION,
            PORTAL_EXTENSION,
            "https://a.example/fhir",
            "http://localhost/",
            "javascript:x",
            "",
            "é🙂",
            "\u{0}",
        ];
        let pick = if depth == 0 {
            rng.below(4)
        } else {
            rng.below(7)
        };
        match pick {
            0 => Value::String(WORDS[rng.below(WORDS.len())].to_owned()),
            1 => json!(rng.next() as i64),
            2 => Value::Null,
            3 => Value::Bool(rng.below(2) == 0),
            4 | 5 => {
                let mut object = Map::new();
                for _ in 0..rng.below(6) {
                    let key = WORDS[rng.below(WORDS.len())].to_owned();
                    object.insert(key, garbage_value(rng, depth - 1));
                }
                Value::Object(object)
            }
            _ => Value::Array(
                (0..rng.below(5))
                    .map(|_| garbage_value(rng, depth - 1))
                    .collect(),
            ),
        }
    }

    #[test]
    fn five_thousand_garbage_inputs_never_panic() {
        let mut rng = SplitMix(0xb4a2_d5ee_d000_0001);
        let realistic = realistic_bundle().to_string().into_bytes();
        let allowed = vec!["https://a.example/fhir".to_owned()];
        for i in 0..5_000 {
            let body: Vec<u8> = match i % 3 {
                0 => {
                    let entries = Value::Array(
                        (0..rng.below(8))
                            .map(|_| garbage_value(&mut rng, 5))
                            .collect(),
                    );
                    bundle(entries).to_string().into_bytes()
                }
                1 => garbage_value(&mut rng, 6).to_string().into_bytes(),
                _ => {
                    let mut bytes = realistic.clone();
                    for _ in 0..1 + rng.below(6) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next() as u8;
                    }
                    bytes.truncate(rng.below(bytes.len() + 1));
                    bytes
                }
            };
            let status = [200, 200, 200, 304, 404][rng.below(5)];
            if let Ok(BrandsOutcome::Fresh { brands, .. }) =
                parse_brands(&response(status, &body), Some("\"e\""))
            {
                for brand in &brands {
                    assert!(!brand.name.trim().is_empty());
                    for url in brand
                        .logo_url
                        .iter()
                        .chain(&brand.portal_url)
                        .chain(&brand.fhir_bases)
                    {
                        assert_eq!(acceptable_url(url).as_ref(), Some(url));
                    }
                }
                for (index, brand) in match_brands(&brands, &allowed) {
                    assert_eq!(index, 0);
                    assert_eq!(brand.fhir_bases, allowed);
                }
            }
        }
        // Deep nesting is refused by the JSON parser, not by a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_brands(&response(200, deep.as_bytes()), None),
            Err(BrandsError::NotJson)
        );
    }
}
