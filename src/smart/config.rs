//! Cairn's configuration (`cairn.config.json`) and the `iss` allow-list.

use crate::uri::Uri;
use serde::Deserialize;

use crate::domain::problem::{NextStep, Problem};
use crate::fhir::patient::MrnRule;
use crate::smart::urls;

/// The scopes Cairn asks for unless the configuration says otherwise: the EHR launch, the
/// signed-in user, a refresh token for this session only (`online_access`, never
/// `offline_access`), and read access to the three resources it shows. Written for an EHR
/// launch; `scope::requested_scope` adapts it to standalone launches.
pub const DEFAULT_SCOPE: &str = "launch openid fhirUser online_access patient/Patient.rs \
     patient/Encounter.rs patient/Observation.rs";

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the authorization server sends the browser back: Cairn's own address, registered
    /// with every EHR exactly as written here.
    pub redirect_uri: String,
    /// The scope asked of every server without its own, written in v2 form (`.rs`); servers
    /// whose discovery does not list `permission-v2` are asked in v1 form (`.read`).
    pub scope: String,
    pub servers: Vec<FhirServer>,
    /// Origins of EHR web pages allowed to show Cairn in a frame (CSP `frame-ancestors`).
    /// Empty: Cairn may not be framed at all.
    pub ehr_origins: Vec<String>,
    /// A User-access Brands bundle naming the health systems on the standalone start page.
    /// It can only rename and describe configured servers, never add one.
    pub brand_bundle: Option<String>,
}

/// A FHIR server Cairn may be launched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirServer {
    /// What the start page calls it.
    pub name: String,
    /// The client id this server's authorization server knows Cairn by. Epic gives each app a
    /// non-production id (its sandbox and every customer's test environments) and a production
    /// id (every customer's production environment).
    pub client_id: String,
    /// Send `Epic-Client-ID: <client_id>` with discovery (`.well-known/smart-configuration`
    /// and `metadata`), for Epic instances that want to know the app before sign-in. Off by
    /// default: a header that is not CORS-safelisted costs a preflight (an extra `OPTIONS`
    /// round trip) per discovery, and the server's CORS must allow the header.
    pub epic_client_id_header: bool,
    /// Normalised: no trailing slash.
    pub fhir_base: String,
    /// Origins (`scheme://host[:port]`) where its authorize and token endpoints may live.
    pub auth_origins: Vec<String>,
    /// An image shown beside the name on the start page (its origin is allowed by CSP
    /// `img-src`).
    pub logo: Option<String>,
    /// The scope to ask this server for instead of the top-level `scope`, sent as written: no
    /// v1/v2 translation (`scope::ScopeSyntax::AsWritten`), though the launch still sets the
    /// context scope and, for a clinician's standalone launch, `user/` for `patient/`.
    /// Whitespace normalised; never empty.
    pub scope: Option<String>,
    /// Which patient identifier is the medical record number, for the banner and the MRN
    /// search. `None`: the identifier typed HL7 v2-0203 `MR`.
    pub mrn: Option<MrnRule>,
    /// The authorization server's issuer, pinned by the configuration (`fhir_servers[].issuer`):
    /// discovery must name exactly this one, and the callback's RFC 9207 `iss` and the
    /// id_token's `iss` are checked against it even when `.well-known` is missing. `None`: the
    /// issuer discovery names, trusted only when its origin is one of `auth_origins` and no other
    /// configured server's (see [`Config::trusted_issuer`]).
    pub issuer: Option<String>,
    /// Where this server's authorization server sends the browser back
    /// (`fhir_servers[].redirect_uri`, default the top-level `redirect_uri`). A redirect URI of
    /// its own per server lets Cairn tell at the callback which server the answer is meant for.
    pub redirect_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON, a value of the wrong type, or an unknown key (serde names it and the keys
    /// allowed there).
    #[error("{0}")]
    Json(String),
    #[error(
        "`client_id` is now set per server: remove it from the top level and give each entry of \
         `fhir_servers` its own `client_id` (Epic: the non-production id for test servers, the \
         production id for production ones)"
    )]
    TopLevelClientId,
    #[error(
        "`fhir_servers[{0}].client_id` is missing or empty: set it to the client id this EHR \
         registered for Cairn"
    )]
    EmptyClientId(usize),
    #[error(
        "`fhir_servers[{0}].name` is missing or empty: set it to the name people know this \
         health system by"
    )]
    EmptyName(usize),
    #[error(
        "`redirect_uri` {0:?} must be an absolute https: URL without a fragment (http: only on \
         localhost)"
    )]
    BadRedirectUri(String),
    #[error(
        "`redirect_uri` {redirect_uri:?} is not where Cairn is served from ({app_url}): set it \
         to {suggested:?} (or a path below it) and register that exact URI with every EHR"
    )]
    RedirectUriElsewhere {
        redirect_uri: String,
        app_url: String,
        suggested: String,
    },
    #[error("`fhir_servers` is empty: list at least one FHIR server Cairn may be launched from")]
    NoServers,
    #[error(
        "`fhir_servers[{index}].fhir_base` {value:?} must be an absolute https: URL (http: only on localhost) without user, query or fragment"
    )]
    BadFhirBase { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].auth_origins` entry {value:?} is not an origin like https://host"
    )]
    BadAuthOrigin { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].logo` {value:?} must be an absolute https: URL of an image \
         (http: only on localhost)"
    )]
    BadLogo { index: usize, value: String },
    #[error(
        "`fhir_servers[{0}].mrn` names no identifier: set `type_text` (the identifier's type \
         text, e.g. \"MRN\" in Epic) or `system` (its system URI), or remove `mrn`"
    )]
    EmptyMrn(usize),
    #[error(
        "`fhir_servers[{index}].mrn.type_text` {value:?} must not contain `|`: write the \
         identifier's type text as the EHR sends it, e.g. \"MRN\""
    )]
    BadMrnTypeText { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].mrn.system` {value:?} is not a URI like \
         urn:oid:1.2.840.114350… or https://…: write the system of the MRN identifier exactly \
         as the EHR sends it"
    )]
    BadMrnSystem { index: usize, value: String },
    #[error("`ehr_origins` entry {0:?} is not an origin like https://ehr.example")]
    BadEhrOrigin(String),
    #[error("`brand_bundle` {0:?} is not an https address (http only on this machine)")]
    BadBrandBundle(String),
    #[error(
        "`scope` asks for {0:?}, more than Cairn needs: it only reads (`.rs` or `.read`), never \
         wildcards, and never `offline_access` (use `online_access`)"
    )]
    OverBroadScope(String),
    #[error(
        "`fhir_servers[{index}].scope` asks for {value:?}, more than Cairn needs: it only reads \
         (`.rs` or `.read`), never wildcards, and never `offline_access` (use `online_access`)"
    )]
    OverBroadServerScope { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].fhir_base` {value:?} is listed twice: keep one entry per FHIR base"
    )]
    DuplicateFhirBase { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].issuer` {value:?} must be an https: URL (http: only on \
         localhost) on one of that server's `auth_origins`, without query or fragment"
    )]
    BadIssuer { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].issuer` {value:?} is also another server's issuer: each \
         authorization server is configured once, with the issuer its discovery names"
    )]
    DuplicateIssuer { index: usize, value: String },
    #[error(
        "`fhir_servers[{index}].redirect_uri` {value:?} must be an absolute https: URL without a \
         fragment (http: only on localhost)"
    )]
    BadServerRedirectUri { index: usize, value: String },
}

impl ConfigError {
    pub fn problem(&self) -> Problem {
        Problem::new(
            "Cairn is not set up correctly",
            format!("Its settings file has a mistake: {self}."),
            NextStep::ContactSupport,
        )
    }
}

/// The launch named an `iss` that is not on the allow-list. No request was sent to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the EHR address {iss:?} is not in Cairn's configuration")]
pub struct IssError {
    pub iss: String,
}

impl IssError {
    pub fn problem(&self) -> Problem {
        Problem::new(
            "This EHR is not one Cairn is set up for",
            format!(
                "Cairn was opened from {}, which is not in its list of EHRs, so it did not \
                 connect to it.",
                crate::domain::problem::truncate_for_display(&self.iss, 200)
            ),
            NextStep::ContactSupport,
        )
    }
}

// Missing strings default to empty, so that the check below names the field and its fix
// (serde's "missing field" names neither the server nor the fix).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    fhir_servers: Vec<RawServer>,
    #[serde(default)]
    ehr_origins: Vec<String>,
    #[serde(default)]
    brand_bundle: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    epic_client_id_header: bool,
    #[serde(default)]
    fhir_base: String,
    #[serde(default)]
    auth_origins: Option<Vec<String>>,
    #[serde(default)]
    logo: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    mrn: Option<RawMrn>,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMrn {
    #[serde(default)]
    type_text: Option<String>,
    #[serde(default)]
    system: Option<String>,
}

/// The largest `cairn.config.json` Cairn reads.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Parses and validates `cairn.config.json`. Every error names the field and how to fix it.
/// Whether `redirect_uri` is Cairn's own address needs that address: see
/// [`Config::check_redirect_uri`].
pub fn parse_config(json: &[u8]) -> Result<Config, ConfigError> {
    let raw: RawConfig = match serde_json::from_slice(json) {
        Ok(raw) => raw,
        // The format before client ids moved into each server: say where it went.
        Err(_) if has_top_level_client_id(json) => return Err(ConfigError::TopLevelClientId),
        Err(e) => return Err(json_error(&e)),
    };
    if !is_redirect_target(&raw.redirect_uri) {
        return Err(ConfigError::BadRedirectUri(raw.redirect_uri));
    }
    if raw.fhir_servers.is_empty() {
        return Err(ConfigError::NoServers);
    }
    let mut servers: Vec<FhirServer> = Vec::with_capacity(raw.fhir_servers.len());
    for (index, s) in raw.fhir_servers.into_iter().enumerate() {
        let name = s.name.trim().to_owned();
        if name.is_empty() {
            return Err(ConfigError::EmptyName(index));
        }
        let client_id = s.client_id.trim().to_owned();
        if client_id.is_empty() {
            return Err(ConfigError::EmptyClientId(index));
        }
        let bad_base = || ConfigError::BadFhirBase {
            index,
            value: s.fhir_base.clone(),
        };
        let url = urls::acceptable(&s.fhir_base).ok_or_else(bad_base)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad_base());
        }
        let fhir_base = url.as_str().trim_end_matches('/').to_owned();
        if servers.iter().any(|other| other.fhir_base == fhir_base) {
            return Err(ConfigError::DuplicateFhirBase {
                index,
                value: s.fhir_base,
            });
        }
        let auth_origins = match s.auth_origins {
            None => vec![url.origin().to_owned()],
            Some(list) => {
                let mut origins = Vec::with_capacity(list.len());
                for value in list {
                    let origin =
                        parse_origin(&value).ok_or(ConfigError::BadAuthOrigin { index, value })?;
                    origins.push(origin);
                }
                origins
            }
        };
        let logo = match s.logo.filter(|l| !l.trim().is_empty()) {
            None => None,
            Some(value) if is_redirect_target(&value) => Some(value),
            Some(value) => return Err(ConfigError::BadLogo { index, value }),
        };
        let scope = s.scope.as_deref().and_then(normalise_scope);
        if let Some(broad) = scope.as_deref().and_then(over_broad) {
            return Err(ConfigError::OverBroadServerScope {
                index,
                value: broad.to_owned(),
            });
        }
        let mrn = s.mrn.map(|m| parse_mrn(index, m)).transpose()?;
        let issuer = match s.issuer.filter(|i| !i.trim().is_empty()) {
            None => None,
            Some(value) => {
                let on_auth_origin = urls::acceptable(&value).is_some_and(|u| {
                    u.query().is_none()
                        && u.fragment().is_none()
                        && auth_origins.iter().any(|o| o == u.origin())
                });
                if !on_auth_origin {
                    return Err(ConfigError::BadIssuer { index, value });
                }
                if servers.iter().any(|o| o.issuer.as_deref() == Some(&value)) {
                    return Err(ConfigError::DuplicateIssuer { index, value });
                }
                Some(value)
            }
        };
        let redirect_uri = match s.redirect_uri.filter(|r| !r.trim().is_empty()) {
            None => raw.redirect_uri.clone(),
            Some(value) if is_redirect_target(&value) => value,
            Some(value) => return Err(ConfigError::BadServerRedirectUri { index, value }),
        };
        servers.push(FhirServer {
            name,
            client_id,
            epic_client_id_header: s.epic_client_id_header,
            fhir_base,
            auth_origins,
            logo,
            scope,
            mrn,
            issuer,
            redirect_uri,
        });
    }
    let brand_bundle = match raw.brand_bundle.filter(|b| !b.trim().is_empty()) {
        None => None,
        Some(value) if is_redirect_target(&value) => Some(value),
        Some(value) => return Err(ConfigError::BadBrandBundle(value)),
    };
    let mut ehr_origins = Vec::with_capacity(raw.ehr_origins.len());
    for value in raw.ehr_origins {
        ehr_origins.push(parse_origin(&value).ok_or(ConfigError::BadEhrOrigin(value))?);
    }
    let scope = raw
        .scope
        .as_deref()
        .and_then(normalise_scope)
        .unwrap_or_else(|| DEFAULT_SCOPE.to_owned());
    if let Some(broad) = over_broad(&scope) {
        return Err(ConfigError::OverBroadScope(broad.to_owned()));
    }
    Ok(Config {
        redirect_uri: raw.redirect_uri,
        scope,
        servers,
        ehr_origins,
        brand_bundle,
    })
}

/// `fhir_servers[index].mrn`: at least one of `type_text` and `system`, each searchable as
/// the first half of a FHIR token (`type_text|value` or `system|value`).
fn parse_mrn(index: usize, raw: RawMrn) -> Result<MrnRule, ConfigError> {
    let trimmed = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let type_text = trimmed(raw.type_text);
    let system = trimmed(raw.system);
    if type_text.is_none() && system.is_none() {
        return Err(ConfigError::EmptyMrn(index));
    }
    if let Some(value) = type_text.as_ref().filter(|t| t.contains('|')) {
        return Err(ConfigError::BadMrnTypeText {
            index,
            value: value.clone(),
        });
    }
    if let Some(value) = system.as_ref().filter(|s| !urls::is_system_uri(s)) {
        return Err(ConfigError::BadMrnSystem {
            index,
            value: value.clone(),
        });
    }
    Ok(MrnRule { type_text, system })
}

/// An acceptable endpoint ([`urls::acceptable`]) without a fragment: where a browser may be
/// sent or a request may go.
fn is_redirect_target(value: &str) -> bool {
    urls::acceptable(value).is_some_and(|u| u.fragment().is_none())
}

fn json_error(e: &serde_json::Error) -> ConfigError {
    use serde_json::error::Category;
    ConfigError::Json(match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("it is not valid JSON ({e})"),
        Category::Data if e.to_string().starts_with("unknown field") => {
            format!("{e}: remove it or correct its spelling")
        }
        Category::Data => e.to_string(),
    })
}

fn has_top_level_client_id(json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(json)
        .is_ok_and(|object| object.contains_key("client_id"))
}

/// Single spaces between scopes; `None` when there are none.
fn normalise_scope(scope: &str) -> Option<String> {
    Some(scope.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty())
}

/// The first scope of `scope` that asks for more than Cairn needs.
fn over_broad(scope: &str) -> Option<&str> {
    scope.split_whitespace().find(|s| is_over_broad(s))
}

/// Least privilege (matrix #9): no long-lived refresh tokens, no wildcards, no writes.
fn is_over_broad(scope: &str) -> bool {
    if scope == "offline_access" || scope.contains('*') {
        return true;
    }
    let Some((_, perms)) = scope
        .split_once('/')
        .filter(|(level, _)| matches!(*level, "patient" | "user" | "system"))
        .and_then(|(_, rest)| rest.split('?').next())
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    !(perms == "read" || (!perms.is_empty() && perms.bytes().all(|b| b == b'r' || b == b's')))
}

/// `https://host[:port]` (http on loopback), with nothing after the host but an optional `/`.
fn parse_origin(value: &str) -> Option<String> {
    urls::acceptable(value)
        .filter(|u| u.path() == "/" && u.query().is_none() && u.fragment().is_none())
        .map(|u| u.origin().to_owned())
}

impl Config {
    /// The configured server whose FHIR base is exactly `iss` (a single trailing `/` aside).
    /// Comparison is on the string as sent: no case folding, no decoding, no host lookups, so
    /// look-alike hosts, user-info tricks and other schemes never match.
    pub fn server_for_iss(&self, iss: &str) -> Result<&FhirServer, IssError> {
        let wanted = iss.strip_suffix('/').unwrap_or(iss);
        self.servers
            .iter()
            .find(|s| !wanted.is_empty() && s.fhir_base == wanted)
            .ok_or_else(|| IssError {
                iss: iss.to_owned(),
            })
    }

    /// The redirect URI must bring the browser back to this copy of Cairn: the same origin as
    /// `app_url` (the page's address, or where a deployment will serve it) and a path in the
    /// app's directory (`/cairn/` for `https://apps.example.org/cairn/` or
    /// `…/cairn/index.html`). Otherwise every sign-in would end on someone else's page.
    pub fn check_redirect_uri(&self, app_url: &str) -> Result<(), ConfigError> {
        let own = self.servers.iter().map(|s| s.redirect_uri.as_str());
        for redirect_uri in std::iter::once(self.redirect_uri.as_str()).chain(own) {
            check_one_redirect_uri(redirect_uri, app_url)?;
        }
        Ok(())
    }

    /// The issuer the callback's RFC 9207 `iss` and the id_token's `iss` are checked against
    /// for `server`, given the one its discovery names (`None` when it names none, or was not
    /// read). A pinned issuer (`fhir_servers[].issuer`) is the only one accepted. Otherwise the
    /// discovered one is trusted only on an origin of `server.auth_origins` that no other
    /// configured server signs in at, and when no other server pins it: a configured server
    /// cannot claim another's issuer (RFC 9700 §4.4 mix-up).
    pub fn trusted_issuer(
        &self,
        server: &FhirServer,
        discovered: Option<&str>,
    ) -> Result<Option<String>, UntrustedIssuer> {
        let untrusted = |issuer: &str| UntrustedIssuer {
            issuer: crate::domain::problem::truncate_for_display(issuer, 200),
        };
        if let Some(pinned) = &server.issuer {
            return match discovered {
                Some(d) if d != pinned => Err(untrusted(d)),
                _ => Ok(Some(pinned.clone())),
            };
        }
        let Some(issuer) = discovered else {
            return Ok(None);
        };
        let others = || {
            self.servers
                .iter()
                .filter(|o| o.fhir_base != server.fhir_base)
        };
        let on = |origins: &[String], origin: &str| origins.iter().any(|o| o == origin);
        let trusted = urls::acceptable(issuer).is_some_and(|u| {
            on(&server.auth_origins, u.origin())
                && !others().any(|o| on(&o.auth_origins, u.origin()))
        }) && !others().any(|o| o.issuer.as_deref() == Some(issuer));
        if trusted {
            Ok(Some(issuer.to_owned()))
        } else {
            Err(untrusted(issuer))
        }
    }
}

/// The issuer a server's discovery names is not one Cairn may trust for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the EHR names the sign-in server {issuer:?}, which is not one Cairn's settings trust for it"
)]
pub struct UntrustedIssuer {
    pub issuer: String,
}

/// See [`Config::check_redirect_uri`].
fn check_one_redirect_uri(redirect_uri: &str, app_url: &str) -> Result<(), ConfigError> {
    let app = Uri::parse(app_url).ok();
    let directory = app.as_ref().map(|app| {
        let path = app.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{dir}", app.origin())
    });
    let redirect = Uri::parse(redirect_uri).ok();
    let here = match (&app, &redirect, &directory) {
        (Some(app), Some(redirect), Some(directory)) => {
            app.origin() == redirect.origin() && redirect.as_str().starts_with(directory.as_str())
        }
        _ => false,
    };
    if here {
        return Ok(());
    }
    Err(ConfigError::RedirectUriElsewhere {
        redirect_uri: redirect_uri.to_owned(),
        app_url: app_url.to_owned(),
        suggested: directory.unwrap_or_else(|| app_url.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(base: &str) -> Config {
        let json = format!(
            r#"{{"redirect_uri":"https://app.example/","fhir_servers":[{{"name":"Epic","client_id":"c","fhir_base":"{base}"}}]}}"#
        );
        parse_config(json.as_bytes()).unwrap()
    }

    #[test]
    fn iss_must_match_a_configured_base_exactly() {
        let config = config_with("https://epic.example/api/FHIR/R4");
        let cases = [
            ("https://epic.example/api/FHIR/R4", true),
            ("https://epic.example/api/FHIR/R4/", true),
            ("https://epic.example/api/FHIR/R4//", false),
            ("http://epic.example/api/FHIR/R4", false),
            ("https://evil.example/api/FHIR/R4", false),
            ("https://epic.example@evil.example/api/FHIR/R4", false),
            ("https://epic.example.evil.com/api/FHIR/R4", false),
            ("https://EPIC.example/api/FHIR/R4", false),
            ("https://epic.example/api/fhir/r4", false),
            ("https://epic.example:8443/api/FHIR/R4", false),
            ("https://xn--epc-bla.example/api/FHIR/R4", false),
            ("https://epic.example/api/FHIR/R4?x=1", false),
            ("https://epic.example/api/FHIR/R4/../R4", false),
            (
                "javascript:alert(1)//https://epic.example/api/FHIR/R4",
                false,
            ),
            ("", false),
            ("/", false),
        ];
        for (iss, allowed) in cases {
            assert_eq!(config.server_for_iss(iss).is_ok(), allowed, "iss {iss:?}");
        }
    }

    #[test]
    fn a_trailing_slash_in_the_configuration_is_normalised() {
        let config = config_with("https://epic.example/fhir/");
        assert_eq!(config.servers[0].fhir_base, "https://epic.example/fhir");
        assert!(config.server_for_iss("https://epic.example/fhir").is_ok());
    }

    #[test]
    fn defaults_scope_and_auth_origin() {
        let config = config_with("https://epic.example:8443/fhir");
        assert_eq!(config.scope, DEFAULT_SCOPE);
        assert_eq!(
            config.servers[0].auth_origins,
            ["https://epic.example:8443"]
        );
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let server = r#"[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}]"#;
        let cases: &[(String, &str)] = &[
            ("not json".into(), "it is not valid JSON (expected ident at line 1 column 2)"),
            (
                format!(r#"{{"redirect_uri":"https://a/","fhir_servers":{server},"extra":1}}"#),
                "unknown field `extra`",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":" ","fhir_base":"https://e.example/fhir"}]}"#.into(),
                "`fhir_servers[0].client_id` is missing or empty",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"},{"name":"F","fhir_base":"https://f.example/fhir"}]}"#.into(),
                "`fhir_servers[1].client_id` is missing or empty",
            ),
            (
                format!(r#"{{"client_id":"c","redirect_uri":"https://a/","fhir_servers":{server}}}"#),
                "give each entry of `fhir_servers` its own `client_id`",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"client_id":"c","fhir_base":"https://e.example/fhir"}]}"#.into(),
                "`fhir_servers[0].name` is missing or empty",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","logo_url":"x"}]}"#.into(),
                "unknown field `logo_url`, expected one of",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","logo":"http://cdn.example/e.png"}]}"#.into(),
                "`fhir_servers[0].logo`",
            ),
            (
                r#"{"fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}]}"#.into(),
                "`redirect_uri` \"\" must be",
            ),
            (
                format!(r#"{{"redirect_uri":"http://app.example/","fhir_servers":{server}}}"#),
                "`redirect_uri`",
            ),
            (
                format!(r#"{{"redirect_uri":"/relative","fhir_servers":{server}}}"#),
                "`redirect_uri`",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[]}"#.into(),
                "`fhir_servers` is empty",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"http://e.example/fhir"}]}"#.into(),
                "`fhir_servers[0].fhir_base`",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://u:p@e.example/fhir"}]}"#.into(),
                "`fhir_servers[0].fhir_base`",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"},{"name":"F","client_id":"c","fhir_base":"https://e.example/fhir/"}]}"#.into(),
                "listed twice",
            ),
            (
                r#"{"redirect_uri":"https://a/","fhir_servers":[{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","auth_origins":["https://e.example/oauth2"]}]}"#.into(),
                "`fhir_servers[0].auth_origins`",
            ),
        ];
        for (json, expected) in cases {
            let err = parse_config(json.as_bytes()).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{json}\n→ {err}\n(expected {expected:?})"
            );
        }
    }

    #[test]
    fn unicode_hosts_are_refused_punycode_is_accepted() {
        let json = |base: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"{base}"}}]}}"#
            )
        };
        let err = parse_config(json("https://bücher.example/fhir").as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("`fhir_servers[0].fhir_base`"),
            "{err}"
        );
        assert!(parse_config(json("https://xn--bcher-kva.example/fhir").as_bytes()).is_ok());
    }

    #[test]
    fn ehr_origins_are_origins() {
        let json = |origins: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","ehr_origins":{origins},"fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}}]}}"#
            )
        };
        let config =
            parse_config(json(r#"["https://ehr.example/","https://ehr.example:8443"]"#).as_bytes())
                .unwrap();
        assert_eq!(
            config.ehr_origins,
            ["https://ehr.example", "https://ehr.example:8443"]
        );
        assert!(
            parse_config(json("[]").as_bytes())
                .unwrap()
                .ehr_origins
                .is_empty()
        );
        for bad in [
            r#"["https://ehr.example/app"]"#,
            r#"["http://ehr.example"]"#,
            r#"["*"]"#,
        ] {
            let err = parse_config(json(bad).as_bytes()).unwrap_err();
            assert!(matches!(err, ConfigError::BadEhrOrigin(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn scopes_are_least_privilege() {
        let json = |scope: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","scope":"{scope}","fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}}]}}"#
            )
        };
        for ok in [
            "launch openid fhirUser online_access patient/Patient.rs",
            "launch patient/Observation.read patient/Observation.rs?category=laboratory",
            "launch/patient user/Patient.r",
        ] {
            assert!(parse_config(json(ok).as_bytes()).is_ok(), "{ok}");
        }
        for (bad, culprit) in [
            ("launch offline_access", "offline_access"),
            ("launch patient/*.read", "patient/*.read"),
            ("launch patient/Observation.*", "patient/Observation.*"),
            (
                "launch patient/Observation.write",
                "patient/Observation.write",
            ),
            ("launch user/Patient.cruds", "user/Patient.cruds"),
            ("launch system/Patient.rs?x=*", "system/Patient.rs?x=*"),
        ] {
            assert_eq!(
                parse_config(json(bad).as_bytes()),
                Err(ConfigError::OverBroadScope(culprit.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_server_may_have_its_own_scope() {
        let json = |scope: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","fhir_servers":[
                {{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}},
                {{"name":"F","client_id":"c","fhir_base":"https://f.example/fhir","scope":{scope}}}]}}"#
            )
        };
        let config = parse_config(
            json(r#"" launch  patient/Patient.read\tpatient/Observation.rs ""#).as_bytes(),
        )
        .unwrap();
        assert_eq!(config.servers[0].scope, None);
        assert_eq!(
            config.servers[1].scope.as_deref(),
            Some("launch patient/Patient.read patient/Observation.rs")
        );
        assert_eq!(config.scope, DEFAULT_SCOPE);
        for absent in ["null", r#""""#, r#""   ""#] {
            assert_eq!(
                parse_config(json(absent).as_bytes()).unwrap().servers[1].scope,
                None,
                "{absent}"
            );
        }
        for (bad, culprit) in [
            (r#""launch offline_access""#, "offline_access"),
            (r#""launch user/*.read""#, "user/*.read"),
            (
                r#""launch patient/Observation.cruds""#,
                "patient/Observation.cruds",
            ),
        ] {
            let err = parse_config(json(bad).as_bytes()).unwrap_err();
            assert_eq!(
                err,
                ConfigError::OverBroadServerScope {
                    index: 1,
                    value: culprit.into()
                },
                "{bad}"
            );
            assert!(
                err.to_string().starts_with(&format!(
                    "`fhir_servers[1].scope` asks for {culprit:?}, more"
                )),
                "{err}"
            );
        }
        let err = parse_config(json("5").as_bytes()).unwrap_err();
        assert!(matches!(err, ConfigError::Json(_)), "{err}");
    }

    #[test]
    fn brand_bundle_must_be_a_safe_address() {
        let json = |bundle: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","brand_bundle":{bundle},"fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}}]}}"#
            )
        };
        let ok = parse_config(json(r#""https://brands.example/b.json""#).as_bytes()).unwrap();
        assert_eq!(
            ok.brand_bundle.as_deref(),
            Some("https://brands.example/b.json")
        );
        assert_eq!(
            parse_config(json("null").as_bytes()).unwrap().brand_bundle,
            None
        );
        for bad in [
            r#""http://brands.example/b.json""#,
            r#""javascript:alert(1)""#,
            r#""/relative.json""#,
        ] {
            let err = parse_config(json(bad).as_bytes()).unwrap_err();
            assert!(
                matches!(err, ConfigError::BadBrandBundle(_)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn loopback_may_use_http() {
        let json = br#"{"redirect_uri":"http://127.0.0.1:8080/","fhir_servers":[{"name":"Dev","client_id":"c","fhir_base":"http://127.0.0.1:9090/fhir"}]}"#;
        let config = parse_config(json).unwrap();
        assert_eq!(config.servers[0].auth_origins, ["http://127.0.0.1:9090"]);
    }

    #[test]
    fn each_server_has_its_own_client_id_and_logo() {
        let json = br#"{"redirect_uri":"https://apps.example.org/cairn/","fhir_servers":[
            {"name":"Epic sandbox","client_id":"non-prod-id","fhir_base":"https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4"},
            {"name":" Example Health ","client_id":" prod-id ","fhir_base":"https://epic.example.org/FHIR/R4",
             "logo":"https://example.org/logo.svg"}]}"#;
        let config = parse_config(json).unwrap();
        assert_eq!(config.servers[0].client_id, "non-prod-id");
        assert_eq!(config.servers[0].logo, None);
        assert_eq!(config.servers[1].name, "Example Health");
        assert_eq!(config.servers[1].client_id, "prod-id");
        assert_eq!(
            config.servers[1].logo.as_deref(),
            Some("https://example.org/logo.svg")
        );
        for bad in [
            "javascript:alert(1)",
            "/logo.svg",
            "https://u@cdn.example/logo.svg",
            "data:image/png;base64,AAAA",
        ] {
            let json = format!(
                r#"{{"redirect_uri":"https://a.example/","fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","logo":"{bad}"}}]}}"#
            );
            assert_eq!(
                parse_config(json.as_bytes()),
                Err(ConfigError::BadLogo {
                    index: 0,
                    value: bad.into()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_server_may_name_its_mrn_identifier() {
        let json = |mrn: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"{mrn}}}]}}"#
            )
        };
        let rule = |type_text: Option<&str>, system: Option<&str>| MrnRule {
            type_text: type_text.map(str::to_owned),
            system: system.map(str::to_owned),
        };
        let cases: &[(&str, Result<Option<MrnRule>, ConfigError>)] = &[
            ("", Ok(None)),
            (r#","mrn":null"#, Ok(None)),
            (
                r#","mrn":{"type_text":" MRN "}"#,
                Ok(Some(rule(Some("MRN"), None))),
            ),
            (
                r#","mrn":{"system":"urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"}"#,
                Ok(Some(rule(
                    None,
                    Some("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14"),
                ))),
            ),
            (
                r#","mrn":{"type_text":"EPI","system":"http://hospital.example/mrn"}"#,
                Ok(Some(rule(Some("EPI"), Some("http://hospital.example/mrn")))),
            ),
            (r#","mrn":{}"#, Err(ConfigError::EmptyMrn(0))),
            (
                r#","mrn":{"type_text":"","system":"  "}"#,
                Err(ConfigError::EmptyMrn(0)),
            ),
            (
                r#","mrn":{"type_text":"MRN|1"}"#,
                Err(ConfigError::BadMrnTypeText {
                    index: 0,
                    value: "MRN|1".into(),
                }),
            ),
            (
                r#","mrn":{"system":"MRN"}"#,
                Err(ConfigError::BadMrnSystem {
                    index: 0,
                    value: "MRN".into(),
                }),
            ),
            (
                r#","mrn":{"system":"urn:oid:1 2"}"#,
                Err(ConfigError::BadMrnSystem {
                    index: 0,
                    value: "urn:oid:1 2".into(),
                }),
            ),
            (
                r#","mrn":{"system":"http://h.example/a,b"}"#,
                Err(ConfigError::BadMrnSystem {
                    index: 0,
                    value: "http://h.example/a,b".into(),
                }),
            ),
        ];
        for (mrn, expected) in cases {
            let got = parse_config(json(mrn).as_bytes()).map(|c| c.servers[0].mrn.clone());
            assert_eq!(&got, expected, "{mrn}");
        }
        let unknown = parse_config(json(r#","mrn":{"type":"MRN"}"#).as_bytes()).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("unknown field `type`, expected `type_text` or `system`"),
            "{unknown}"
        );
        assert!(
            ConfigError::EmptyMrn(2)
                .to_string()
                .starts_with("`fhir_servers[2].mrn` names no identifier")
        );
    }

    fn servers(list: &str) -> Result<Config, ConfigError> {
        let json = format!(r#"{{"redirect_uri":"https://app.example/","fhir_servers":[{list}]}}"#);
        parse_config(json.as_bytes())
    }

    #[test]
    fn each_server_may_pin_its_issuer_and_have_its_own_redirect_uri() {
        let config = servers(
            r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir",
                "issuer":"https://e.example/oauth2","redirect_uri":"https://app.example/index.html"},
               {"name":"F","client_id":"c","fhir_base":"https://f.example/fhir"}"#,
        )
        .unwrap();
        assert_eq!(
            config.servers[0].issuer.as_deref(),
            Some("https://e.example/oauth2")
        );
        assert_eq!(
            config.servers[0].redirect_uri,
            "https://app.example/index.html"
        );
        // Without its own, a server uses the top-level redirect URI.
        assert_eq!(config.servers[1].issuer, None);
        assert_eq!(config.servers[1].redirect_uri, "https://app.example/");
        // Each redirect URI must lead back to Cairn.
        assert!(config.check_redirect_uri("https://app.example/").is_ok());
        let elsewhere = servers(
            r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir",
                "redirect_uri":"https://evil.example/"}"#,
        )
        .unwrap();
        assert_eq!(
            elsewhere.check_redirect_uri("https://app.example/"),
            Err(ConfigError::RedirectUriElsewhere {
                redirect_uri: "https://evil.example/".into(),
                app_url: "https://app.example/".into(),
                suggested: "https://app.example/".into(),
            })
        );
        for (list, message) in [
            (
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","issuer":"https://login.example/oauth2"}"#,
                "`fhir_servers[0].issuer` \"https://login.example/oauth2\" must be an https: URL (http: only on localhost) on one of that server's `auth_origins`",
            ),
            (
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","issuer":"http://e.example/oauth2"}"#,
                "`fhir_servers[0].issuer`",
            ),
            (
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","auth_origins":["https://login.example"]},
                   {"name":"F","client_id":"c","fhir_base":"https://f.example/fhir","auth_origins":["https://login.example"],"issuer":"https://login.example/a"},
                   {"name":"G","client_id":"c","fhir_base":"https://g.example/fhir","auth_origins":["https://login.example"],"issuer":"https://login.example/a"}"#,
                "`fhir_servers[2].issuer` \"https://login.example/a\" is also another server's issuer",
            ),
            (
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","redirect_uri":"http://app.example/"}"#,
                "`fhir_servers[0].redirect_uri` \"http://app.example/\" must be an absolute https: URL",
            ),
            (
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","redirect_uri":"https://app.example/#x"}"#,
                "`fhir_servers[0].redirect_uri`",
            ),
        ] {
            let err = servers(list).unwrap_err().to_string();
            assert!(err.starts_with(message), "{err}");
        }
    }

    #[test]
    fn only_an_issuer_of_this_server_alone_is_trusted() {
        // RFC 9700 §4.4: a configured server (A) must not be able to name another's (H's)
        // issuer as its own, which would let H's answer pass for A's at the callback.
        let config = servers(
            r#"{"name":"H","client_id":"h","fhir_base":"https://h.example/fhir"},
               {"name":"A","client_id":"a","fhir_base":"https://a.example/fhir"},
               {"name":"S1","client_id":"s","fhir_base":"https://s1.example/fhir","auth_origins":["https://login.example"]},
               {"name":"S2","client_id":"s","fhir_base":"https://s2.example/fhir","auth_origins":["https://login.example"],"issuer":"https://login.example/s2"},
               {"name":"P","client_id":"p","fhir_base":"https://p.example/fhir","issuer":"https://p.example/oauth2"}"#,
        )
        .unwrap();
        let [h, a, s1, s2, p] = [0, 1, 2, 3, 4].map(|i| &config.servers[i]);
        let trusted = |server, issuer| config.trusted_issuer(server, issuer);
        assert_eq!(
            trusted(h, Some("https://h.example/oauth2")),
            Ok(Some("https://h.example/oauth2".into()))
        );
        assert_eq!(trusted(h, None), Ok(None));
        for (server, issuer) in [
            // A names H's issuer.
            (a, "https://h.example/oauth2"),
            (a, "https://evil.example/oauth2"),
            (a, "not a url"),
            (a, "http://a.example/oauth2"),
            // A shared sign-in origin cannot tell its servers apart: only pins can.
            (s1, "https://login.example/s1"),
            (s1, "https://login.example/s2"),
            // A pinned issuer is the only one accepted.
            (s2, "https://login.example/s1"),
            (p, "https://p.example/other"),
        ] {
            assert_eq!(
                trusted(server, Some(issuer)),
                Err(UntrustedIssuer {
                    issuer: issuer.into()
                }),
                "{} naming {issuer}",
                server.name
            );
        }
        assert_eq!(
            trusted(s2, Some("https://login.example/s2")),
            Ok(Some("https://login.example/s2".into()))
        );
        // A pinned issuer stands when discovery names none (the CapabilityStatement fallback).
        assert_eq!(
            trusted(p, None),
            Ok(Some("https://p.example/oauth2".into()))
        );
    }

    #[test]
    fn the_redirect_uri_must_lead_back_to_where_cairn_is_served() {
        let config = |redirect: &str| {
            let json = format!(
                r#"{{"redirect_uri":"{redirect}","fhir_servers":[{{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"}}]}}"#
            );
            parse_config(json.as_bytes()).unwrap()
        };
        let cases = [
            (
                "https://apps.example.org/cairn/",
                "https://apps.example.org/cairn/",
                true,
            ),
            (
                "https://apps.example.org/cairn/",
                "https://apps.example.org/cairn/index.html",
                true,
            ),
            (
                "https://apps.example.org/cairn/callback",
                "https://apps.example.org/cairn/",
                true,
            ),
            (
                "https://apps.example.org:443/cairn/",
                "https://apps.example.org/cairn/",
                true,
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/", true),
            (
                "https://apps.example.org/",
                "https://apps.example.org/",
                true,
            ),
            // Another origin, scheme or port: the code would go to someone else.
            (
                "https://apps.example.org/cairn/",
                "https://other.example.org/cairn/",
                false,
            ),
            (
                "https://apps.example.org/cairn/",
                "https://apps.example.org:8443/cairn/",
                false,
            ),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8081/", false),
            // The same origin, but not this app's directory.
            (
                "https://apps.example.org/",
                "https://apps.example.org/cairn/",
                false,
            ),
            (
                "https://apps.example.org/other/",
                "https://apps.example.org/cairn/",
                false,
            ),
            (
                "https://apps.example.org/cairn-old/",
                "https://apps.example.org/cairn/",
                false,
            ),
            ("https://apps.example.org/cairn/", "not a url", false),
        ];
        for (redirect, app, ok) in cases {
            assert_eq!(
                config(redirect).check_redirect_uri(app).is_ok(),
                ok,
                "redirect {redirect} for an app at {app}"
            );
        }
        assert_eq!(
            config("https://apps.example.org/")
                .check_redirect_uri("https://apps.example.org/cairn/index.html"),
            Err(ConfigError::RedirectUriElsewhere {
                redirect_uri: "https://apps.example.org/".into(),
                app_url: "https://apps.example.org/cairn/index.html".into(),
                suggested: "https://apps.example.org/cairn/".into(),
            })
        );
    }

    #[test]
    fn epic_client_id_header_is_off_unless_asked_for() {
        let json = |extra: &str| {
            format!(
                r#"{{"redirect_uri":"https://a.example/","fhir_servers":[
                {{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir"{extra}}}]}}"#
            )
        };
        let config = parse_config(json("").as_bytes()).unwrap();
        assert!(!config.servers[0].epic_client_id_header);
        let config = parse_config(json(r#","epic_client_id_header":true"#).as_bytes()).unwrap();
        assert!(config.servers[0].epic_client_id_header);
        let wrong = parse_config(json(r#","epic_client_id_header":"yes""#).as_bytes());
        assert!(
            matches!(&wrong, Err(ConfigError::Json(m)) if m.contains("epic_client_id_header") || m.contains("invalid type")),
            "{wrong:?}"
        );
    }
}
