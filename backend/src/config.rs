//! The companion's configuration file (TOML, or JSON when its name ends in `.json`), checked
//! with errors that name the field and say what to write, as the app's `cairn.config.json`.

use std::path::{Path, PathBuf};

use cairn::fhir::search::all_categories;
use cairn::smart::urls;
use serde::Deserialize;

use crate::assertion::Alg;

/// What a backend export needs: search patients, encounters and observations, system-wide.
pub const DEFAULT_SCOPE: &str = "system/Patient.rs system/Encounter.rs system/Observation.rs";

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// No trailing slash.
    pub fhir_base: String,
    /// `None`: read from the server's `.well-known/smart-configuration`.
    pub token_endpoint: Option<String>,
    pub client_id: String,
    pub auth: Auth,
    /// Single spaces between scopes.
    pub scope: String,
    /// The system of the identifier that holds the MRN.
    pub mrn_system: String,
    /// Observation categories exported, one search each.
    pub categories: Vec<String>,
}

/// How the client proves who it is at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// SMART Backend Services: a JWT signed with the client's private key.
    PrivateKeyJwt { key: PathBuf, kid: String, alg: Alg },
    /// OAuth 2.0 client credentials with a shared secret, read from the environment variable
    /// `secret_env` when a token is needed (never from the file).
    ClientSecret {
        placement: SecretPlacement,
        secret_env: String,
    },
}

/// Where a client secret goes (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPlacement {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Syntax(String),
    #[error("`{field}` is missing or empty: {hint}")]
    Missing {
        field: &'static str,
        hint: &'static str,
    },
    #[error(
        "`{field}` {value:?} must be an absolute https: URL (http: only on localhost) without \
         user, query or fragment"
    )]
    BadUrl { field: &'static str, value: String },
    #[error(
        "`auth.method` {0:?} is not one this client knows: write \"private_key_jwt\", \
         \"client_secret_basic\" or \"client_secret_post\""
    )]
    BadMethod(String),
    #[error("`auth.alg` {0:?} is not supported: write \"RS384\" or \"ES384\"")]
    BadAlg(String),
    #[error(
        "`auth.{field}` does not belong to `auth.method` {method:?}: remove it (private_key_jwt \
         takes `key`, `kid` and `alg`; the client_secret methods take `secret_env`)"
    )]
    StrayAuthField { field: &'static str, method: String },
    #[error(
        "`auth.secret_env` {0:?} is not an environment variable name: write the name of the \
         variable that holds the secret (letters, digits and `_`), never the secret itself"
    )]
    BadSecretEnv(String),
    #[error(
        "`scope` asks for {0:?}: this client reads only (`system/<Type>.rs`, or `.read` in SMART \
         v1), without wildcards"
    )]
    BadScope(String),
    #[error("`mrn_system` {0:?} is not a URI like urn:oid:1.2.840.114350… or https://…")]
    BadMrnSystem(String),
    #[error("`categories` entry {0:?} is not an Observation category code like \"laboratory\"")]
    BadCategory(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    fhir_base: String,
    token_endpoint: Option<String>,
    client_id: String,
    auth: RawAuth,
    scope: Option<String>,
    mrn_system: String,
    categories: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    method: String,
    key: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    secret_env: Option<String>,
}

/// Reads and checks the file at `path`. A relative `auth.key` is taken from the file's
/// directory.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration {}: {e}", path.display()))?;
    let json = path.extension().is_some_and(|e| e == "json");
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, json, dir).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks a configuration's text: JSON when `json`, else TOML. `dir` is where a relative key
/// path starts.
pub fn parse(text: &str, json: bool, dir: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = if json {
        serde_json::from_str(text)
            .map_err(|e| ConfigError::Syntax(format!("it is not a valid configuration ({e})")))?
    } else {
        toml::from_str(text).map_err(|e| {
            ConfigError::Syntax(format!(
                "it is not a valid configuration ({})",
                e.to_string().trim()
            ))
        })?
    };
    let fhir_base = endpoint("fhir_base", &raw.fhir_base)?;
    let token_endpoint = match raw.token_endpoint.filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(endpoint("token_endpoint", &t)?),
        None => None,
    };
    let client_id = raw.client_id.trim().to_owned();
    if client_id.is_empty() {
        return Err(ConfigError::Missing {
            field: "client_id",
            hint: "set it to the client id the EHR registered for this service",
        });
    }
    let auth = auth(raw.auth, dir)?;
    let scope = match raw.scope.as_deref().map(str::split_whitespace) {
        Some(words) => words.collect::<Vec<_>>().join(" "),
        None => DEFAULT_SCOPE.to_owned(),
    };
    if scope.is_empty() {
        return Err(ConfigError::Missing {
            field: "scope",
            hint: "remove it for the default, or list system/<Type>.rs scopes",
        });
    }
    if let Some(bad) = scope.split_whitespace().find(|s| !is_read_scope(s)) {
        return Err(ConfigError::BadScope(bad.to_owned()));
    }
    let mrn_system = raw.mrn_system.trim().to_owned();
    if mrn_system.is_empty() {
        return Err(ConfigError::Missing {
            field: "mrn_system",
            hint: "set it to the system of the patient identifier that holds the MRN",
        });
    }
    if !urls::is_system_uri(&mrn_system) {
        return Err(ConfigError::BadMrnSystem(mrn_system));
    }
    let categories = match raw.categories {
        None => all_categories().into_iter().map(str::to_owned).collect(),
        Some(list) if list.is_empty() => {
            return Err(ConfigError::Missing {
                field: "categories",
                hint: "remove it for every category, or list some, e.g. [\"laboratory\"]",
            });
        }
        Some(list) => list,
    };
    if let Some(bad) = categories.iter().find(|c| {
        c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    }) {
        return Err(ConfigError::BadCategory(bad.clone()));
    }
    Ok(Config {
        fhir_base,
        token_endpoint,
        client_id,
        auth,
        scope,
        mrn_system,
        categories,
    })
}

fn endpoint(field: &'static str, value: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError::BadUrl {
        field,
        value: value.to_owned(),
    };
    // Cairn's own parser and rules, so the pager and discovery accept what the settings do.
    let url = urls::acceptable(value.trim()).ok_or_else(bad)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn auth(raw: RawAuth, dir: &Path) -> Result<Auth, ConfigError> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let stray = |field: &'static str| ConfigError::StrayAuthField {
        field,
        method: raw.method.clone(),
    };
    match raw.method.as_str() {
        "private_key_jwt" => {
            if given(&raw.secret_env) {
                return Err(stray("secret_env"));
            }
            let key = raw.key.as_deref().map(str::trim).unwrap_or_default();
            if key.is_empty() {
                return Err(ConfigError::Missing {
                    field: "auth.key",
                    hint: "set it to the path of the private key (PKCS#8 PEM) `cairn-backend \
                           keygen` wrote",
                });
            }
            let kid = raw.kid.as_deref().map(str::trim).unwrap_or_default();
            if kid.is_empty() {
                return Err(ConfigError::Missing {
                    field: "auth.kid",
                    hint: "set it to the `kid` of the key in the JWKS registered with the EHR",
                });
            }
            let alg = match raw.alg.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(ConfigError::Missing {
                        field: "auth.alg",
                        hint: "set it to \"RS384\" or \"ES384\", the key's algorithm",
                    });
                }
                Some(a) => Alg::from_name(a).ok_or_else(|| ConfigError::BadAlg(a.to_owned()))?,
            };
            Ok(Auth::PrivateKeyJwt {
                key: dir.join(key),
                kid: kid.to_owned(),
                alg,
            })
        }
        "client_secret_basic" | "client_secret_post" => {
            for (field, value) in [("key", &raw.key), ("kid", &raw.kid), ("alg", &raw.alg)] {
                if given(value) {
                    return Err(stray(field));
                }
            }
            let name = raw.secret_env.as_deref().map(str::trim).unwrap_or_default();
            if name.is_empty() {
                return Err(ConfigError::Missing {
                    field: "auth.secret_env",
                    hint: "set it to the name of the environment variable that holds the \
                           client secret",
                });
            }
            let is_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !is_name {
                return Err(ConfigError::BadSecretEnv(name.to_owned()));
            }
            Ok(Auth::ClientSecret {
                placement: if raw.method == "client_secret_basic" {
                    SecretPlacement::Basic
                } else {
                    SecretPlacement::Post
                },
                secret_env: name.to_owned(),
            })
        }
        "" => Err(ConfigError::Missing {
            field: "auth.method",
            hint: "write \"private_key_jwt\", \"client_secret_basic\" or \"client_secret_post\"",
        }),
        other => Err(ConfigError::BadMethod(other.to_owned())),
    }
}

/// `system/<Type>.<read permissions>`: v2 `r`, `s` or `rs`, or v1 `read`; a v2 filter
/// (`?category=…`) is allowed. No wildcard, no other level.
fn is_read_scope(scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix("system/") else {
        return false;
    };
    let Some((resource_type, permissions)) = rest.split_once('.') else {
        return false;
    };
    let permissions = permissions.split('?').next().unwrap_or_default();
    let type_ok = resource_type
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
        && resource_type.chars().all(|c| c.is_ascii_alphanumeric());
    type_ok && matches!(permissions, "r" | "s" | "rs" | "read")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        fhir_base = "https://ehr.example/fhir/"
        client_id = "svc-1"
        mrn_system = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0"
        [auth]
        method = "private_key_jwt"
        key = "keys/private-key.pem"
        kid = "k1"
        alg = "ES384"
    "#;

    fn toml(text: &str) -> Result<Config, ConfigError> {
        parse(text, false, Path::new("/etc/cairn"))
    }

    #[test]
    fn minimal_toml_takes_the_defaults() {
        let config = toml(MINIMAL).unwrap();
        assert_eq!(config.fhir_base, "https://ehr.example/fhir");
        assert_eq!(config.token_endpoint, None);
        assert_eq!(config.scope, DEFAULT_SCOPE);
        assert_eq!(config.categories.len(), all_categories().len());
        assert_eq!(
            config.auth,
            Auth::PrivateKeyJwt {
                key: PathBuf::from("/etc/cairn/keys/private-key.pem"),
                kid: "k1".into(),
                alg: Alg::Es384,
            }
        );
    }

    #[test]
    fn json_with_a_secret_from_the_environment() {
        let config = parse(
            r#"{"fhir_base": "http://127.0.0.1:9090/fhir",
                "token_endpoint": "http://127.0.0.1:9090/oauth2/token",
                "client_id": "gw", "mrn_system": "http://hospital.smarthealthit.org",
                "scope": "system/Patient.read  system/Encounter.read system/Observation.read",
                "categories": ["laboratory"],
                "auth": {"method": "client_secret_post", "secret_env": "CAIRN_SECRET"}}"#,
            true,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            config.auth,
            Auth::ClientSecret {
                placement: SecretPlacement::Post,
                secret_env: "CAIRN_SECRET".into()
            }
        );
        assert_eq!(
            config.scope,
            "system/Patient.read system/Encounter.read system/Observation.read"
        );
        assert_eq!(config.categories, ["laboratory"]);
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases: [(&str, &str, &str); 9] = [
            (
                "client_id = \"svc-1\"",
                "client_id = \" \"",
                "`client_id` is missing",
            ),
            ("kid = \"k1\"", "", "`auth.kid` is missing"),
            ("alg = \"ES384\"", "alg = \"HS256\"", "`auth.alg` \"HS256\""),
            (
                "alg = \"ES384\"",
                "alg = \"ES384\"\nsecret_env = \"S\"",
                "`auth.secret_env` does not belong",
            ),
            (
                "https://ehr.example/fhir/",
                "http://ehr.example/fhir",
                "`fhir_base` \"http://ehr.example/fhir\"",
            ),
            (
                "method = \"private_key_jwt\"",
                "method = \"client_secret\"",
                "`auth.method` \"client_secret\"",
            ),
            (
                "client_id = \"svc-1\"",
                "client_id = \"svc-1\"\nscope = \"system/*.read\"",
                "`scope` asks for \"system/*.read\"",
            ),
            (
                "client_id = \"svc-1\"",
                "client_id = \"svc-1\"\nscope = \"system/Observation.cruds\"",
                "`scope` asks for \"system/Observation.cruds\"",
            ),
            (
                "client_id = \"svc-1\"",
                "client_id = \"svc-1\"\nclient_secret = \"s3cr3t\"",
                "unknown field `client_secret`",
            ),
        ];
        for (from, to, expected) in cases {
            let text = MINIMAL.replacen(from, to, 1);
            let error = toml(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected:?} not in {error:?}");
        }
    }

    #[test]
    fn an_mrn_system_is_a_uri_as_the_app_takes_it() {
        for (system, ok) in [
            ("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14", true),
            ("http://hospital.smarthealthit.org", true),
            ("https://ehr.example/mrn", true),
            ("MRN", false),
            ("urn:", false),
            ("urn:oid:1|2", false),
            // Token separators and spaces would change the search.
            ("urn:oid:1,2", false),
            ("urn:oid:1 2", false),
            // An http: or https: system is a URL as Cairn parses them.
            ("https:ehr.example/mrn", false),
            ("https://ehr.example/a b", false),
        ] {
            let text = MINIMAL.replacen("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0", system, 1);
            match toml(&text) {
                Ok(config) => {
                    assert!(ok, "{system:?} accepted");
                    assert_eq!(config.mrn_system, system);
                }
                Err(error) => {
                    assert!(!ok, "{system:?} refused: {error}");
                    assert_eq!(error, ConfigError::BadMrnSystem(system.to_owned()));
                }
            }
        }
    }

    #[test]
    fn a_secret_env_must_be_a_name_not_a_secret() {
        let text = MINIMAL
            .replace(
                "method = \"private_key_jwt\"",
                "method = \"client_secret_basic\"",
            )
            .replace("key = \"keys/private-key.pem\"\n", "")
            .replace("kid = \"k1\"\n", "")
            .replace("alg = \"ES384\"", "secret_env = \"hunter2!\"");
        assert_eq!(
            toml(&text).unwrap_err(),
            ConfigError::BadSecretEnv("hunter2!".into())
        );
    }
}
