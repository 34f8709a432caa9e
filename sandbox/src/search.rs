//! FHIR search for the chart: `GET /fhir/Encounter?patient=…` and
//! `GET /fhir/Observation?patient=…&category=…` (searchset Bundles paged with `_offset`), the
//! Observation read, and the paging faults. In Epic mode: unknown parameters ignored with a
//! 4122 warning, categories checked (59111, 403), `total` the page size, 4101 when empty, and
//! `sessionID` next links that expire (4113).

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::fhir::{
    allowed, authorized, epic_searchset, fhir_json, injected_fhir_fault, invalid_token, outcome,
    page_url, read_of_patient, reference_id, searchset_value,
};
use crate::generated::days_from_civil;
use crate::{Ehr, Fault, epic, random_token};

/// Entries on a page when `_count` is not given.
const DEFAULT_COUNT: usize = 50;
/// The most entries one page holds.
const MAX_COUNT: usize = 200;
/// Where [`Fault::FhirNextLinkForeignOrigin`] sends the `next` link.
const FOREIGN_FHIR_BASE: &str = "http://127.0.0.1:1/fhir";

/// `GET /fhir/Encounter?patient=…&date=…&status=…&_count=…&_sort=…&_offset=…`
pub async fn search_encounters(
    State(ehr): State<Ehr>,
    RawQuery(raw): RawQuery,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    search(&ehr, "Encounter", raw, &params, &headers).await
}

/// `GET /fhir/Observation?patient=…&category=…&code=…&encounter=…&date=…&_count=…&_sort=…`
pub async fn search_observations(
    State(ehr): State<Ehr>,
    RawQuery(raw): RawQuery,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    search(&ehr, "Observation", raw, &params, &headers).await
}

/// `GET /fhir/Observation/{id}`: an observation of the token's patient (or any, for a
/// clinician with a user-level scope).
pub async fn read_observation(
    State(ehr): State<Ehr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_of_patient(&ehr, &headers, "Observation", &id).await
}

/// A FHIR date search prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
}

/// One `date` parameter: a prefix and the range its (possibly partial) value stands for.
struct DateFilter {
    prefix: Prefix,
    range: (i64, i64),
}

impl DateFilter {
    fn parse(value: &str) -> Option<DateFilter> {
        // A `+` of a time zone offset arrives as a space when the client did not encode it.
        let value = value.replace(' ', "+");
        let prefixes = [
            ("eq", Prefix::Eq),
            ("ne", Prefix::Ne),
            ("gt", Prefix::Gt),
            ("lt", Prefix::Lt),
            ("ge", Prefix::Ge),
            ("le", Prefix::Le),
            ("sa", Prefix::Sa),
            ("eb", Prefix::Eb),
        ];
        let (prefix, rest) = prefixes
            .iter()
            .find_map(|(p, prefix)| value.strip_prefix(p).map(|rest| (*prefix, rest)))
            .unwrap_or((Prefix::Eq, value.as_str()));
        Some(DateFilter {
            prefix,
            range: date_range(rest)?,
        })
    }

    /// FHIR's rules (R4 §3.1.1.4.2.1), with both values as half-open ranges of seconds.
    fn matches(&self, (lo, hi): (i64, i64)) -> bool {
        let (p_lo, p_hi) = self.range;
        let eq = lo >= p_lo && hi <= p_hi;
        match self.prefix {
            Prefix::Eq => eq,
            Prefix::Ne => !eq,
            Prefix::Gt => hi > p_hi,
            Prefix::Lt => lo < p_lo,
            Prefix::Ge => eq || hi > p_hi,
            Prefix::Le => eq || lo < p_lo,
            Prefix::Sa => lo >= p_hi,
            Prefix::Eb => hi <= p_lo,
        }
    }
}

/// The range of seconds since 1970 (UTC) a FHIR `date`, `dateTime` or `instant` stands for:
/// `2020` is all of 2020, `2020-05-01T10:00:00+02:00` is one second. A time without an offset
/// is taken as UTC.
fn date_range(value: &str) -> Option<(i64, i64)> {
    let digits = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let (date, time) = match value.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let year = digits(parts.first()?, 4)?;
    let month = parts.get(1).map(|m| digits(m, 2)).unwrap_or(Some(1))?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let day_of = |y: i64, m: i64, d: i64| days_from_civil(y, m, d) * 86_400;
    match (parts.len(), time) {
        (1, None) => return Some((day_of(year, 1, 1), day_of(year + 1, 1, 1))),
        (2, None) => {
            let next = if month == 12 {
                day_of(year + 1, 1, 1)
            } else {
                day_of(year, month + 1, 1)
            };
            return Some((day_of(year, month, 1), next));
        }
        (3, _) => {}
        _ => return None,
    }
    let day = digits(parts[2], 2)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let start = day_of(year, month, day);
    let Some(time) = time else {
        return Some((start, start + 86_400));
    };
    let (clock, offset) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (clock, sign * (digits(h, 2)? * 3600 + digits(m, 2)? * 60))
    } else {
        (time, 0)
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let hour = digits(fields.first()?, 2)?;
    let minute = digits(fields.get(1)?, 2)?;
    let (second, width) = match fields.get(2) {
        Some(s) => (digits(s.split('.').next()?, 2)?, 1),
        None => (0, 60),
    };
    if fields.len() > 3 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let lo = start + hour * 3600 + minute * 60 + second - offset;
    Some((lo, lo + width))
}

/// The date a search's `date` parameter and `_sort=date` look at.
fn resource_date(resource_type: &str, resource: &Value) -> Option<(i64, i64)> {
    let value = if resource_type == "Encounter" {
        resource["period"]["start"].as_str()
    } else {
        resource["effectiveDateTime"]
            .as_str()
            .or(resource["effectivePeriod"]["start"].as_str())
            .or(resource["issued"].as_str())
    }?;
    date_range(value)
}

/// FHIR token matching of comma-separated alternatives (`system|code`, `|code`, `system|`,
/// `code`) against codings.
fn token_matches<'a>(codings: impl Iterator<Item = &'a Value> + Clone, wanted: &str) -> bool {
    wanted.split(',').any(|alternative| {
        codings.clone().any(|c| {
            let system = c["system"].as_str();
            let code = c["code"].as_str();
            match alternative.split_once('|') {
                Some(("", v)) => system.is_none() && code == Some(v),
                Some((s, "")) => system == Some(s),
                Some((s, v)) => system == Some(s) && code == Some(v),
                None => code == Some(alternative),
            }
        })
    })
}

/// One parsed search.
struct Criteria {
    patient: Option<String>,
    dates: Vec<DateFilter>,
    statuses: Vec<String>,
    categories: Vec<String>,
    codes: Vec<String>,
    encounters: Vec<String>,
    count: usize,
    offset: usize,
    newest_first: bool,
}

/// Why a search is refused with 400: an OperationOutcome issue code and a message.
type Refusal = (&'static str, String);

fn unsupported(message: &str) -> Refusal {
    ("not-supported", message.to_owned())
}

/// What the search asks, and (Epic mode) the warnings for what it ignores.
struct Parsed {
    criteria: Criteria,
    warnings: Vec<Value>,
}

/// Parses a search. In Epic mode unknown parameters are ignored with a 4122 warning; with
/// `ignore_encounter` ([`Fault::ObservationEncounterIgnored`]) so is `encounter`.
fn parse(
    resource_type: &str,
    params: &[(String, String)],
    epic_mode: bool,
    ignore_encounter: bool,
) -> Result<Parsed, Refusal> {
    let mut warnings = Vec::new();
    let mut ignored = |name: &str| warnings.push(epic::ignored_parameter(name));
    let supported = if resource_type == "Encounter" {
        "patient, date, status, _count, _sort"
    } else {
        "patient, category, code, encounter, date, _count, _sort"
    };
    let mut c = Criteria {
        patient: None,
        dates: Vec::new(),
        statuses: Vec::new(),
        categories: Vec::new(),
        codes: Vec::new(),
        encounters: Vec::new(),
        count: DEFAULT_COUNT,
        offset: 0,
        newest_first: true,
    };
    let observation = resource_type == "Observation";
    for (key, value) in params {
        if value.is_empty() {
            return Err(unsupported(&format!(
                "The search parameter {key} has no value."
            )));
        }
        match key.as_str() {
            "patient" => {
                let id = value.strip_prefix("Patient/").unwrap_or(value);
                if c.patient.as_deref().is_some_and(|p| p != id) {
                    return Err(unsupported("Only one patient can be searched at a time."));
                }
                c.patient = Some(id.to_owned());
            }
            "date" => match DateFilter::parse(value) {
                Some(filter) => c.dates.push(filter),
                None => {
                    return Err(unsupported(&format!(
                        "date must be a FHIR date with an optional prefix (ge, le, gt, lt, eq, \
                         ne, sa, eb), e.g. ge2020-05; not {value}."
                    )));
                }
            },
            "status" if !observation => c.statuses.push(value.clone()),
            "category" if observation => c.categories.push(value.clone()),
            "code" if observation => c.codes.push(value.clone()),
            "encounter" if observation && ignore_encounter => ignored(key),
            "encounter" if observation => c.encounters.push(value.clone()),
            "_count" => match value.parse::<usize>() {
                Ok(n) => c.count = n.min(MAX_COUNT),
                Err(_) => return Err(unsupported("_count must be a whole number.")),
            },
            "_offset" => match value.parse::<usize>() {
                Ok(n) => c.offset = n,
                Err(_) => return Err(unsupported("_offset must be a whole number.")),
            },
            "_sort" => match value.as_str() {
                "date" => c.newest_first = false,
                "-date" => c.newest_first = true,
                _ => return Err(unsupported("_sort must be date or -date.")),
            },
            other if epic_mode => ignored(other),
            other => {
                return Err(unsupported(&format!(
                    "The {resource_type} search parameter {other} is not supported \
                     ({supported})."
                )));
            }
        }
    }
    if c.patient.is_none() {
        return Err((
            "required",
            format!("{resource_type} search needs the patient parameter."),
        ));
    }
    if observation && c.categories.is_empty() && c.codes.is_empty() {
        return Err((
            "required",
            "Observation search needs a category or code parameter as well as patient \
             (e.g. category=vital-signs or category=laboratory)."
                .to_owned(),
        ));
    }
    Ok(Parsed {
        criteria: c,
        warnings,
    })
}

impl Criteria {
    fn matches(&self, resource_type: &str, resource: &Value) -> bool {
        if !self.dates.is_empty() {
            let Some(range) = resource_date(resource_type, resource) else {
                return false;
            };
            if !self.dates.iter().all(|d| d.matches(range)) {
                return false;
            }
        }
        let status = resource["status"].as_str().unwrap_or_default();
        if !self
            .statuses
            .iter()
            .all(|wanted| wanted.split(',').any(|s| s == status))
        {
            return false;
        }
        let categories = resource["category"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["coding"].as_array().into_iter().flatten());
        if !self
            .categories
            .iter()
            .all(|wanted| token_matches(categories.clone(), wanted))
        {
            return false;
        }
        let codes = resource["code"]["coding"].as_array().into_iter().flatten();
        if !self
            .codes
            .iter()
            .all(|wanted| token_matches(codes.clone(), wanted))
        {
            return false;
        }
        let encounter = reference_id(
            resource["encounter"]["reference"]
                .as_str()
                .unwrap_or_default(),
        );
        self.encounters.iter().all(|wanted| {
            wanted
                .split(',')
                .any(|w| !encounter.is_empty() && reference_id(w) == encounter)
        })
    }
}

/// A matching resource with its date range (for sorting) and id.
type Match<'a> = (Option<(i64, i64)>, &'a str, &'a Value);

/// The code of a category token (`system|code` or `code`).
fn category_code(token: &str) -> &str {
    token.rsplit('|').next().unwrap_or(token)
}

/// The parameters of the search behind an Epic `sessionID` (404 when there is none, 400 with
/// 4113 when it has expired).
fn resume(
    ehr: &Ehr,
    resource_type: &str,
    id: &str,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let lifetime = ehr.paging_session_lifetime();
    let mut sessions = ehr.sessions();
    let expired = match sessions.paging_sessions.get(id) {
        Some(s) if s.resource_type == resource_type => {
            s.born_expired || s.created.elapsed() >= lifetime
        }
        _ => {
            return Err(Box::new(epic::outcome(
                StatusCode::NOT_FOUND,
                epic::SESSION_EXPIRED,
                "No search session has this sessionID: start the search again.",
            )));
        }
    };
    if expired {
        sessions.paging_sessions.remove(id);
        return Err(Box::new(epic::outcome(
            StatusCode::BAD_REQUEST,
            epic::SESSION_EXPIRED,
            "The search session has expired: start the search again.",
        )));
    }
    Ok(sessions.paging_sessions[id].params.clone())
}

/// An Epic next link, `{base}/{resource_type}?sessionID=…`, to the page at `offset` of the
/// search `params`. `first`: the link of a search's first page.
fn session_link(
    ehr: &Ehr,
    base: &str,
    resource_type: &str,
    params: &[(String, String)],
    offset: usize,
    first: bool,
) -> String {
    let mut kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "_offset")
        .cloned()
        .collect();
    let key = format!(
        "{resource_type}?{}",
        kept.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    kept.push(("_offset".to_owned(), offset.to_string()));
    let id = random_token("16-");
    // Sessions long dead are forgotten (an expired one still answers 4113 for a while).
    let forget_after = ehr.paging_session_lifetime() + std::time::Duration::from_secs(600);
    let mut sessions = ehr.sessions();
    sessions
        .paging_sessions
        .retain(|_, s| s.created.elapsed() < forget_after);
    let born_expired = first
        && ehr.has_fault(Fault::EpicPagingSessionExpired)
        && sessions.expired_searches.insert(key);
    sessions.paging_sessions.insert(
        id.clone(),
        epic::PagingSession {
            resource_type: resource_type.to_owned(),
            params: kept,
            created: std::time::Instant::now(),
            born_expired,
        },
    );
    format!("{base}/{resource_type}?sessionID={id}")
}

/// Refuses an Observation search for categories that are refused: by
/// [`Fault::ObservationCategoryRefused`] (`social-history`, 59111), and in Epic mode an unknown
/// category (59111) or one whose APIs are not registered for the app (403).
fn refused_category(ehr: &Ehr, criteria: &Criteria) -> Option<Response> {
    let epic_mode = ehr.epic_mode();
    let registered = ehr.registered_apis();
    let codes = criteria
        .categories
        .iter()
        .flat_map(|c| c.split(','))
        .map(category_code);
    for code in codes {
        let refused = ehr.has_fault(Fault::ObservationCategoryRefused) && code == "social-history";
        if refused || (epic_mode && !epic::KNOWN_CATEGORIES.contains(&code)) {
            return Some(epic::outcome(
                StatusCode::BAD_REQUEST,
                epic::INVALID_CATEGORY,
                &format!("The category {code} is not a valid Observation category."),
            ));
        }
        if epic_mode && !epic::category_registered(&registered, code) {
            return Some(epic::outcome(
                StatusCode::FORBIDDEN,
                epic::NOT_AUTHORIZED,
                &format!("The app is not authorized for the Observation APIs of category {code}."),
            ));
        }
    }
    None
}

/// The size of [`Fault::ObservationHugeBody`]'s body: 24 MiB of spaces.
const HUGE_BODY_BYTES: usize = 24 * 1024 * 1024;
/// The pieces the faults' bodies are sent in.
static SPACES: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// An answer larger than any client should read: [`Fault::ObservationHugeBody`] and
/// [`Fault::ObservationEndlessBody`].
fn oversized_body(ehr: &Ehr) -> Option<Response> {
    let spaces = || Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(&SPACES));
    let mut response = if ehr.has_fault(Fault::ObservationHugeBody) {
        // Declared whole, sent slowly (a piece every 100 ms, about 40 s in all): a client that
        // trusts the length refuses at once; one that only counts would read for over 30 s.
        let pieces = HUGE_BODY_BYTES / SPACES.len();
        let slow = futures_util::stream::unfold(0, move |sent| async move {
            if sent == pieces {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Some((spaces(), sent + 1))
        });
        let mut response = axum::body::Body::from_stream(slow).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(HUGE_BODY_BYTES));
        response
    } else if ehr.has_fault(Fault::ObservationEndlessBody) {
        // No `Content-Length`: chunked, as fast as the client reads.
        let endless = futures_util::stream::iter(std::iter::repeat_with(spaces));
        axum::body::Body::from_stream(endless).into_response()
    } else {
        return None;
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    Some(response)
}

async fn search(
    ehr: &Ehr,
    resource_type: &str,
    raw: Option<String>,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Response {
    if let Some(response) = injected_fhir_fault(ehr).await {
        return response;
    }
    let Some(context) = authorized(ehr, headers) else {
        return invalid_token();
    };
    if resource_type == "Observation"
        && let Some(response) = oversized_body(ehr)
    {
        return response;
    }
    let epic_mode = ehr.epic_mode();
    let session = params
        .iter()
        .find(|(k, _)| k == "sessionID")
        .filter(|_| epic_mode);
    let resumed;
    let params: &[(String, String)] = match session {
        Some((_, id)) => match resume(ehr, resource_type, id) {
            Ok(p) => {
                resumed = p;
                &resumed
            }
            Err(response) => return *response,
        },
        None => params,
    };
    let ignore_encounter = ehr.has_fault(Fault::ObservationEncounterIgnored);
    let Parsed { criteria, warnings } =
        match parse(resource_type, params, epic_mode, ignore_encounter) {
            Ok(p) => p,
            Err(("required", message)) if epic_mode => {
                return epic::outcome(
                    StatusCode::BAD_REQUEST,
                    epic::REQUIRED_PARAMETER_MISSING,
                    &message,
                );
            }
            Err((code, message)) => return outcome(StatusCode::BAD_REQUEST, code, &message),
        };
    if let Some(response) = refused_category(ehr, &criteria) {
        return response;
    }
    let patient = criteria.patient.as_deref().unwrap_or_default();
    if !allowed(&context, resource_type, patient, 's') {
        let message = match &context.patient {
            Some(p) if p != patient => "This token is for another patient.".to_owned(),
            _ => format!("The token's scope does not allow searching {resource_type}."),
        };
        return outcome(StatusCode::FORBIDDEN, "forbidden", &message);
    }
    let store = &ehr.inner.store;
    let mut rows = store.compartment(resource_type, patient);
    if ehr.has_fault(Fault::FhirLeakOtherPatient) {
        let patients = store.patients();
        if let Some(at) = patients.iter().position(|p| p.id == patient) {
            let other = &patients[(at + 1) % patients.len()].id;
            if other != patient {
                rows.extend(store.compartment(resource_type, other));
            }
        }
    }
    let mut matches: Vec<Match> = rows
        .into_iter()
        .filter(|r| criteria.matches(resource_type, r))
        .map(|r| {
            (
                resource_date(resource_type, r),
                r["id"].as_str().unwrap_or_default(),
                r,
            )
        })
        .collect();
    // By date (then id), those without a date last whichever the order.
    matches.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) if criteria.newest_first => y.0.cmp(&x.0).then(b.1.cmp(a.1)),
        (Some(x), Some(y)) => x.0.cmp(&y.0).then(a.1.cmp(b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(b.1),
    });
    let (count, offset) = (criteria.count, criteria.offset);
    let page = |n: usize| count > 0 && offset == (n - 1) * count;
    if ehr.has_fault(Fault::FhirFailOnPage3) && page(3) {
        let mut sessions = ehr.sessions();
        if !sessions.page_3_failed {
            sessions.page_3_failed = true;
            return outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "Page 3 is unavailable right now; try again.",
            );
        }
    }
    if ehr.has_fault(Fault::FhirSearchBusy)
        && page(2)
        && ehr.sessions().busy_pages.insert(format!(
            "{resource_type}?{}",
            raw.as_deref().unwrap_or_default()
        ))
    {
        let mut r = outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            "The server is busy: try again in a second.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let base = ehr.fhir_base();
    let next = (count > 0 && offset + count < matches.len()).then(|| {
        let (base, offset) = if ehr.has_fault(Fault::FhirNextLinkSelf) {
            (base.as_str(), offset)
        } else if ehr.has_fault(Fault::FhirNextLinkCycle) && page(2) {
            (base.as_str(), 0)
        } else if ehr.has_fault(Fault::FhirNextLinkForeignOrigin) {
            (FOREIGN_FHIR_BASE, offset + count)
        } else {
            (base.as_str(), offset + count)
        };
        if epic_mode {
            session_link(ehr, base, resource_type, params, offset, session.is_none())
        } else {
            page_url(base, resource_type, params, offset)
        }
    });
    let from = if ehr.has_fault(Fault::FhirDuplicatePages) && page(2) {
        0
    } else {
        offset
    };
    let entries: Vec<Value> = matches
        .iter()
        .skip(from)
        .take(count)
        .map(|(_, _, r)| ehr.served(r))
        .collect();
    let mut bundle = searchset_value(
        &base,
        resource_type,
        raw.as_deref(),
        next,
        matches.len(),
        entries,
    );
    if epic_mode {
        epic_searchset(&mut bundle, warnings);
    } else if let Some(list) = bundle["entry"].as_array_mut() {
        // Only [`Fault::ObservationEncounterIgnored`] warns outside Epic mode.
        list.extend(warnings);
    }
    fhir_json(StatusCode::OK, &bundle)
}
