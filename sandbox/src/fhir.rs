//! The FHIR server: discovery, CapabilityStatement, Patient read and search, Practitioner and
//! Encounter reads (Encounter and Observation search are in `search`),
//! and the documents an app fetches beside them (SMART style, User-access Brands).

use std::time::Duration;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::PRACTITIONER_ID;
use crate::{Ehr, Fault, epic, oauth, pages};

/// The SMART style document, the example of the SMART App Launch specification.
const SMART_STYLE: &str = r##"{"color_background":"#edeae3","color_error":"#9e2d2d","color_highlight":"#69b5ce","color_modal_backdrop":"","color_success":"#498e49","color_text":"#303030","dim_border_radius":"6px","dim_font_size":"13px","dim_spacing_size":"20px","font_family_body":"Georgia, Times, 'Times New Roman', serif","font_family_heading":"'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif"}"##;
/// The token endpoint discovery names under [`Fault::DiscoveryForeignEndpoints`].
const FOREIGN_TOKEN_ENDPOINT: &str = "http://127.0.0.1:1/oauth2/token";
/// The most entries one search page holds.
const MAX_COUNT: usize = 50;

/// An HTML page where a JSON document belongs, as a misconfigured proxy sends.
fn html_instead(status: StatusCode, title: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
        format!("<html><body><h1>{title}</h1></body></html>"),
    )
        .into_response()
}

fn token_endpoint(ehr: &Ehr) -> String {
    if ehr.has_fault(Fault::DiscoveryForeignEndpoints) {
        FOREIGN_TOKEN_ENDPOINT.to_owned()
    } else {
        format!("{}/oauth2/token", ehr.config().origin)
    }
}

pub async fn smart_configuration(State(ehr): State<Ehr>) -> Response {
    if ehr.has_fault(Fault::DiscoveryNotFound) {
        return html_instead(StatusCode::NOT_FOUND, "404 Not Found");
    }
    if ehr.has_fault(Fault::DiscoveryHtml) {
        return html_instead(StatusCode::OK, "Welcome to the patient portal");
    }
    let origin = &ehr.config().origin;
    let pkce = if ehr.has_fault(Fault::DiscoveryNoS256) {
        json!(["plain"])
    } else {
        json!(["S256"])
    };
    if ehr.epic_mode() {
        return json_document(&epic_smart_configuration(&ehr, pkce));
    }
    let mut body = json!({
        "issuer": ehr.issuer(),
        "jwks_uri": format!("{origin}/oauth2/jwks"),
        "authorization_endpoint": format!("{origin}/oauth2/authorize"),
        "token_endpoint": token_endpoint(&ehr),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient",
            "online_access", "offline_access",
            "patient/Patient.rs", "patient/Encounter.rs", "patient/Observation.rs",
            "user/Patient.rs", "user/Encounter.rs", "user/Observation.rs",
            "system/Patient.rs", "system/Encounter.rs", "system/Observation.rs"],
        // Public apps (`none`) and backend services (module `backend`).
        "token_endpoint_auth_methods_supported":
            ["none", "private_key_jwt", "client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "code_challenge_methods_supported": pkce,
        "authorization_response_iss_parameter_supported": true,
        "user_access_brand_bundle": format!("{origin}/brands.json"),
        "capabilities": ["launch-ehr", "launch-standalone", "authorize-post", "client-public",
            "context-banner", "context-style", "context-ehr-patient", "context-ehr-encounter",
            "context-standalone-patient", "permission-patient", "permission-user",
            "permission-online", "permission-offline", "permission-v1", "permission-v2",
            "sso-openid-connect", "client-confidential-asymmetric",
            "client-confidential-symmetric"],
    });
    if let Some(mix_up) = ehr.mix_up() {
        // The hostile server names the issuer its attack needs, or none (and then promises no
        // `iss`, so that the honest server's would not be missed).
        body["authorization_response_iss_parameter_supported"] = mix_up.issuer.is_some().into();
        match (&mix_up.issuer, body.as_object_mut()) {
            (Some(issuer), _) => body["issuer"] = issuer.clone().into(),
            (None, Some(fields)) => {
                fields.remove("issuer");
            }
            (None, None) => {}
        }
    }
    json_document(&body)
}

fn json_document(body: &Value) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Discovery as a real Epic customer publishes it (before August 2024): SMART v1 only (no
/// `permission-v2`), no `permission-online` or `context-ehr-encounter`, issuer `…/oauth2`.
fn epic_smart_configuration(ehr: &Ehr, pkce: Value) -> Value {
    let origin = &ehr.config().origin;
    json!({
        "authorization_endpoint": format!("{origin}/oauth2/authorize"),
        "token_endpoint": token_endpoint(ehr),
        "token_endpoint_auth_methods_supported":
            ["client_secret_post", "client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": ["epic.scanning.dmsusername", "fhirUser", "launch", "openid",
            "profile", "offline_access"],
        "response_types_supported": ["code"],
        "capabilities": ["launch-ehr", "client-public", "client-confidential-symmetric",
            "context-ehr-patient", "sso-openid-connect", "launch-standalone",
            "context-standalone-patient", "permission-offline", "permission-patient",
            "permission-user", "context-banner", "context-style", "authorize-post"],
        "code_challenge_methods_supported": pkce,
        "grant_types_supported": ["authorization_code", "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer", "client_credentials"],
        "jwks_uri": format!("{origin}/oauth2/jwks"),
        "issuer": ehr.issuer(),
        "introspection_endpoint": format!("{origin}/oauth2/introspect"),
        "revocation_endpoint": format!("{origin}/oauth2/revoke"),
    })
}

pub async fn metadata(State(ehr): State<Ehr>) -> Response {
    if ehr.has_fault(Fault::DiscoveryHtml) {
        return html_instead(StatusCode::OK, "Welcome to the patient portal");
    }
    let origin = &ehr.config().origin;
    fhir_json(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-22",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{
                "mode": "server",
                "security": {
                    "service": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR"}]}],
                    "extension": [{
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                        "extension": [
                            {"url": "authorize", "valueUri": format!("{origin}/oauth2/authorize")},
                            {"url": "token", "valueUri": token_endpoint(&ehr)}
                        ]
                    }]
                },
                "resource": [
                    {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                     "searchParam": [
                        {"name": "name", "type": "string"},
                        {"name": "identifier", "type": "token"}]},
                    {"type": "Practitioner", "interaction": [{"code": "read"}]},
                    {"type": "Encounter", "interaction": [{"code": "read"}, {"code": "search-type"}],
                     "searchParam": [
                        {"name": "patient", "type": "reference"},
                        {"name": "date", "type": "date"},
                        {"name": "status", "type": "token"},
                        {"name": "_count", "type": "number"},
                        {"name": "_sort", "type": "string"}]},
                    {"type": "Observation", "interaction": [{"code": "read"}, {"code": "search-type"}],
                     "searchParam": [
                        {"name": "patient", "type": "reference",
                         "documentation": "Required, with category or code."},
                        {"name": "category", "type": "token"},
                        {"name": "code", "type": "token"},
                        {"name": "encounter", "type": "reference"},
                        {"name": "date", "type": "date"},
                        {"name": "_count", "type": "number"},
                        {"name": "_sort", "type": "string"}]}
                ]
            }]
        }),
    )
}

/// `GET /ehr/smart-style.json`, the document `smart_style_url` names.
pub async fn smart_style() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        SMART_STYLE,
    )
        .into_response()
}

/// `GET /brands.json`: the User-access Brand Bundle (one brand, one endpoint), with a strong
/// `ETag` and 304 for a matching `If-None-Match`.
pub async fn brands(State(ehr): State<Ehr>, headers: HeaderMap) -> Response {
    let origin = &ehr.config().origin;
    let body = json!({
        "resourceType": "Bundle",
        "id": "cairn-dev-brands",
        "type": "collection",
        "timestamp": "2026-01-01T00:00:00Z",
        "entry": [{
            "fullUrl": format!("{origin}/brands/Organization/cairn-dev"),
            "resource": {
                "resourceType": "Organization",
                "id": "cairn-dev",
                "active": true,
                "name": "Cairn Development Health",
                "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("{origin}/")}],
                "telecom": [{"system": "url", "value": format!("{origin}/")}],
                "extension": [{
                    "url": "http://hl7.org/fhir/StructureDefinition/organization-portal",
                    "extension": [
                        {"url": "portalName", "valueString": "Cairn Development Health patient portal"},
                        {"url": "portalUrl", "valueUrl": format!("{origin}/")},
                        {"url": "portalDescription",
                         "valueMarkdown": "Synthetic patients for developing Cairn."},
                        {"url": "portalEndpoint",
                         "valueReference": {"reference": "Endpoint/cairn-dev-r4"}}
                    ]
                }],
                "endpoint": [{"reference": "Endpoint/cairn-dev-r4"}]
            }
        }, {
            "fullUrl": format!("{origin}/brands/Endpoint/cairn-dev-r4"),
            "resource": {
                "resourceType": "Endpoint",
                "id": "cairn-dev-r4",
                "extension": [{
                    "url": "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version",
                    "valueCode": "4.0.1"
                }],
                "status": "active",
                "connectionType": {
                    "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                    "code": "hl7-fhir-rest"
                },
                "name": "Cairn Development Health (FHIR R4)",
                "payloadType": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                    "code": "none"}]}],
                "address": ehr.fhir_base()
            }
        }]
    })
    .to_string();
    let hex: String = Sha256::digest(body.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{hex}\"");
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    // If-None-Match compares weakly (RFC 9110 §13.1.2): a W/ prefix still matches.
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), cache],
        )
            .into_response();
    }
    (
        [
            (header::ETAG, etag_value),
            cache,
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/fhir+json"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The 401 every FHIR request without a valid (present, known, unexpired) token gets.
pub(crate) fn invalid_token() -> Response {
    let mut r = outcome(
        StatusCode::UNAUTHORIZED,
        "login",
        "A valid bearer token is required.",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

/// What every read does first: answer with an injected fault, check the bearer token, and
/// find `resource_type/id` (404 when there is none).
///
/// In Epic mode Observations are read by their long ids and every resource is served in
/// Epic's shape.
pub(crate) async fn readable(
    ehr: &Ehr,
    headers: &HeaderMap,
    resource_type: &str,
    id: &str,
) -> Result<(oauth::Context, Value), Response> {
    if let Some(response) = injected_fhir_fault(ehr).await {
        return Err(response);
    }
    let context = authorized(ehr, headers).ok_or_else(invalid_token)?;
    let stored = if ehr.epic_mode() && resource_type == "Observation" {
        epic::stored_id(id).unwrap_or_default()
    } else {
        id.to_owned()
    };
    let resource = ehr
        .inner
        .store
        .get(resource_type, &stored)
        .map(|r| ehr.served(r));
    let resource = resource.ok_or_else(|| {
        outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("No such {resource_type}."),
        )
    })?;
    Ok((context, resource))
}

/// The access rules of reads and searches: a patient-level scope for the token's own patient,
/// or a clinician with a user-level scope for any patient.
pub(crate) fn allowed(
    context: &oauth::Context,
    resource_type: &str,
    patient: &str,
    action: char,
) -> bool {
    let own = context.patient.as_deref() == Some(patient)
        && oauth::permits(&context.scope, "patient", resource_type, action);
    let clinician = context.user == oauth::User::Practitioner
        && oauth::permits(&context.scope, "user", resource_type, action);
    // Only backend services hold `system/` scopes (authorize refuses them).
    let system = oauth::permits(&context.scope, "system", resource_type, action);
    own || clinician || system
}

/// The id in `Patient/<id>`, `Encounter/<id>`, `urn:uuid:<id>` or a full URL ending so.
pub(crate) fn reference_id(reference: &str) -> &str {
    let reference = reference.strip_prefix("urn:uuid:").unwrap_or(reference);
    reference.rsplit('/').next().unwrap_or(reference)
}

/// The context of the request's bearer token, if it is valid now.
pub(crate) fn authorized(ehr: &Ehr, headers: &HeaderMap) -> Option<oauth::Context> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    oauth::bearer(ehr, authorization)
}

pub async fn read_patient(
    State(ehr): State<Ehr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (context, resource) = match readable(&ehr, &headers, "Patient", &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if ehr.has_fault(Fault::PatientReadInsufficientScope) {
        return (
            StatusCode::FORBIDDEN,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_scope\""),
            )],
        )
            .into_response();
    }
    if ehr.has_fault(Fault::BreakTheGlass) {
        return epic::outcome(
            StatusCode::FORBIDDEN,
            epic::BREAK_THE_GLASS,
            "This patient's record is restricted: the user must break the glass in the EHR \
             to open it.",
        );
    }
    if allowed(&context, "Patient", &id, 'r') {
        return fhir_json(StatusCode::OK, &resource);
    }
    let message = match &context.patient {
        Some(p) if *p != id => "This token is for another patient.",
        _ => "The token's scope does not allow reading this Patient.",
    };
    outcome(StatusCode::FORBIDDEN, "forbidden", message)
}

/// `GET /fhir/Encounter/{id}`: an encounter of the token's patient (or any, for a clinician
/// with a user-level scope).
pub async fn read_encounter(
    State(ehr): State<Ehr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_of_patient(&ehr, &headers, "Encounter", &id).await
}

/// A read of a resource in a patient's compartment (its `subject`), allowed by the rules of
/// [`allowed`].
pub(crate) async fn read_of_patient(
    ehr: &Ehr,
    headers: &HeaderMap,
    resource_type: &str,
    id: &str,
) -> Response {
    let (context, resource) = match readable(ehr, headers, resource_type, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let subject = reference_id(
        resource["subject"]["reference"]
            .as_str()
            .unwrap_or_default(),
    );
    if allowed(&context, resource_type, subject, 'r') {
        return fhir_json(StatusCode::OK, &resource);
    }
    outcome(
        StatusCode::FORBIDDEN,
        "forbidden",
        &format!("The token's scope does not allow reading this {resource_type}."),
    )
}

/// `GET /fhir/Practitioner/{id}`: the clinician user's own record (its `fhirUser`), or any
/// Practitioner with a user-level scope for it.
pub async fn read_practitioner(
    State(ehr): State<Ehr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (context, resource) = match readable(&ehr, &headers, "Practitioner", &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let myself = context.user == oauth::User::Practitioner
        && id == PRACTITIONER_ID
        && oauth::has_scope(&context.scope, "fhirUser");
    if myself || oauth::permits(&context.scope, "user", "Practitioner", 'r') {
        return fhir_json(StatusCode::OK, &resource);
    }
    outcome(
        StatusCode::FORBIDDEN,
        "forbidden",
        "The token's scope does not allow reading this Practitioner.",
    )
}

/// `GET /fhir/Patient?name=…&family=…&given=…&birthdate=…&gender=…&identifier=…&_count=…`:
/// a searchset Bundle, for a clinician's token with a user-level Patient scope only.
///
/// In Epic mode, as Epic's Patient.Search (R4): the minimum data set is an `identifier`
/// (`{IDType}|{ID}`, e.g. `MRN|…`, matched by `type.text`, or `{system}|{ID}`), an `_id`, or
/// `family` + `given` + `birthdate` (with `gender` optional, or required:
/// [`Ehr::set_patient_search_requires_gender`]); less is refused with 59133 and
/// more than [`Ehr::set_patient_search_limit`] matches with 4127. Unknown parameters are
/// ignored with a 4122 warning.
pub async fn search_patients(
    State(ehr): State<Ehr>,
    RawQuery(raw): RawQuery,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = injected_fhir_fault(&ehr).await {
        return response;
    }
    let Some(context) = authorized(&ehr, &headers) else {
        return invalid_token();
    };
    let system = oauth::permits(&context.scope, "system", "Patient", 's');
    if (context.user != oauth::User::Practitioner
        || !oauth::permits(&context.scope, "user", "Patient", 's'))
        && !system
    {
        return outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Searching patients needs a clinician's token with a user-level Patient scope.",
        );
    }
    let epic_mode = ehr.epic_mode();
    let mut count = 20;
    let mut offset = 0;
    let mut filters: Vec<(&str, String)> = Vec::new();
    let mut warnings: Vec<Value> = Vec::new();
    for (key, value) in &params {
        match key.as_str() {
            "name" | "family" | "given" | "birthdate" | "gender" | "identifier" | "_id" => {
                filters.push((key.as_str(), value.clone()))
            }
            "_count" => match value.parse::<usize>() {
                Ok(n) => count = n.min(MAX_COUNT),
                Err(_) => return bad_search("_count must be a whole number."),
            },
            "_offset" => match value.parse::<usize>() {
                Ok(n) => offset = n,
                Err(_) => return bad_search("_offset must be a whole number."),
            },
            other if epic_mode => warnings.push(epic::ignored_parameter(other)),
            other => {
                return bad_search(&format!(
                    "The search parameter {other} is not supported (name, family, given, \
                     birthdate, gender, identifier, _id, _count)."
                ));
            }
        }
    }
    if epic_mode {
        let has = |k: &str| filters.iter().any(|(key, _)| *key == k);
        let gender_required = ehr.patient_search_requires_gender();
        let by_name = has("family")
            && has("given")
            && has("birthdate")
            && (has("gender") || !gender_required);
        if !(has("identifier") || has("_id") || by_name) {
            let diagnostics = if gender_required {
                "Not enough search criteria: search by identifier ({IDType}|{ID}, e.g. \
                 MRN|12345), or by family name, given name, birth date and gender."
            } else {
                "Not enough search criteria: search by identifier ({IDType}|{ID}, e.g. \
                 MRN|12345), or by family name, given name and birth date (and gender)."
            };
            return epic::outcome(StatusCode::BAD_REQUEST, epic::TOO_FEW_ELEMENTS, diagnostics);
        }
    }
    let matches: Vec<Value> = ehr
        .inner
        .store
        .patient_resources()
        .map(|p| ehr.served(p))
        .filter(|p| {
            filters
                .iter()
                .all(|(k, v)| patient_matches(p, k, v, epic_mode))
        })
        .collect();
    let limit = ehr.patient_search_limit();
    if epic_mode && matches.len() > limit {
        return epic::outcome(
            StatusCode::BAD_REQUEST,
            epic::TOO_MANY_MATCHES,
            &format!(
                "The search found more than {limit} patients; add criteria (given name, birth \
                 date, gender) to narrow it."
            ),
        );
    }
    let base = ehr.fhir_base();
    let next = (count > 0 && offset + count < matches.len())
        .then(|| page_url(&base, "Patient", &params, offset + count));
    let page: Vec<Value> = matches.iter().skip(offset).take(count).cloned().collect();
    let mut bundle = searchset_value(&base, "Patient", raw.as_deref(), next, matches.len(), page);
    if epic_mode {
        epic_searchset(&mut bundle, warnings);
    }
    fhir_json(StatusCode::OK, &bundle)
}

/// A searchset as Epic writes it: `total` is the number of matches on this page, warnings and
/// (when nothing matched) a 4101 OperationOutcome are entries with `search.mode: outcome`.
pub(crate) fn epic_searchset(bundle: &mut Value, mut outcomes: Vec<Value>) {
    let entries = bundle["entry"].as_array().map(Vec::len).unwrap_or(0);
    bundle["total"] = entries.into();
    if entries == 0 {
        outcomes.push(epic::outcome_entry(
            "warning",
            epic::NO_RESULTS,
            "No resources matched the search.",
        ));
    }
    if let Some(list) = bundle["entry"].as_array_mut() {
        list.extend(outcomes);
    }
}

/// Whether `patient` matches one Patient search parameter.
fn patient_matches(patient: &Value, key: &str, value: &str, epic_mode: bool) -> bool {
    let lower = value.to_lowercase();
    let starts = |field: &Value| {
        field
            .as_str()
            .is_some_and(|f| f.to_lowercase().starts_with(&lower))
    };
    let names = || patient["name"].as_array().into_iter().flatten();
    match key {
        "name" => name_matches(patient, &lower),
        "family" => names().any(|n| starts(&n["family"])),
        "given" => names().any(|n| n["given"].as_array().into_iter().flatten().any(starts)),
        "birthdate" => {
            let wanted = value.strip_prefix("eq").unwrap_or(value);
            patient["birthDate"].as_str() == Some(wanted)
        }
        "gender" => patient["gender"].as_str() == Some(value),
        "_id" => value
            .split(',')
            .any(|id| patient["id"].as_str() == Some(id)),
        "identifier" => identifier_matches(patient, value, epic_mode),
        _ => true,
    }
}

/// The URL of the page starting at `offset` of the search `params` for `resource_type`, on
/// `base` (the FHIR base, or another one when a fault says so).
pub(crate) fn page_url(
    base: &str,
    resource_type: &str,
    params: &[(String, String)],
    offset: usize,
) -> String {
    let kept: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "_offset")
        .map(|(k, v)| format!("{}={}", pages::url_encode(k), pages::url_encode(v)))
        .chain((offset > 0).then(|| format!("_offset={offset}")))
        .collect();
    format!("{base}/{resource_type}?{}", kept.join("&"))
}

/// One page of a `searchset` Bundle: `self` is the query as received, `next` when there is
/// one, and each resource an entry with its `fullUrl` and `search.mode: match`.
pub(crate) fn searchset_value(
    base: &str,
    resource_type: &str,
    raw_query: Option<&str>,
    next: Option<String>,
    total: usize,
    page: Vec<Value>,
) -> Value {
    let self_url = match raw_query {
        Some(q) if !q.is_empty() => format!("{base}/{resource_type}?{q}"),
        _ => format!("{base}/{resource_type}"),
    };
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    links.extend(next.map(|url| json!({"relation": "next", "url": url})));
    let entries: Vec<Value> = page
        .into_iter()
        .map(|resource| {
            let id = resource["id"].as_str().unwrap_or_default();
            json!({
                "fullUrl": format!("{base}/{resource_type}/{id}"),
                "resource": resource,
                "search": {"mode": "match"},
            })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    })
}

fn bad_search(message: &str) -> Response {
    outcome(StatusCode::BAD_REQUEST, "not-supported", message)
}

/// Whether any `given`, `family`, `text` or `prefix`/`suffix` of any name contains any of the
/// comma-separated `wanted` values (already lower case).
fn name_matches(patient: &Value, wanted: &str) -> bool {
    let parts: Vec<String> = patient["name"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| {
            let lists = ["given", "prefix", "suffix"]
                .into_iter()
                .flat_map(|k| n[k].as_array().into_iter().flatten());
            let singles = [&n["family"], &n["text"]].into_iter();
            lists
                .chain(singles)
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    wanted
        .split(',')
        .filter(|w| !w.is_empty())
        .any(|w| parts.iter().any(|p| p.contains(w)))
}

/// FHIR token matching: `system|value`, `|value` (no system), `system|` or `value` (any system),
/// each of the comma-separated alternatives exact. In Epic mode, `{IDType}|{ID}` also matches
/// by the identifier's `type.text` (`MRN|…`, `EPI|…`), as Epic does; a standard server reads
/// `MRN` as a system, which no identifier has.
fn identifier_matches(patient: &Value, wanted: &str, epic_mode: bool) -> bool {
    let identifiers: Vec<&Value> = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    wanted.split(',').any(|alternative| {
        identifiers.iter().any(|i| {
            let system = i["system"].as_str();
            let value = i["value"].as_str();
            let type_text = i["type"]["text"].as_str();
            match alternative.split_once('|') {
                Some((t, v)) if epic_mode && !t.is_empty() && type_text == Some(t) => {
                    value == Some(v)
                }
                Some(("", v)) => system.is_none() && value == Some(v),
                Some((s, "")) => system == Some(s),
                Some((s, v)) => system == Some(s) && value == Some(v),
                None => value == Some(alternative),
            }
        })
    })
}

pub(crate) async fn injected_fhir_fault(ehr: &Ehr) -> Option<Response> {
    if ehr.has_fault(Fault::FhirSlow) {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if ehr.has_fault(Fault::FhirTooManyRequests) {
        let mut sessions = ehr.sessions();
        if sessions.throttled < 2 {
            sessions.throttled += 1;
            drop(sessions);
            let mut r = outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many requests: try again in a second.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Some(r);
        }
    }
    if ehr.has_fault(Fault::FhirUnauthorized) {
        return Some(outcome(
            StatusCode::UNAUTHORIZED,
            "login",
            "The token has expired.",
        ));
    }
    if ehr.has_fault(Fault::FhirForbidden) {
        return Some(outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not permitted.",
        ));
    }
    if ehr.has_fault(Fault::FhirServerError) {
        return Some(outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "<script>alert(1)</script> database unavailable",
        ));
    }
    if ehr.has_fault(Fault::FhirMalformed) {
        return Some(
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/fhir+json"),
                )],
                "{\"resourceType\": \"Patient\", \"id\": ",
            )
                .into_response(),
        );
    }
    None
}

pub(crate) fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    fhir_json(
        status,
        &json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]
        }),
    )
}

pub(crate) fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json"),
        )],
        body.to_string(),
    )
        .into_response()
}
