//! SMART Backend Services: clients that sign in as themselves, with no user, through
//! `grant_type=client_credentials`.
//!
//! A client is registered with a JWKS (inline, or a URL fetched at every grant, as a key
//! rotation needs) or a shared secret, and the system scopes it may ask for
//! ([`Ehr::register_backend_client`]). The token endpoint checks a client assertion as SMART
//! Backend Services says: `RS384` or `ES384` signed by a registered key (`kid` when given),
//! `iss` = `sub` = the client id, `aud` = the token endpoint, `exp` in the future and at most
//! five minutes ahead, and a `jti` never seen before. As Epic maps a backend client to a
//! background user, its tokens act as this EHR's one user, with `system/` scopes only; those
//! scopes reach every patient. A user's sign-in can never obtain a `system/` scope.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::signature::Verifier;
use serde_json::{Value, json};

use crate::Ehr;
use crate::oauth::{self, Context, LaunchKind, User};

/// The `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live (`exp` − now), as SMART Backend Services allows.
pub const MAX_ASSERTION_LIFETIME_S: u64 = 300;
/// Largest JWKS read from a URL.
const MAX_JWKS_BYTES: usize = 64 * 1024;

/// How a backend client proves who it is.
#[derive(Debug, Clone)]
pub enum ClientKeys {
    /// A JWK Set, as registered.
    Jwks(Value),
    /// A JWK Set URL (`http://127.0.0.1…` or `http://localhost…` only), read at every grant.
    JwksUrl(String),
    /// A shared secret (`client_secret_basic` or `client_secret_post`).
    Secret(String),
}

/// A registered backend client.
#[derive(Debug, Clone)]
pub struct BackendClient {
    pub client_id: String,
    pub keys: ClientKeys,
    /// The `system/` scopes it may be granted (v2 `.rs`, `.r`, `.s` or v1 `.read`).
    pub scope: String,
}

/// Registered clients and the assertion ids seen.
#[derive(Default)]
pub(crate) struct Backends {
    clients: HashMap<String, BackendClient>,
    /// `jti` → the `exp` of its assertion; forgotten once that has passed.
    used_jtis: HashMap<String, u64>,
}

impl Ehr {
    /// Registers (or replaces) a backend client.
    pub fn register_backend_client(&self, client: BackendClient) {
        crate::lock(&self.inner.backends)
            .clients
            .insert(client.client_id.clone(), client);
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An OAuth error answer (RFC 6749 §5.2): `invalid_client` is 401, others 400.
fn refuse(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = json!({"error": error, "error_description": description});
    oauth::no_store((status, axum::Json(body)).into_response())
}

/// `grant_type=client_credentials` at the token endpoint.
pub(crate) async fn client_credentials(
    ehr: &Ehr,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let client = match authenticate(ehr, headers, form).await {
        Ok(client) => client,
        Err(description) => return refuse("invalid_client", &description),
    };
    let requested: Vec<&str> = form
        .get("scope")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return refuse("invalid_scope", "scope is required");
    }
    if let Some(denied) = requested.iter().find(|s| !may_grant(&client.scope, s)) {
        return refuse(
            "invalid_scope",
            &format!("this client is not registered for the scope {denied}"),
        );
    }
    let scope = requested.join(" ");
    let context = Context {
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        // Epic maps a backend client to a background user; this EHR has one user.
        user: User::Practitioner,
        patient: None,
        encounter: None,
        launch: LaunchKind::Standalone,
    };
    let (access_token, lifetime) = oauth::issue_access_token(ehr, context);
    let body = json!({
        "access_token": access_token,
        "token_type": if ehr.epic_mode() { "bearer" } else { "Bearer" },
        "expires_in": lifetime.as_secs(),
        "scope": scope,
    });
    oauth::no_store((StatusCode::OK, axum::Json(body)).into_response())
}

/// Whether a client registered for `registered` may be granted `scope`: a `system/` scope each
/// of whose permissions the registration allows.
fn may_grant(registered: &str, scope: &str) -> bool {
    let Some((resource_type, permissions)) = scope
        .strip_prefix("system/")
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    let actions: &[char] = match permissions.to_ascii_lowercase().as_str() {
        "read" => &['r', 's'],
        "rs" | "sr" => &['r', 's'],
        "r" => &['r'],
        "s" => &['s'],
        _ => return false,
    };
    resource_type != "*"
        && actions
            .iter()
            .all(|&a| oauth::permits(registered, "system", resource_type, a))
}

/// The client the request authenticates as: by a client assertion, or by a secret in the
/// `Authorization: Basic` header or the form. An error says what is wrong.
async fn authenticate(
    ehr: &Ehr,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<BackendClient, String> {
    let lookup = |client_id: &str| {
        crate::lock(&ehr.inner.backends)
            .clients
            .get(client_id)
            .cloned()
            .ok_or_else(|| format!("unknown client {client_id:?}"))
    };
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(format!("client_assertion_type must be {ASSERTION_TYPE}"));
        }
        let jwt = Jwt::parse(assertion)?;
        let client = lookup(&jwt.iss)?;
        if form
            .get("client_id")
            .is_some_and(|id| *id != client.client_id)
        {
            return Err("client_id is not the assertion's iss".to_owned());
        }
        let jwks = match &client.keys {
            ClientKeys::Jwks(set) => set.clone(),
            ClientKeys::JwksUrl(url) => fetch_jwks(url).await?,
            ClientKeys::Secret(_) => {
                return Err("this client is registered with a secret, not keys".to_owned());
            }
        };
        jwt.verify(&jwks)?;
        check_claims(ehr, &jwt)?;
        return Ok(client);
    }
    let (client_id, secret) = match basic_credentials(headers) {
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => {
                return Err(
                    "no client authentication: send a client assertion or a client secret"
                        .to_owned(),
                );
            }
        },
    };
    let client = lookup(&client_id)?;
    match &client.keys {
        ClientKeys::Secret(registered) if equal(registered.as_bytes(), secret.as_bytes()) => {
            Ok(client)
        }
        ClientKeys::Secret(_) => Err("the client secret is wrong".to_owned()),
        _ => Err("this client is registered with keys: sign a client assertion".to_owned()),
    }
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 writes it (both parts form-encoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((form_decode(user), form_decode(password)))
}

/// A form-encoded value decoded (`+` is a space, `%XX` a byte), as axum's `Form` decodes the
/// token request's body.
fn form_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Byte comparison that does not stop at the first difference.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A compact JWS, decoded but not yet trusted.
struct Jwt {
    alg: String,
    kid: Option<String>,
    iss: String,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    fn parse(text: &str) -> Result<Jwt, String> {
        let unreadable = || "the client assertion is not a readable JWT".to_owned();
        let mut parts = text.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unreadable());
        };
        let json = |part: &str| -> Result<Value, String> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| unreadable())?;
            serde_json::from_slice(&bytes).map_err(|_| unreadable())
        };
        let header = json(h)?;
        let claims = json(c)?;
        let alg = header["alg"].as_str().unwrap_or_default().to_owned();
        if alg != "RS384" && alg != "ES384" {
            return Err(format!(
                "the client assertion's alg {alg:?} is not accepted: sign with RS384 or ES384"
            ));
        }
        Ok(Jwt {
            alg,
            kid: header["kid"].as_str().map(str::to_owned),
            iss: claims["iss"].as_str().unwrap_or_default().to_owned(),
            claims,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).map_err(|_| unreadable())?,
        })
    }

    /// Verifies the signature with a key of `jwks` of the right type (and `kid`, when the
    /// header names one).
    fn verify(&self, jwks: &Value) -> Result<(), String> {
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        let candidates: Vec<&Value> = keys
            .iter()
            .filter(|k| self.kid.is_none() || k["kid"].as_str() == self.kid.as_deref())
            .filter(|k| k["alg"].as_str().is_none_or(|a| a == self.alg))
            .collect();
        if candidates.is_empty() {
            return Err(match &self.kid {
                Some(kid) => format!("no registered {} key has the kid {kid:?}", self.alg),
                None => format!("no registered key is for {}", self.alg),
            });
        }
        if candidates.iter().any(|k| self.verified_by(k)) {
            Ok(())
        } else {
            Err(
                "the client assertion's signature does not verify with the registered key"
                    .to_owned(),
            )
        }
    }

    fn verified_by(&self, jwk: &Value) -> bool {
        let field = |name: &str| {
            jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        let input = self.signing_input.as_bytes();
        match (self.alg.as_str(), jwk["kty"].as_str()) {
            ("RS384", Some("RSA")) => {
                let (Some(n), Some(e)) = (field("n"), field("e")) else {
                    return false;
                };
                let Ok(public) = rsa::RsaPublicKey::new(
                    rsa::BigUint::from_bytes_be(&n),
                    rsa::BigUint::from_bytes_be(&e),
                ) else {
                    return false;
                };
                let key = rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(public);
                rsa::pkcs1v15::Signature::try_from(self.signature.as_slice())
                    .is_ok_and(|sig| key.verify(input, &sig).is_ok())
            }
            ("ES384", Some("EC")) if jwk["crv"] == "P-384" => {
                let (Some(x), Some(y)) = (field("x"), field("y")) else {
                    return false;
                };
                let mut point = vec![0x04];
                point.extend(x);
                point.extend(y);
                let Ok(key) = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point) else {
                    return false;
                };
                p384::ecdsa::Signature::from_slice(&self.signature)
                    .is_ok_and(|sig| key.verify(input, &sig).is_ok())
            }
            _ => false,
        }
    }
}

/// `iss` = `sub`, `aud` = this token endpoint, `exp` ahead but at most five minutes, `jti` new.
fn check_claims(ehr: &Ehr, jwt: &Jwt) -> Result<(), String> {
    let claims = &jwt.claims;
    if claims["sub"].as_str() != Some(jwt.iss.as_str()) {
        return Err("the client assertion's sub must be its iss, the client id".to_owned());
    }
    let token_endpoint = format!("{}/oauth2/token", ehr.config().origin);
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => *aud == token_endpoint,
        Value::Array(list) => list.iter().any(|a| a.as_str() == Some(&token_endpoint)),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "the client assertion's aud must be the token endpoint, {token_endpoint}"
        ));
    }
    let now = now_s();
    let Some(exp) = claims["exp"].as_u64() else {
        return Err("the client assertion has no exp".to_owned());
    };
    if exp <= now {
        return Err("the client assertion has expired".to_owned());
    }
    if exp > now + MAX_ASSERTION_LIFETIME_S {
        return Err("the client assertion's exp is more than five minutes ahead".to_owned());
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if jti.is_empty() {
        return Err("the client assertion has no jti".to_owned());
    }
    let mut backends = crate::lock(&ehr.inner.backends);
    backends.used_jtis.retain(|_, seen_exp| *seen_exp > now);
    if backends.used_jtis.contains_key(jti) {
        return Err("the client assertion's jti was already used: sign a new one".to_owned());
    }
    backends.used_jtis.insert(jti.to_owned(), exp);
    Ok(())
}

/// A JWK Set from a loopback `http:` URL, read with a plain HTTP/1.1 GET.
async fn fetch_jwks(url: &str) -> Result<Value, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let unreadable = |why: &str| format!("the client's JWKS at {url} {why}");
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| unreadable("is not an http://127.0.0.1 address"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let host = authority.split(':').next().unwrap_or_default();
    if host != "127.0.0.1" && host != "localhost" {
        return Err(unreadable("is not on this machine"));
    }
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| unreadable(&format!("cannot be reached ({e})")))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| unreadable(&format!("cannot be reached ({e})")))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_JWKS_BYTES as u64 + 4096)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| unreadable(&format!("could not be read ({e})")))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| unreadable("answered no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(unreadable(&format!(
            "answered {}",
            head.lines().next().unwrap_or_default()
        )));
    }
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).map_err(|_| unreadable("is not a JWK Set"))
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_only_registered_system_reads() {
        let registered = "system/Patient.rs system/Observation.read";
        assert!(may_grant(registered, "system/Patient.rs"));
        assert!(may_grant(registered, "system/Patient.read"));
        assert!(may_grant(registered, "system/Observation.rs"));
        assert!(!may_grant(registered, "system/Encounter.rs"));
        assert!(!may_grant(registered, "system/Patient.cruds"));
        assert!(!may_grant(registered, "user/Patient.rs"));
        assert!(!may_grant("system/*.read", "system/*.read"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        for (credentials, id, secret) in [
            ("svc%3A1:p%40ss+w%C3%B6rd", "svc:1", "p@ss wörd"),
            // Sent without form encoding: `=`, `&`, `:` and a `%` that starts no escape stay.
            ("svc:a=b&c:%zz%2B100%", "svc", "a=b&c:%zz+100%"),
            // Bytes that are not UTF-8 become U+FFFD.
            ("svc:%FF", "svc", "\u{FFFD}"),
        ] {
            let mut headers = HeaderMap::new();
            let encoded = STANDARD.encode(credentials);
            headers.insert(
                header::AUTHORIZATION,
                format!("Basic {encoded}").parse().unwrap(),
            );
            assert_eq!(
                basic_credentials(&headers),
                Some((id.to_owned(), secret.to_owned())),
                "{credentials}"
            );
        }
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"), "{\"a\":1}");
    }
}
