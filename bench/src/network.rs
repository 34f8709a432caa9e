//! What one launch moved over the network, from ChromeDriver's performance log (the DevTools
//! `Network` events of the tab and its same-process frames): per request its URL, whether it
//! came from the cache, the bytes received (`encodedDataLength`: headers and compressed body,
//! as on the wire), when its headers and its last byte arrived.
//!
//! And the profiles the bench emulates (`Network.emulateNetworkConditions`), with the check that
//! an emulation really applied: no response may beat the emulated link.

use std::collections::HashMap;

use serde_json::Value;

/// A network profile, emulated by Chromium for the tab (and its frames).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    /// Added to every response, ms (`latency`).
    pub latency_ms: f64,
    /// Download and upload, bits per second; `None` for no limit.
    pub down_bps: Option<f64>,
    pub up_bps: Option<f64>,
}

pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "loopback",
        latency_ms: 0.0,
        down_bps: None,
        up_bps: None,
    },
    Profile {
        name: "50ms",
        latency_ms: 50.0,
        down_bps: None,
        up_bps: None,
    },
    Profile {
        name: "phone",
        latency_ms: 150.0,
        down_bps: Some(1_600_000.0),
        up_bps: Some(750_000.0),
    },
];

impl Profile {
    pub fn by_name(name: &str) -> Option<Profile> {
        PROFILES.into_iter().find(|p| p.name == name)
    }

    pub fn emulated(&self) -> bool {
        self.latency_ms > 0.0 || self.down_bps.is_some() || self.up_bps.is_some()
    }

    /// The parameters of `Network.emulateNetworkConditions` (throughputs in bytes per second,
    /// -1 for none).
    pub fn conditions(&self) -> Value {
        let bytes = |bps: Option<f64>| bps.map_or(-1.0, |b| b / 8.0);
        serde_json::json!({
            "offline": false,
            "latency": self.latency_ms,
            "downloadThroughput": bytes(self.down_bps),
            "uploadThroughput": bytes(self.up_bps),
        })
    }

    pub fn describe(&self) -> String {
        let rate =
            |bps: Option<f64>| bps.map_or("no limit".into(), |b| format!("{} kbit/s", b / 1000.0));
        format!(
            "{}: {} ms latency, down {}, up {}",
            self.name,
            self.latency_ms,
            rate(self.down_bps),
            rate(self.up_bps)
        )
    }
}

/// One request of a launch, as the browser saw it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub url: String,
    pub method: String,
    /// DevTools' resource type (`Document`, `Script`, `Fetch`, `Preflight`, `Other`…).
    pub kind: String,
    pub status: u64,
    /// Served from the HTTP cache (memory or disk, prefetched included): nothing moved.
    pub from_cache: bool,
    /// Bytes received for it, redirects included.
    pub bytes: u64,
    /// Bytes received so far (`dataReceived`), for a request that failed or was cancelled.
    pub chunks: u64,
    /// Seconds (DevTools' monotonic clock): sent, headers in, last byte in.
    pub sent: Option<f64>,
    pub headers_in: Option<f64>,
    pub finished: Option<f64>,
    pub failed: bool,
}

impl Request {
    /// Over the network, answered (not from the cache, not failed).
    pub fn moved(&self) -> bool {
        !self.from_cache && !self.failed && self.status > 0
    }

    /// ms from the request to its response's headers (after any redirects).
    pub fn wait_ms(&self) -> Option<f64> {
        Some((self.headers_in? - self.sent?) * 1000.0)
    }

    /// ms from the request to its last byte. (Not from the headers: DevTools may report a
    /// response's headers after its last byte for a small file.)
    pub fn total_ms(&self) -> Option<f64> {
        Some((self.finished? - self.sent?) * 1000.0)
    }
}

/// Folds performance-log entries (ChromeDriver's `se/log` answers) into requests, in the
/// order they were first sent. Requests still unfinished are kept (`finished: None`).
pub fn requests(entries: &[Value]) -> Vec<Request> {
    let mut by_id: HashMap<String, Request> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for entry in entries {
        let Some(message) = entry["message"]
            .as_str()
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
        else {
            continue;
        };
        let method = message["message"]["method"].as_str().unwrap_or_default();
        let params = &message["message"]["params"];
        let Some(id) = params["requestId"].as_str() else {
            continue;
        };
        if !by_id.contains_key(id) {
            if method != "Network.requestWillBeSent" {
                continue;
            }
            order.push(id.to_owned());
        }
        let r = by_id.entry(id.to_owned()).or_default();
        match method {
            "Network.requestWillBeSent" => {
                if let Some(redirect) = params["redirectResponse"].as_object() {
                    r.bytes += redirect
                        .get("encodedDataLength")
                        .and_then(Value::as_u64)
                        .unwrap_or_default();
                }
                r.url = params["request"]["url"].as_str().unwrap_or_default().into();
                r.method = params["request"]["method"]
                    .as_str()
                    .unwrap_or_default()
                    .into();
                r.kind = params["type"].as_str().unwrap_or_default().into();
                if r.sent.is_none() {
                    r.sent = params["timestamp"].as_f64();
                }
            }
            "Network.responseReceived" => {
                let response = &params["response"];
                r.status = response["status"].as_u64().unwrap_or_default();
                r.from_cache |= response["fromDiskCache"].as_bool() == Some(true)
                    || response["fromPrefetchCache"].as_bool() == Some(true)
                    || response["fromServiceWorker"].as_bool() == Some(true);
                r.headers_in = params["timestamp"].as_f64();
                if let Some(kind) = params["type"].as_str() {
                    r.kind = kind.into();
                }
            }
            "Network.requestServedFromCache" => r.from_cache = true,
            "Network.dataReceived" => {
                r.chunks += params["encodedDataLength"].as_u64().unwrap_or_default();
            }
            "Network.loadingFinished" => {
                r.bytes += params["encodedDataLength"].as_u64().unwrap_or_default();
                r.finished = params["timestamp"].as_f64();
            }
            "Network.loadingFailed" => {
                // What arrived before it was cancelled moved all the same.
                r.bytes += r.chunks;
                r.failed = true;
                r.finished = params["timestamp"].as_f64();
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect()
}

/// Every request has finished (or failed).
pub fn settled(requests: &[Request]) -> bool {
    requests.iter().all(|r| r.finished.is_some())
}

/// Bytes one launch moved, by where they came from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bytes {
    /// Everything the tab received: the EHR's page, the app, its EHR requests.
    pub total: u64,
    /// From the app's own origin (its pages and files).
    pub app_files: u64,
    /// What the banner cannot do without: the EHR's page, the app's pages and files,
    /// discovery, authorize, token and the Patient read with its preflight (see
    /// [`on_banner_path`]).
    pub banner_path: u64,
}

/// Whether a request is one the patient banner needs: everything but the other FHIR reads and
/// searches (and their preflights), the id_token's key set and the EHR's style.
pub fn on_banner_path(url: &str, ehr_origin: &str) -> bool {
    let Some(path) = url.strip_prefix(ehr_origin) else {
        return true;
    };
    if path.starts_with("/oauth2/jwks") || path.starts_with("/ehr/smart-style") {
        return false;
    }
    match path.strip_prefix("/fhir/") {
        Some(fhir) => {
            fhir.starts_with(".well-known/") || fhir.starts_with("metadata") || {
                fhir.starts_with("Patient/")
            }
        }
        None => true,
    }
}

pub fn bytes(requests: &[Request], app_origin: &str, ehr_origin: &str) -> Bytes {
    let mut b = Bytes::default();
    for r in requests.iter().filter(|r| !r.url.starts_with("data:")) {
        b.total += r.bytes;
        if r.url.starts_with(app_origin) {
            b.app_files += r.bytes;
        }
        if on_banner_path(&r.url, ehr_origin) {
            b.banner_path += r.bytes;
        }
    }
    b
}

/// How a launch's requests compare with the emulated link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmulationCheck {
    /// The shortest wait for a response's headers, ms, over the requests that went out, and
    /// that request's URL.
    pub min_wait_ms: Option<f64>,
    pub min_wait_url: String,
    /// The largest response that went out: its URL, bytes and time from request to last byte
    /// (ms).
    pub largest: Option<(String, u64, f64)>,
}

pub fn emulation_check(requests: &[Request]) -> EmulationCheck {
    let moved: Vec<&Request> = requests.iter().filter(|r| r.moved()).collect();
    let min_wait = moved
        .iter()
        .filter_map(|r| Some((r.wait_ms()?, r.url.clone())))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let largest = moved
        .iter()
        .filter(|r| r.total_ms().is_some())
        .max_by_key(|r| r.bytes)
        .and_then(|r| Some((r.url.clone(), r.bytes, r.total_ms()?)));
    EmulationCheck {
        min_wait_ms: min_wait.as_ref().map(|(ms, _)| *ms),
        min_wait_url: min_wait.map(|(_, url)| url).unwrap_or_default(),
        largest,
    }
}

impl EmulationCheck {
    /// `Err` when a response beat the profile: came sooner than its latency, or faster than
    /// its bandwidth allows (the largest response, when its bytes should take ≥ 50 ms, must
    /// take at least 80 % of its latency plus its bytes at the download rate).
    pub fn verify(&self, profile: &Profile) -> Result<(), String> {
        if profile.latency_ms > 0.0
            && let Some(wait) = self.min_wait_ms
            && wait < 0.9 * profile.latency_ms
        {
            return Err(format!(
                "{} came {wait:.0} ms after its request under {}: the emulation did not apply",
                self.min_wait_url,
                profile.describe()
            ));
        }
        if let (Some(bps), Some((url, bytes, ms))) = (profile.down_bps, &self.largest) {
            let transfer = *bytes as f64 * 8.0 / bps * 1000.0;
            if transfer >= 50.0 && *ms < 0.8 * (profile.latency_ms + transfer) {
                return Err(format!(
                    "{url}: {bytes} B in {ms:.0} ms, faster than {}: the emulation did not apply",
                    profile.describe()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(method: &str, params: Value) -> Value {
        json!({ "message": json!({ "message": { "method": method, "params": params } }).to_string() })
    }

    #[test]
    fn events_fold_into_requests_with_their_bytes() {
        let log = vec![
            entry(
                "Network.requestWillBeSent",
                json!({ "requestId": "1", "timestamp": 1.0, "type": "Document",
                        "request": { "url": "http://ehr/oauth2/authorize?x", "method": "GET" } }),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({ "requestId": "1", "timestamp": 1.2, "type": "Document",
                        "redirectResponse": { "encodedDataLength": 300 },
                        "request": { "url": "http://app/?code=c", "method": "GET" } }),
            ),
            entry(
                "Network.responseReceived",
                json!({ "requestId": "1", "timestamp": 1.4, "type": "Document",
                        "response": { "status": 200, "timing": { "sendEnd": 1.0, "receiveHeadersEnd": 151.0 } } }),
            ),
            entry(
                "Network.loadingFinished",
                json!({ "requestId": "1", "timestamp": 1.9, "encodedDataLength": 2000 }),
            ),
            entry(
                "Network.requestWillBeSent",
                json!({ "requestId": "2", "timestamp": 2.0, "type": "Script",
                        "request": { "url": "http://app/app.js", "method": "GET" } }),
            ),
            entry(
                "Network.responseReceived",
                json!({ "requestId": "2", "timestamp": 2.0, "type": "Script",
                        "response": { "status": 200, "fromDiskCache": true } }),
            ),
            // Not a request this log saw begin: ignored.
            entry(
                "Network.loadingFinished",
                json!({ "requestId": "9", "encodedDataLength": 7 }),
            ),
        ];
        let rs = requests(&log);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].url, "http://app/?code=c");
        assert_eq!(rs[0].bytes, 2300);
        assert!((rs[0].wait_ms().unwrap() - 400.0).abs() < 1e-6);
        assert!((rs[0].total_ms().unwrap() - 900.0).abs() < 1e-6);
        assert!(rs[1].from_cache && !rs[1].moved());
        assert!(!settled(&rs));
        let b = bytes(&rs, "http://app", "http://ehr");
        assert_eq!((b.total, b.app_files, b.banner_path), (2300, 2300, 2300));
    }

    #[test]
    fn the_banner_path_leaves_out_what_the_banner_does_not_wait_for() {
        let ehr = "http://127.0.0.1:1";
        for url in [
            "http://127.0.0.1:2/app.wasm",
            "http://127.0.0.1:1/ehr/launch?patient=p",
            "http://127.0.0.1:1/fhir/.well-known/smart-configuration",
            "http://127.0.0.1:1/oauth2/authorize?x",
            "http://127.0.0.1:1/oauth2/token",
            "http://127.0.0.1:1/fhir/Patient/p",
        ] {
            assert!(on_banner_path(url, ehr), "{url}");
        }
        for url in [
            "http://127.0.0.1:1/fhir/Observation?patient=p",
            "http://127.0.0.1:1/fhir/Encounter/e",
            "http://127.0.0.1:1/oauth2/jwks",
            "http://127.0.0.1:1/ehr/smart-style.json",
        ] {
            assert!(!on_banner_path(url, ehr), "{url}");
        }
    }

    #[test]
    fn a_response_faster_than_the_profile_is_refused() {
        let phone = Profile::by_name("phone").unwrap();
        let ok = EmulationCheck {
            min_wait_ms: Some(151.0),
            min_wait_url: "u".into(),
            largest: Some(("w".into(), 200_000, 1160.0)),
        };
        assert!(ok.verify(&phone).is_ok());
        let fast = EmulationCheck {
            largest: Some(("w".into(), 200_000, 30.0)),
            ..ok.clone()
        };
        assert!(fast.verify(&phone).is_err());
        let early = EmulationCheck {
            min_wait_ms: Some(3.0),
            ..ok
        };
        assert!(early.verify(&phone).is_err());
        assert!(early.verify(&Profile::by_name("loopback").unwrap()).is_ok());
        assert_eq!(phone.conditions()["downloadThroughput"], 200_000.0);
    }
}
