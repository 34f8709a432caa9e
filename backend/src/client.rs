//! The companion's I/O: HTTP through reqwest (rustls), the token kept in memory until shortly
//! before it expires, one new token and one retry after a 401, waits on 429 and 503 as the app
//! does ([`cairn::fhir::retry`]), and the export's searches followed through Cairn's pager.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::fhir::drill::belongs_to_patient;
use cairn::fhir::error::operation_outcome_text;
use cairn::fhir::pager::{Limits, Pager, PagerStatus};
use cairn::fhir::retry::retry_delay_ms;
use cairn::http::{BodyLimit, HttpRequest, HttpResponse, Method, Read};
use cairn::smart::config::FhirServer;
use cairn::smart::discovery::{discovery_request, parse_discovery};
use cairn::smart::secret::{AccessToken, ClientSecret};
use serde_json::Value;

use crate::assertion::{self, SigningKey};
use crate::config::{Auth, Config, SecretPlacement};
use crate::export::{self, Collected};
use crate::grant::{self, Credential, Granted};
use crate::keys;

/// How far one export search may go: far more than a chart shows, still bounded.
pub const EXPORT_LIMITS: Limits = Limits {
    max_pages: 5_000,
    max_entries: 500_000,
    max_bytes: 2 * 1024 * 1024 * 1024,
};

/// What the client proves itself with.
enum Secret {
    Key { key: SigningKey, kid: String },
    Shared(SecretPlacement, ClientSecret),
}

/// A backend client of one EHR.
pub struct Client {
    http: reqwest::Client,
    config: Config,
    secret: Secret,
    token_endpoint: Option<String>,
    token: Option<Granted>,
    /// Token requests sent so far.
    pub token_requests: u32,
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    Ok(bytes)
}

impl Client {
    /// Loads the private key, or reads the secret from its environment variable.
    pub fn new(config: Config) -> Result<Client, String> {
        let secret = match &config.auth {
            Auth::PrivateKeyJwt { key, kid, alg } => Secret::Key {
                key: keys::load(key, *alg)?,
                kid: kid.clone(),
            },
            Auth::ClientSecret {
                placement,
                secret_env,
            } => {
                let value = std::env::var(secret_env).ok().filter(|v| !v.is_empty());
                let value = value.ok_or_else(|| {
                    format!(
                        "the environment variable {secret_env} (`auth.secret_env`) is not set: \
                         put the client secret in it"
                    )
                })?;
                Secret::Shared(*placement, ClientSecret::new(value))
            }
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn-backend/", env!("CARGO_PKG_VERSION")))
            // A token request is never re-posted elsewhere, and a bearer token never follows a
            // redirect: the pager decides where requests go.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        Ok(Client {
            http,
            token_endpoint: config.token_endpoint.clone(),
            config,
            secret,
            token: None,
            token_requests: 0,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends `req` as it is.
    async fn send(&self, req: &HttpRequest) -> Result<(HttpResponse, Option<String>), String> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.http.request(method, &req.url);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let shown = req.url.split('?').next().unwrap_or_default();
        let resp = builder
            .send()
            .await
            .map_err(|e| format!("cannot reach {shown}: {}", error_chain(&e)))?;
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let retry_after = header(reqwest::header::RETRY_AFTER);
        // Read within the request's own cap, as the app does (`BodyLimit`, matrix #45).
        let mut limit = BodyLimit::new(req.max_body);
        let too_large = || {
            format!(
                "the answer of {shown} is larger than {} KiB",
                req.max_body / 1024
            )
        };
        if limit.admits(header(reqwest::header::CONTENT_LENGTH).as_deref()) == Read::Abort {
            return Err(too_large());
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading the answer of {shown}: {}", error_chain(&e)))?
        {
            if limit.chunk(chunk.len()) == Read::Abort {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((
            HttpResponse {
                status,
                content_type,
                body,
            },
            retry_after,
        ))
    }

    /// The token endpoint: configured, or from the server's SMART discovery (checked as the
    /// app checks it: on the FHIR base's origin).
    pub async fn token_endpoint(&mut self) -> Result<String, String> {
        if let Some(endpoint) = &self.token_endpoint {
            return Ok(endpoint.clone());
        }
        let base = cairn::uri::Uri::parse(&self.config.fhir_base)
            .map_err(|_| format!("{} is not a URL Cairn accepts", self.config.fhir_base))?;
        let server = FhirServer {
            name: "backend".into(),
            client_id: self.config.client_id.clone(),
            epic_client_id_header: false,
            fhir_base: self.config.fhir_base.clone(),
            auth_origins: vec![base.origin().to_owned()],
            logo: None,
            scope: None,
            mrn: None,
            issuer: None,
            redirect_uri: String::new(),
        };
        let (resp, _) = self.send(&discovery_request(&server)).await?;
        let discovered = parse_discovery(&server, &resp).map_err(|e| {
            format!(
                "discovery at {}/.well-known/smart-configuration: {e} (or set `token_endpoint`)",
                self.config.fhir_base
            )
        })?;
        self.token_endpoint = Some(discovered.token_endpoint.clone());
        Ok(discovered.token_endpoint)
    }

    /// Asks the token endpoint for a new token (a fresh assertion and `jti` each time) and
    /// keeps it.
    pub async fn new_token(&mut self) -> Result<Granted, String> {
        let endpoint = self.token_endpoint().await?;
        let jwt;
        let credential = match &self.secret {
            Secret::Key { key, kid } => {
                let now = now_s() as u64;
                jwt = assertion::assertion(
                    key,
                    kid,
                    &self.config.client_id,
                    &endpoint,
                    now,
                    &assertion::jti(random()?),
                );
                Credential::Assertion(&jwt)
            }
            Secret::Shared(SecretPlacement::Basic, secret) => Credential::Basic(secret),
            Secret::Shared(SecretPlacement::Post, secret) => Credential::Post(secret),
        };
        let req = grant::token_request(
            &endpoint,
            &self.config.client_id,
            &self.config.scope,
            &credential,
        );
        self.token_requests += 1;
        let (resp, _) = self.send(&req).await?;
        let granted = grant::parse_token_response(&resp, &self.config.scope, now_s())?;
        self.token = Some(granted.clone());
        Ok(granted)
    }

    /// The kept token while it is usable, else a new one.
    pub async fn token(&mut self) -> Result<AccessToken, String> {
        match &self.token {
            Some(granted) if granted.usable(now_s()) => Ok(granted.access_token.clone()),
            _ => Ok(self.new_token().await?.access_token),
        }
    }

    /// A GET built by `build` with the current token: after a 401, one new token and one
    /// retry; after a 429 or 503, waits as `Retry-After` says (at most [`retry`]'s attempts).
    ///
    /// [`retry`]: cairn::fhir::retry
    async fn get(
        &mut self,
        build: impl Fn(&AccessToken) -> Option<HttpRequest>,
    ) -> Result<HttpResponse, String> {
        let mut attempt = 1;
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let req = build(&token).ok_or("the next page is not on the FHIR server")?;
            let (resp, retry_after) = self.send(&req).await?;
            if resp.status == 401 && !renewed {
                renewed = true;
                self.token = None;
                continue;
            }
            let jitter = f64::from(u32::from_le_bytes(random()?)) / f64::from(u32::MAX);
            let wait = retry_delay_ms(
                Method::Get,
                resp.status,
                attempt,
                retry_after.as_deref(),
                now_s() * 1000.0,
                jitter,
            );
            match wait {
                Some(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                    attempt += 1;
                }
                None => return Ok(resp),
            }
        }
    }

    /// Every match of the search at `url`, all pages; any failed page fails the whole search.
    async fn read_all(
        &mut self,
        label: &str,
        url: String,
        progress: &mut dyn FnMut(&str, usize),
    ) -> Result<Vec<Value>, String> {
        let mut pager = Pager::new(&self.config.fhir_base, url, EXPORT_LIMITS);
        let mut all = Vec::new();
        while pager.next_request().is_some() {
            let resp = self.get(|token| pager.next_http_request(token)).await?;
            let page = pager.pages() + 1;
            let received = pager.receive(&resp);
            all.extend(received.new);
            progress(label, all.len());
            match received.status {
                PagerStatus::Running { .. } | PagerStatus::Done => {}
                PagerStatus::Partial(stop) => {
                    return Err(format!("{label} search, page {page}: {}", stop.message()));
                }
                PagerStatus::Failed { error, .. } => {
                    let said = operation_outcome_text(&resp.body)
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default();
                    let what = if resp.is_success() {
                        error.to_string()
                    } else {
                        format!("the EHR answered HTTP {}", resp.status)
                    };
                    return Err(format!("{label} search, page {page}: {what}{said}"));
                }
            }
        }
        Ok(all)
    }

    /// Finds the one patient with `mrn`, then reads its encounters and observations. Resources
    /// that name another patient are left out (counted in `other_patients`).
    pub async fn export(
        &mut self,
        mrn: &str,
        since: Option<&str>,
        progress: &mut dyn FnMut(&str, usize),
    ) -> Result<Exported, String> {
        if let Some(since) = since {
            export::check_since(since)?;
        }
        let mrn = mrn.trim();
        if mrn.is_empty() {
            return Err("--mrn is empty".to_owned());
        }
        let url = export::patient_search_url(&self.config.fhir_base, &self.config.mrn_system, mrn);
        let matches = self.read_all("Patient", url, progress).await?;
        let patient = export::the_patient(matches, mrn)?;
        let id = patient
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let searches =
            export::searches(&self.config.fhir_base, &id, &self.config.categories, since)
                .ok_or_else(|| format!("the patient's id {id:?} is not a valid FHIR id"))?;
        let mut collected = Collected::default();
        collected.add(patient);
        let mut other_patients = 0;
        for search in searches {
            for resource in self.read_all(&search.label, search.url, progress).await? {
                if belongs_to_patient(&resource, &id, &self.config.fhir_base) {
                    collected.add(resource);
                } else {
                    other_patients += 1;
                }
            }
        }
        Ok(Exported {
            patient_id: id,
            collected,
            other_patients,
        })
    }
}

/// What an export read.
pub struct Exported {
    pub patient_id: String,
    pub collected: Collected,
    /// Search results that named another patient (a server's compartment bug), left out.
    pub other_patients: usize,
}

/// `e` and its causes, for a network error (reqwest's own text alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that `path` is either the old file or the whole new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("--out {} names no file", path.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_leaves_no_temporary_one() {
        let dir = std::env::temp_dir().join(format!("cairn-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.ndjson");
        std::fs::write(&path, "old, longer content\n").unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let missing = write_atomic(&dir.join("no-such-dir/out.ndjson"), b"x").unwrap_err();
        assert!(missing.starts_with("cannot write "), "{missing}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
