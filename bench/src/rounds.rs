//! Sequential round trips, from the development EHR's request log: an exchange's depth is one
//! more than the deepest exchange answered before it arrived. Exchanges in parallel share a
//! depth; one that had to wait for another's answer (a `next` page, a request behind a CORS
//! preflight, anything after the token) is one deeper. This is the critical path in round
//! trips, not a count of requests.
//!
//! Every FHIR read carries `Authorization`, so the browser sends a CORS preflight (`OPTIONS`)
//! before each new URL and the read waits for it. Counted "without preflights", a read and its
//! preflight are one exchange, from the preflight's arrival to the read's answer: the round
//! trips the app's own logic asks for.

/// One request as the EHR saw it, times in milliseconds on the EHR's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub received: f64,
    pub answered: f64,
}

impl Exchange {
    pub fn is_preflight(&self) -> bool {
        self.method == "OPTIONS"
    }

    fn is_get(&self, prefix: &str) -> bool {
        self.method == "GET" && self.path.starts_with(prefix)
    }

    /// The first page of a search (later pages carry `_offset`).
    fn is_first_page(&self, resource_type: &str) -> bool {
        self.is_get(&format!("/fhir/{resource_type}?")) && !self.path.contains("_offset=")
    }
}

/// The exchanges after the callback: from the answer to the last authorize request on (the
/// redirect that loads the app's callback page).
pub fn after_callback(log: &[Exchange]) -> Vec<Exchange> {
    let Some(callback) = log
        .iter()
        .filter(|e| e.path.starts_with("/oauth2/authorize"))
        .map(|e| e.answered)
        .reduce(f64::max)
    else {
        return Vec::new();
    };
    log.iter()
        .filter(|e| e.received >= callback)
        .cloned()
        .collect()
}

/// Each exchange's depth.
pub fn depths(exchanges: &[Exchange]) -> Vec<u32> {
    let mut order: Vec<usize> = (0..exchanges.len()).collect();
    order.sort_by(|&a, &b| exchanges[a].received.total_cmp(&exchanges[b].received));
    let mut depth: Vec<Option<u32>> = vec![None; exchanges.len()];
    for &i in &order {
        let before = exchanges
            .iter()
            .zip(&depth)
            .filter(|(q, _)| q.answered <= exchanges[i].received)
            .filter_map(|(_, d)| *d)
            .max()
            .unwrap_or(0);
        depth[i] = Some(before + 1);
    }
    depth.into_iter().map(|d| d.unwrap_or(1)).collect()
}

/// Each preflight folded into the request it cleared (the next one to the same path after its
/// answer), which then counts from the preflight's arrival.
pub fn without_preflights(exchanges: &[Exchange]) -> Vec<Exchange> {
    let mut out: Vec<Exchange> = exchanges
        .iter()
        .filter(|e| !e.is_preflight())
        .cloned()
        .collect();
    let mut cleared = vec![false; out.len()];
    for preflight in exchanges.iter().filter(|e| e.is_preflight()) {
        let request = out
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                !cleared[*i] && e.path == preflight.path && e.received >= preflight.answered
            })
            .min_by(|a, b| a.1.received.total_cmp(&b.1.received))
            .map(|(i, _)| i);
        if let Some(i) = request {
            cleared[i] = true;
            out[i].received = preflight.received;
        }
    }
    out
}

/// Where the chart's requests stand on the critical path after the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundTrips {
    /// The code exchange.
    pub token: Option<u32>,
    /// The Patient read (the banner's data).
    pub banner: Option<u32>,
    /// The earliest first page of an Observation search.
    pub first_observations: Option<u32>,
    /// The last of the Patient read and every search's first page.
    pub first_data: Option<u32>,
    /// Every exchange after the callback (the last page of the longest search).
    pub all: Option<u32>,
}

pub fn round_trips(after_callback: &[Exchange], patient_id: &str, preflights: bool) -> RoundTrips {
    let exchanges = if preflights {
        after_callback.to_vec()
    } else {
        without_preflights(after_callback)
    };
    let depth = depths(&exchanges);
    let of = |keep: &dyn Fn(&Exchange) -> bool| -> Vec<u32> {
        exchanges
            .iter()
            .zip(&depth)
            .filter(|(e, _)| keep(e))
            .map(|(_, d)| *d)
            .collect()
    };
    let patient = format!("/fhir/Patient/{patient_id}");
    let first_data = |e: &Exchange| {
        e.is_get(&patient) || e.is_first_page("Observation") || e.is_first_page("Encounter")
    };
    RoundTrips {
        token: of(&|e| e.method == "POST" && e.path == "/oauth2/token")
            .into_iter()
            .min(),
        banner: of(&|e| e.is_get(&patient)).into_iter().min(),
        first_observations: of(&|e| e.is_first_page("Observation")).into_iter().min(),
        first_data: of(&first_data).into_iter().max(),
        all: of(&|_| true).into_iter().max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(method: &str, path: &str, received: f64, answered: f64) -> Exchange {
        Exchange {
            method: method.into(),
            path: path.into(),
            received,
            answered,
        }
    }

    fn chart_log() -> Vec<Exchange> {
        vec![
            x("GET", "/fhir/.well-known/smart-configuration", 0.0, 50.0),
            x("GET", "/oauth2/authorize?client_id=c", 60.0, 110.0),
            // The callback page loads from the app's own origin, then:
            x("POST", "/oauth2/token", 300.0, 350.0),
            x("GET", "/oauth2/jwks", 352.0, 402.0),
            x("OPTIONS", "/fhir/Patient/p1", 352.0, 402.0),
            x(
                "OPTIONS",
                "/fhir/Observation?patient=p1&category=vital-signs",
                353.0,
                403.0,
            ),
            x("GET", "/fhir/Patient/p1", 404.0, 455.0),
            x(
                "GET",
                "/fhir/Observation?patient=p1&category=vital-signs",
                405.0,
                470.0,
            ),
            x(
                "OPTIONS",
                "/fhir/Observation?patient=p1&_offset=200",
                472.0,
                522.0,
            ),
            x(
                "GET",
                "/fhir/Observation?patient=p1&_offset=200",
                523.0,
                580.0,
            ),
        ]
    }

    #[test]
    fn only_what_follows_the_authorize_redirect_counts() {
        let after = after_callback(&chart_log());
        assert_eq!(after.len(), 8);
        assert_eq!(after[0].path, "/oauth2/token");
        assert!(after_callback(&chart_log()[..1]).is_empty());
    }

    #[test]
    fn parallel_requests_share_a_round_trip_and_waits_add_one() {
        let after = after_callback(&chart_log());
        assert_eq!(
            round_trips(&after, "p1", true),
            RoundTrips {
                token: Some(1),
                banner: Some(3),
                first_observations: Some(3),
                first_data: Some(3),
                all: Some(5),
            }
        );
        // Without the CORS preflights, the app's own waits remain.
        assert_eq!(
            round_trips(&after, "p1", false),
            RoundTrips {
                token: Some(1),
                banner: Some(2),
                first_observations: Some(2),
                first_data: Some(2),
                all: Some(3),
            }
        );
    }

    #[test]
    fn a_read_counts_from_its_preflight_not_from_what_ended_meanwhile() {
        let log = vec![
            x("GET", "/oauth2/authorize", 0.0, 10.0),
            x("POST", "/oauth2/token", 20.0, 70.0),
            x("GET", "/oauth2/jwks", 72.0, 110.0),
            x("OPTIONS", "/fhir/Patient/p1", 72.0, 125.0),
            x("GET", "/fhir/Patient/p1", 126.0, 180.0),
        ];
        let after = after_callback(&log);
        let merged = without_preflights(&after);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[2].received, 72.0);
        let trips = round_trips(&after, "p1", false);
        assert_eq!(trips.banner, Some(2));
        assert_eq!(round_trips(&after, "p1", true).banner, Some(3));
    }

    #[test]
    fn a_request_that_waits_for_the_banner_is_a_round_trip_later() {
        let mut log = chart_log();
        // The encounter search starts only once the Patient read has come back.
        log.push(x("GET", "/fhir/Encounter?patient=p1", 460.0, 510.0));
        let trips = round_trips(&after_callback(&log), "p1", false);
        assert_eq!(trips.banner, Some(2));
        assert_eq!(trips.first_data, Some(3));
    }
}
