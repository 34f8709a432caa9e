//! FHIR search for the chart: `GET /fhir/Encounter?patient=…` and
//! `GET /fhir/Observation?patient=…&category=…` (searchset Bundles paged with `_offset`), the
//! Observation read, and the paging faults.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::fhir::{
    allowed, authorized, injected_fhir_fault, invalid_token, outcome, page_url, read_of_patient,
    reference_id, searchset,
};
use crate::generated::days_from_civil;
use crate::{Ehr, Fault};

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

fn parse(resource_type: &str, params: &[(String, String)]) -> Result<Criteria, Refusal> {
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
    Ok(c)
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
    let criteria = match parse(resource_type, params) {
        Ok(c) => c,
        Err((code, message)) => return outcome(StatusCode::BAD_REQUEST, code, &message),
    };
    let patient = criteria.patient.as_deref().unwrap_or_default();
    if !allowed(&context, resource_type, patient, 's') {
        let message = match &context.patient {
            Some(p) if p != patient => "This token is for another patient.".to_owned(),
            _ => format!("The token's scope does not allow searching {resource_type}."),
        };
        return outcome(StatusCode::FORBIDDEN, "forbidden", &message);
    }
    let mut matches: Vec<Match> = ehr
        .inner
        .store
        .compartment(resource_type, patient)
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
        page_url(base, resource_type, params, offset)
    });
    let from = if ehr.has_fault(Fault::FhirDuplicatePages) && page(2) {
        0
    } else {
        offset
    };
    let entries = matches
        .iter()
        .skip(from)
        .take(count)
        .map(|(_, id, r)| (*id, *r));
    searchset(
        &base,
        resource_type,
        raw.as_deref(),
        next,
        matches.len(),
        entries,
    )
}
