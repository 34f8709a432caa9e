//! The in-process harness the sandbox's tests share: a router, requests through it, and the
//! steps of both launches.
#![allow(dead_code)] // Each test binary uses its own part.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use sandbox::{Config, Ehr};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8080/";
pub const ISSUER: &str = "http://127.0.0.1:9090/oauth2";

pub struct Harness {
    pub ehr: Ehr,
    pub app: Router,
}

pub fn harness() -> Harness {
    let ehr = Ehr::new(Config::dev(9090, 8080));
    let app = ehr.router();
    Harness { ehr, app }
}

pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The value of the hidden `txn` input of a sign-in page.
    pub fn txn(&self) -> String {
        let start = self.body.find("name=\"txn\" value=\"").expect("a txn") + 18;
        let len = self.body[start..].find('"').unwrap();
        self.body[start..start + len].to_owned()
    }
}

impl Harness {
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            location,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// A GET with `Authorization: Bearer <token>`.
    pub async fn get_with_token(&self, uri: &str, token: &str) -> Reply {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post_form(&self, uri: &str, pairs: &[(&str, &str)]) -> Reply {
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(pairs)))
            .unwrap();
        self.send(req).await
    }

    pub fn patient(&self, n: usize) -> String {
        self.ehr.patients()[n].id.clone()
    }

    /// The authorize URL for a fresh EHR launch of patient `n`, with `changes` applied.
    pub fn authorize_uri(&self, n: usize, changes: &[(&str, &str)]) -> String {
        let launch = self.ehr.create_launch(&self.patient(n)).unwrap();
        let mut all = vec![("launch", launch.as_str())];
        all.extend_from_slice(changes);
        self.standalone_uri("launch openid fhirUser patient/Patient.rs", &all)
    }

    /// The authorize URL of a standalone launch asking for `scope`, with `changes` applied.
    pub fn standalone_uri(&self, scope: &str, changes: &[(&str, &str)]) -> String {
        format!(
            "/oauth2/authorize?{}",
            form(&self.authorize_params(scope, changes))
        )
    }

    /// The authorize parameters for `scope`, with `changes` applied (an empty value removes).
    pub fn authorize_params(&self, scope: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let mut params: Vec<(String, String)> = [
            ("response_type", "code".to_owned()),
            ("client_id", "cairn-dev".to_owned()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("scope", scope.to_owned()),
            ("state", "state-123".to_owned()),
            ("aud", self.ehr.fhir_base()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in changes {
            params.retain(|(name, _)| name != k);
            if !v.is_empty() {
                params.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        params
    }

    /// Authorizes an EHR launch of patient `n` and returns the code from the redirect.
    pub async fn code_for(&self, n: usize) -> String {
        self.code_with(&self.authorize_uri(n, &[])).await
    }

    /// Authorizes an EHR launch of patient `n` asking for `scope`.
    pub async fn code_for_scope(&self, n: usize, scope: &str) -> String {
        let launch = self.ehr.create_launch(&self.patient(n)).unwrap();
        self.code_with(&self.standalone_uri(scope, &[("launch", &launch)]))
            .await
    }

    async fn code_with(&self, uri: &str) -> String {
        let reply = self.get(uri).await;
        assert!(reply.status.is_redirection(), "{}", reply.body);
        let location = reply.location.unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:8080/?code="),
            "{location}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("state-123")
        );
        assert_eq!(query_param(&location, "iss").as_deref(), Some(ISSUER));
        query_param(&location, "code").unwrap()
    }

    pub async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Reply {
        self.post_form(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", "cairn-dev"),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// The token response of an EHR launch of patient `n` asking for `scope`.
    pub async fn tokens_for_scope(&self, n: usize, scope: &str) -> Value {
        let code = self.code_for_scope(n, scope).await;
        let reply = self.exchange(&code, VERIFIER, REDIRECT_URI).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    pub async fn refresh(&self, refresh_token: &str, extra: &[(&str, &str)]) -> Reply {
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "cairn-dev"),
        ];
        pairs.extend_from_slice(extra);
        self.post_form("/oauth2/token", &pairs).await
    }

    /// A standalone sign-in up to its consent page: the authorize page, then `user`, then (for a
    /// clinician asking for `launch/patient`) `patient`. Returns the consent page.
    pub async fn standalone_to_consent(
        &self,
        scope: &str,
        user: &str,
        patient: Option<&str>,
    ) -> Reply {
        let login = self.get(&self.standalone_uri(scope, &[])).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        let txn = login.txn();
        let next = self
            .post_form("/oauth2/authorize/login", &[("txn", &txn), ("user", user)])
            .await;
        assert_eq!(next.status, StatusCode::OK, "{}", next.body);
        match patient {
            Some(p) => {
                assert!(next.body.contains("Choose a patient"), "{}", next.body);
                let consent = self
                    .post_form(
                        "/oauth2/authorize/patient",
                        &[("txn", &txn), ("patient", p)],
                    )
                    .await;
                assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
                consent
            }
            None => next,
        }
    }

    /// The token response of a standalone sign-in by `user` (`practitioner` or
    /// `patient:<id>`) who allows every scope of `scope` (which must not ask for a picker).
    pub async fn standalone_tokens(&self, scope: &str, user: &str) -> Value {
        let consent = self.standalone_to_consent(scope, user, None).await;
        let all: Vec<&str> = scope.split_whitespace().collect();
        let location = self.consent(&consent, &all, "allow").await;
        let code = query_param(&location, "code").unwrap_or_else(|| panic!("{location}"));
        let reply = self.exchange(&code, VERIFIER, REDIRECT_URI).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    /// Consents on `page` with only `ticked` scopes and returns the redirect's location.
    pub async fn consent(&self, page: &Reply, ticked: &[&str], decision: &str) -> String {
        let txn = page.txn();
        let mut pairs = vec![("txn", txn.as_str())];
        pairs.extend(ticked.iter().map(|s| ("scope", *s)));
        pairs.push(("decision", decision));
        let reply = self.post_form("/oauth2/authorize/consent", &pairs).await;
        assert!(
            reply.status.is_redirection(),
            "{}: {}",
            reply.status,
            reply.body
        );
        reply.location.unwrap()
    }
}

/// Checks the id_token's header and RS256 signature with the key from `/oauth2/jwks`, and
/// returns its claims.
pub async fn verified_claims(h: &Harness, id_token: &str) -> Value {
    try_verified_claims(h, id_token)
        .await
        .expect("the id_token's signature verifies")
}

/// Like [`verified_claims`], but a bad signature is an `Err`.
pub async fn try_verified_claims(h: &Harness, id_token: &str) -> Result<Value, String> {
    let jwks = h
        .send(
            Request::get("/oauth2/jwks")
                .header(header::ORIGIN, "http://127.0.0.1:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        jwks.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:8080"
    );
    let key = &jwks.json()["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], "dev-1");
    let b64 = |v: &Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
    let public = RsaPublicKey::new(
        BigUint::from_bytes_be(&b64(&key["n"])),
        BigUint::from_bytes_be(&b64(&key["e"])),
    )
    .unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "dev-1"})
    );
    let signature =
        Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|e| e.to_string())?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap())
}

/// `k=v&…`, percent-encoded.
pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                sandbox::url_encode(k.as_ref()),
                sandbox::url_encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| dec(v))
    })
}

pub fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The id_token's header and claims, and whether its signature verifies with the JWKS's single
/// key, whatever the `kid` (Epic mode and the `kid` faults).
pub async fn jwks_verified(h: &Harness, id_token: &str) -> (Value, Value, Result<(), String>) {
    let jwks = h.get("/oauth2/jwks").await.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    let b64 = |v: &Value| URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap();
    let public = RsaPublicKey::new(
        BigUint::from_bytes_be(&b64(&key["n"])),
        BigUint::from_bytes_be(&b64(&key["e"])),
    )
    .unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let signature =
        Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    let verified = VerifyingKey::<Sha256>::new(public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|e| e.to_string());
    let header = serde_json::json!({"header": header, "jwks_kid": key["kid"]});
    (header, claims, verified)
}

/// The harness with the EHR in Epic mode.
pub fn epic_harness() -> Harness {
    let h = harness();
    h.ehr.set_epic_mode(true);
    h
}

/// A preflight from the app's origin for `method` on `uri`, asking for `headers`.
pub fn preflight(uri: &str, method: &str, headers: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri(uri)
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
        .body(Body::empty())
        .unwrap()
}

/// A GET from the app's origin, with a bearer token when one is given.
pub fn cors_get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::get(uri).header(header::ORIGIN, "http://127.0.0.1:8080");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(Body::empty()).unwrap()
}

/// The Epic error code (`issue[0].details.coding[0].code`) of an OperationOutcome, checking
/// that it is under Epic's code system.
pub fn epic_code(outcome: &Value) -> String {
    assert_eq!(outcome["resourceType"], "OperationOutcome", "{outcome}");
    let coding = &outcome["issue"][0]["details"]["coding"][0];
    assert_eq!(
        coding["system"], "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369",
        "{outcome}"
    );
    assert!(outcome["issue"][0]["details"]["text"].is_string());
    coding["code"].as_str().unwrap().to_owned()
}

/// The OperationOutcome entries (`search.mode: outcome`) of a searchset, as their Epic codes
/// and severities.
pub fn outcome_entries(bundle: &Value) -> Vec<(String, String)> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "outcome")
        .map(|e| {
            (
                epic_code(&e["resource"]),
                e["resource"]["issue"][0]["severity"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

/// The `search.mode: match` resources of a searchset.
pub fn matched(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"].clone())
        .collect()
}
