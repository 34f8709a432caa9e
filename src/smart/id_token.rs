//! OpenID Connect id_token checks for the `openid fhirUser` scopes, sans IO.
//!
//! The work is split in three:
//!
//! 1. [`prepare`] decodes the compact JWS, refuses every algorithm but RS256, picks the signing
//!    key from the EHR's JWKS ([`jwks_request`], [`parse_jwks`]) and checks the claims (issuer,
//!    audience, times, subject, `fhirUser`).
//! 2. The browser layer (`web::webcrypto::verify_rs256`) checks the RSA signature of
//!    [`Pending::signing_input`] with WebCrypto.
//! 3. [`Pending::accept`] hands out the [`SignedInUser`] only when that signature verified.
//!
//! The id_token only serves "Signed in as": the session rests on the access token. So a check
//! that fails ends the session only on evidence of tampering (a signature that fails with the
//! key the EHR published for it, a wrong issuer, a wrong audience); any other failure means no
//! name is shown and the chart goes on ([`Identity`], [`IdTokenError::is_tampering`]).
//!
//! Nothing here reads a clock (`now_s` is a parameter) and nothing panics on any input.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::domain::decimal;
use crate::domain::problem::{NextStep, Problem, truncate_for_display};
use crate::fhir::request::is_valid_id;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::secret::IdToken;

/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Largest id_token read (compact serialization, in bytes).
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// Tolerated clock difference for `exp`, in seconds.
pub const EXPIRY_SKEW_S: f64 = 60.0;
/// How far in the future `iat` (and `nbf`) may lie, in seconds.
pub const MAX_IAT_AHEAD_S: f64 = 300.0;
/// Smallest RSA modulus accepted: 2048 bits.
const MIN_MODULUS_BYTES: usize = 256;
/// Largest RSA modulus accepted: 8192 bits.
const MAX_MODULUS_BYTES: usize = 1024;
/// Longest `sub` accepted (OpenID Connect Core §2: at most 255 ASCII characters).
const MAX_SUBJECT_CHARS: usize = 255;
/// Resource types a `fhirUser` may name (SMART App Launch 2.2, scopes `fhirUser`).
const FHIR_USER_TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Person",
];

/// An RSA public key as the JWKS gives it: base64url modulus and exponent, unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub n: String,
    pub e: String,
}

/// One usable key of the JWKS and its `kid`, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksKey {
    pub kid: Option<String>,
    pub jwk: Jwk,
}

/// The RSA signing keys of the EHR's JWKS; every other key has been dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Jwks {
    pub keys: Vec<JwksKey>,
}

/// What the id_token must say: who issued it, for which app, and the FHIR server of the launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The `issuer` from discovery, compared exactly with `iss`.
    pub issuer: String,
    pub client_id: String,
    /// The FHIR base URL of the launch; an absolute `fhirUser` must lie under it.
    pub fhir_base: String,
}

/// The FHIR resource of the signed-in user (`fhirUser`), e.g. `Practitioner/123`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirUser {
    pub resource_type: String,
    pub id: String,
}

impl FhirUser {
    /// The relative reference, `Type/id`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

/// Who signed in, from an id_token whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInUser {
    /// The `sub` claim.
    pub subject: String,
    pub fhir_user: Option<FhirUser>,
    /// The `name` claim (or `given_name` and `family_name`), shortened for display. `None` when
    /// the token has no name claims (Epic's have none): an id is never shown in its place.
    pub display_name: Option<String>,
}

/// What the id_token check means for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The token verified: show its name, if it has one.
    SignedIn(SignedInUser),
    /// The token could not be checked, or a check failed without any sign of tampering (the
    /// keys could not be fetched, no published key matches, a skewed clock, a `fhirUser`
    /// outside the FHIR base): show no name and go on. The error says why.
    Unverifiable(IdTokenError),
    /// Evidence of tampering: end the session.
    Tampered(IdTokenError),
}

impl Identity {
    /// The outcome of a check that ended with `result`.
    pub fn from_check(result: Result<SignedInUser, IdTokenError>) -> Identity {
        match result {
            Ok(user) => Identity::SignedIn(user),
            Err(err) if err.is_tampering() => Identity::Tampered(err),
            Err(err) => Identity::Unverifiable(err),
        }
    }

    /// The name to show as "Signed in as", when the token verified and has one.
    pub fn display_name(&self) -> Option<&str> {
        match self {
            Identity::SignedIn(user) => user.display_name.as_deref(),
            Identity::Unverifiable(_) | Identity::Tampered(_) => None,
        }
    }
}

/// An id_token whose claims passed, waiting for its signature to be checked.
///
/// `Debug` leaves out the signing input and the claims (they are the token).
pub struct Pending {
    /// The ASCII bytes `BASE64URL(header) "." BASE64URL(payload)`, the data that was signed.
    pub signing_input: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The key of the JWKS that must have made the signature.
    pub key: Jwk,
    /// True when `key` is the one the token names (its `kid`, or the only key when it names
    /// none); false when no key has its `kid` and the JWKS's only key is tried instead.
    key_named: bool,
    user: SignedInUser,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("signing_input", &"[redacted]")
            .field("signature_len", &self.signature.len())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The signed-in user, when the signature over `signing_input` verified with `key`. A
    /// signature that fails with the key the token names is tampering ([`BadSignature`]); with
    /// the only key tried in place of an unknown `kid`, the EHR may simply have rotated its keys
    /// ([`KeyNotFound`]).
    ///
    /// [`BadSignature`]: IdTokenError::BadSignature
    /// [`KeyNotFound`]: IdTokenError::KeyNotFound
    pub fn accept(self, signature_valid: bool) -> Result<SignedInUser, IdTokenError> {
        match (signature_valid, self.key_named) {
            (true, _) => Ok(self.user),
            (false, true) => Err(IdTokenError::BadSignature),
            (false, false) => Err(IdTokenError::KeyNotFound),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the EHR's list of signing keys could not be fetched (blocked or no connection)")]
    JwksUnreachable,
    #[error("the EHR's list of signing keys could not be fetched (HTTP {0})")]
    JwksHttp(u16),
    #[error("the EHR's list of signing keys is not readable")]
    JwksMalformed,
    #[error("the EHR's list of signing keys has no key Cairn can use")]
    NoUsableKeys,
    #[error("the identity token is too large")]
    TooLarge,
    #[error("the identity token is not a well-formed signed token")]
    Malformed,
    #[error("the identity token is not signed")]
    Unsigned,
    #[error("the identity token is signed with a shared secret, which a browser app cannot check")]
    SharedSecretAlgorithm,
    #[error("the identity token uses a signature algorithm Cairn does not accept")]
    UnsupportedAlgorithm,
    #[error("the identity token requires extensions Cairn does not support")]
    UnsupportedCritical,
    #[error("the identity token was signed with a key the EHR does not list")]
    KeyNotFound,
    #[error("the identity token does not say which of the EHR's keys signed it")]
    AmbiguousKey,
    #[error("the identity token comes from a different sign-in server than expected")]
    IssuerMismatch,
    #[error("the identity token was issued for a different app")]
    AudienceMismatch,
    #[error("the identity token was requested by a different app")]
    AuthorizedPartyMismatch,
    #[error("the identity token has no expiry or issue time")]
    MissingTimes,
    #[error("the identity token has expired")]
    Expired,
    #[error("the identity token was issued in the future (is this device's clock right?)")]
    IssuedInFuture,
    #[error("the identity token is not valid yet (is this device's clock right?)")]
    NotYetValid,
    #[error("the identity token does not say who signed in")]
    MissingSubject,
    #[error("the signed-in user's record is on a different FHIR server")]
    FhirUserOtherServer,
    #[error("the signed-in user's record reference is not usable")]
    FhirUserInvalid,
    #[error("this browser could not check the identity token's signature")]
    SignatureNotChecked,
    #[error("the identity token's signature does not match the EHR's key")]
    BadSignature,
}

impl IdTokenError {
    /// Evidence that the token was tampered with or was not made for this sign-in: a
    /// signature that fails with the key the EHR published for it, another issuer, another
    /// audience (or authorized party). Only these end the session; any other failure leaves
    /// the user signed in without a name shown.
    pub fn is_tampering(&self) -> bool {
        matches!(
            self,
            IdTokenError::BadSignature
                | IdTokenError::IssuerMismatch
                | IdTokenError::AudienceMismatch
                | IdTokenError::AuthorizedPartyMismatch
        )
    }

    pub fn problem(&self) -> Problem {
        // The message names the failed check only: never the token, a claim or a key id.
        Problem::new(
            "Cairn could not confirm who signed in",
            format!("Cairn stopped because {self}."),
            NextStep::Relaunch,
        )
    }
}

/// The JWKS request. The caller has checked that `jwks_uri` is on an allowed origin.
pub fn jwks_request(jwks_uri: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: jwks_uri.to_owned(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
        max_body: MAX_JWKS_BYTES,
    }
}

/// Reads a JWKS, keeping the RSA keys usable for RS256 signatures.
pub fn parse_jwks(resp: &HttpResponse) -> Result<Jwks, IdTokenError> {
    if !resp.is_success() {
        return Err(IdTokenError::JwksHttp(resp.status));
    }
    if resp.body.len() > MAX_JWKS_BYTES {
        return Err(IdTokenError::JwksMalformed);
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&resp.body) else {
        return Err(IdTokenError::JwksMalformed);
    };
    let Some(Value::Array(keys)) = doc.get("keys") else {
        return Err(IdTokenError::JwksMalformed);
    };
    let keys: Vec<JwksKey> = keys.iter().filter_map(usable_key).collect();
    if keys.is_empty() {
        return Err(IdTokenError::NoUsableKeys);
    }
    Ok(Jwks { keys })
}

/// The key, when it is an RSA public key for RS256 signatures.
fn usable_key(value: &Value) -> Option<JwksKey> {
    let key = value.as_object()?;
    let text = |name: &str| key.get(name).map(Value::as_str);
    if text("kty")? != Some("RSA") {
        return None;
    }
    if !matches!(text("use"), None | Some(Some("sig"))) {
        return None;
    }
    if !matches!(text("alg"), None | Some(Some("RS256"))) {
        return None;
    }
    if let Some(ops) = key.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return None;
        }
    }
    let kid = match text("kid") {
        None => None,
        Some(Some(kid)) => Some(kid.to_owned()),
        Some(None) => return None,
    };
    let n = text("n")??;
    let e = text("e")??;
    let modulus = decode(n)?;
    let modulus_len = modulus.iter().skip_while(|b| **b == 0).count();
    if !(MIN_MODULUS_BYTES..=MAX_MODULUS_BYTES).contains(&modulus_len) {
        return None;
    }
    let exponent = decode(e)?;
    if exponent.is_empty() || exponent.len() > 8 || exponent.iter().all(|b| *b == 0) {
        return None;
    }
    Some(JwksKey {
        kid,
        jwk: Jwk {
            n: n.to_owned(),
            e: e.to_owned(),
        },
    })
}

/// Base64url without padding, canonical (RFC 7515 §2).
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A compact JWS taken apart; nothing checked but its shape and its `alg`.
struct Jws {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// Splits a compact JWS (exactly three base64url parts, no padding) whose `alg` is RS256.
fn split(token: &str) -> Result<Jws, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(IdTokenError::TooLarge);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts.as_slice() else {
        return Err(IdTokenError::Malformed);
    };
    let header = decode_object(header_b64)?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        Some(alg) if alg.eq_ignore_ascii_case("none") => return Err(IdTokenError::Unsigned),
        Some(alg) if alg.starts_with("HS") => return Err(IdTokenError::SharedSecretAlgorithm),
        Some(_) => return Err(IdTokenError::UnsupportedAlgorithm),
        None => return Err(IdTokenError::Malformed),
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; Cairn knows none.
    if header.contains_key("crit") {
        return Err(IdTokenError::UnsupportedCritical);
    }
    let claims = decode_object(claims_b64)?;
    let signature = decode(signature_b64)
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::Malformed)?;
    Ok(Jws {
        header,
        claims,
        signing_input: format!("{header_b64}.{claims_b64}").into_bytes(),
        signature,
    })
}

fn decode_object(part: &str) -> Result<Map<String, Value>, IdTokenError> {
    match decode(part).map(|bytes| serde_json::from_slice::<Value>(&bytes)) {
        Some(Ok(Value::Object(map))) => Ok(map),
        _ => Err(IdTokenError::Malformed),
    }
}

/// Decodes the id_token, picks its key and checks its claims. The user it carries is handed out
/// by [`Pending::accept`] once the browser has verified the signature.
pub fn prepare(
    id_token: &IdToken,
    jwks: &Jwks,
    expected: &Expected,
    now_s: f64,
) -> Result<Pending, IdTokenError> {
    let jws = split(id_token.secret())?;
    // Issuer and audience first: a token from another server or for another app ends the
    // session even when its key cannot be found.
    check_issuer_and_audience(&jws.claims, expected)?;
    let (key, key_named) = select_key(&jws.header, jwks)?;
    let user = check_claims(&jws.claims, expected, now_s)?;
    Ok(Pending {
        signing_input: jws.signing_input,
        signature: jws.signature,
        key,
        key_named,
        user,
    })
}

/// The key named by the header's `kid`; without a `kid`, the JWKS's only key. When no key has
/// the `kid` and the JWKS holds a single key, that key is tried (`false`: not named).
fn select_key(header: &Map<String, Value>, jwks: &Jwks) -> Result<(Jwk, bool), IdTokenError> {
    let candidates: Vec<&JwksKey> = match header.get("kid") {
        None => jwks.keys.iter().collect(),
        Some(Value::String(kid)) => {
            let named: Vec<&JwksKey> = jwks
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                .collect();
            if let ([], [only]) = (named.as_slice(), jwks.keys.as_slice()) {
                return Ok((only.jwk.clone(), false));
            }
            named
        }
        Some(_) => return Err(IdTokenError::Malformed),
    };
    match candidates.as_slice() {
        [only] => Ok((only.jwk.clone(), true)),
        [] => Err(IdTokenError::KeyNotFound),
        _ => Err(IdTokenError::AmbiguousKey),
    }
}

fn check_issuer_and_audience(
    claims: &Map<String, Value>,
    expected: &Expected,
) -> Result<(), IdTokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);

    if text("iss") != Some(expected.issuer.as_str()) {
        return Err(IdTokenError::IssuerMismatch);
    }

    let client_id = expected.client_id.as_str();
    match claims.get("aud") {
        Some(Value::String(aud)) if aud == client_id => {}
        Some(Value::Array(auds)) if auds.iter().any(|a| a.as_str() == Some(client_id)) => {}
        _ => return Err(IdTokenError::AudienceMismatch),
    }
    // OpenID Connect Core §3.1.3.7: a present `azp` must be this client, and a token that also
    // names other audiences (which Cairn cannot judge) must name this client as `azp`.
    let other_audiences = matches!(claims.get("aud"), Some(Value::Array(auds))
        if auds.iter().any(|a| a.as_str() != Some(client_id)));
    if (claims.contains_key("azp") || other_audiences) && text("azp") != Some(client_id) {
        return Err(IdTokenError::AuthorizedPartyMismatch);
    }
    Ok(())
}

/// The times, the subject and `fhirUser`, once issuer and audience have passed.
fn check_claims(
    claims: &Map<String, Value>,
    expected: &Expected,
    now_s: f64,
) -> Result<SignedInUser, IdTokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);

    let number = |name: &str| claims.get(name).and_then(decimal::json_number);
    let (Some(exp), Some(iat)) = (number("exp"), number("iat")) else {
        return Err(IdTokenError::MissingTimes);
    };
    // Comparisons with a NaN are false, so a NaN `now_s` fails closed.
    let unexpired = exp > now_s - EXPIRY_SKEW_S;
    if !unexpired {
        return Err(IdTokenError::Expired);
    }
    let issued_by_now = iat <= now_s + MAX_IAT_AHEAD_S;
    if !issued_by_now {
        return Err(IdTokenError::IssuedInFuture);
    }
    // `nbf`, when present, with the same allowance for a slow clock as `iat`.
    match claims.get("nbf") {
        None => {}
        Some(nbf)
            if decimal::json_number(nbf).is_some_and(|nbf| nbf <= now_s + MAX_IAT_AHEAD_S) => {}
        Some(_) => return Err(IdTokenError::NotYetValid),
    }

    let subject = text("sub")
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_SUBJECT_CHARS)
        .ok_or(IdTokenError::MissingSubject)?;

    let fhir_user = match claims.get("fhirUser") {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) => Some(parse_fhir_user(value, &expected.fhir_base)?),
        Some(_) => return Err(IdTokenError::FhirUserInvalid),
    };

    // Name claims only (OpenID Connect Core §5.1): never `sub`, `fhirUser` or
    // `preferred_username`, which are ids.
    let trimmed = |name: &str| text(name).map(str::trim).filter(|n| !n.is_empty());
    let display_name = trimmed("name")
        .map(str::to_owned)
        .or_else(|| {
            let parts: Vec<&str> = [trimmed("given_name"), trimmed("family_name")]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .map(|n| truncate_for_display(&n, 200));

    Ok(SignedInUser {
        subject: subject.to_owned(),
        fhir_user,
        display_name,
    })
}

/// `Type/id`, or `<fhir_base>/Type/id`; other servers, other types and odd ids are refused.
fn parse_fhir_user(value: &str, fhir_base: &str) -> Result<FhirUser, IdTokenError> {
    let base = fhir_base.trim_end_matches('/');
    let reference = if value.contains(':') {
        // An absolute URL: it must lie under the FHIR base of this launch.
        match value.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
            Some(rest) if !base.is_empty() => rest,
            _ => return Err(IdTokenError::FhirUserOtherServer),
        }
    } else {
        value
    };
    let Some((resource_type, id)) = reference.split_once('/') else {
        return Err(IdTokenError::FhirUserInvalid);
    };
    if !FHIR_USER_TYPES.contains(&resource_type) || !is_valid_id(id) {
        return Err(IdTokenError::FhirUserInvalid);
    }
    Ok(FhirUser {
        resource_type: resource_type.to_owned(),
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SplitMix;
    use serde_json::json;

    // RFC 7515 Appendix A.2: RS256.
    const RFC_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const RFC_A2_E: &str = "AQAB";
    const RFC_A2_SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const RFC_A2_SIGNATURE_B64: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    /// The signature octets as RFC 7515 A.2.1 lists them.
    const RFC_A2_SIGNATURE: [u8; 256] = [
        112, 46, 33, 137, 67, 232, 143, 209, 30, 181, 216, 45, 191, 120, 69, 243, 65, 6, 174, 27,
        129, 255, 247, 115, 17, 22, 173, 209, 113, 125, 131, 101, 109, 66, 10, 253, 60, 150, 238,
        221, 115, 162, 102, 62, 81, 102, 104, 123, 0, 11, 135, 34, 110, 1, 135, 237, 16, 115, 249,
        69, 229, 130, 173, 252, 239, 22, 216, 90, 121, 142, 232, 198, 109, 219, 61, 184, 151, 91,
        23, 208, 148, 2, 190, 237, 213, 217, 217, 112, 7, 16, 141, 178, 129, 96, 213, 248, 4, 12,
        167, 68, 87, 98, 184, 31, 190, 127, 249, 217, 46, 10, 231, 111, 36, 242, 91, 51, 187, 230,
        244, 74, 230, 30, 177, 4, 10, 203, 32, 4, 77, 62, 249, 18, 142, 212, 1, 48, 121, 91, 212,
        189, 59, 65, 238, 202, 208, 102, 171, 101, 25, 129, 253, 228, 141, 247, 127, 55, 45, 195,
        139, 159, 175, 221, 59, 239, 177, 139, 93, 163, 204, 60, 46, 176, 47, 158, 58, 65, 214, 18,
        202, 173, 21, 145, 18, 115, 160, 95, 35, 185, 232, 56, 250, 175, 132, 157, 105, 132, 41,
        239, 90, 30, 136, 121, 130, 54, 195, 212, 14, 96, 69, 34, 165, 68, 200, 242, 122, 122, 45,
        184, 6, 99, 209, 108, 247, 202, 234, 86, 222, 64, 92, 178, 33, 90, 69, 178, 194, 85, 102,
        181, 90, 193, 167, 72, 160, 112, 223, 200, 163, 42, 70, 149, 67, 208, 25, 238, 251, 71,
    ];
    /// The first octets of the JWS Signing Input as RFC 7515 A.2.1 lists them.
    const RFC_A2_SIGNING_INPUT_HEAD: [u8; 20] = [
        101, 121, 74, 104, 98, 71, 99, 105, 79, 105, 74, 83, 85, 122, 73, 49, 78, 105, 74, 57,
    ];

    const NOW: f64 = 1_700_000_000.0;
    const ISSUER: &str = "https://ehr.example/oauth2";

    fn rfc_jws() -> String {
        format!("{RFC_A2_SIGNING_INPUT}.{RFC_A2_SIGNATURE_B64}")
    }

    fn rfc_jwk() -> Jwk {
        Jwk {
            n: RFC_A2_N.into(),
            e: RFC_A2_E.into(),
        }
    }

    /// A second, unrelated 2048-bit "modulus" (only its size matters here).
    fn other_jwk() -> Jwk {
        Jwk {
            n: URL_SAFE_NO_PAD.encode([0xC5u8; 256]),
            e: RFC_A2_E.into(),
        }
    }

    fn jwks() -> Jwks {
        Jwks {
            keys: vec![
                JwksKey {
                    kid: Some("k1".into()),
                    jwk: rfc_jwk(),
                },
                JwksKey {
                    kid: Some("k2".into()),
                    jwk: other_jwk(),
                },
            ],
        }
    }

    fn expected() -> Expected {
        Expected {
            issuer: ISSUER.into(),
            client_id: "cairn".into(),
            fhir_base: "https://ehr.example/fhir".into(),
        }
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// An unsigned test token: real header and claims, placeholder signature bytes.
    fn token(header: Value, claims: Value) -> IdToken {
        IdToken::new(format!(
            "{}.{}.{}",
            b64(&header),
            b64(&claims),
            URL_SAFE_NO_PAD.encode(b"not a real signature")
        ))
    }

    fn header() -> Value {
        json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER,
            "aud": "cairn",
            "sub": "user-42",
            "exp": NOW + 300.0,
            "iat": NOW - 10.0,
            "fhirUser": "Practitioner/123",
            "name": "Dr. Ada Example",
        })
    }

    fn with(mut value: Value, edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
        edit(value.as_object_mut().unwrap());
        value
    }

    fn set(name: &'static str, v: Value) -> impl FnOnce(&mut Map<String, Value>) {
        move |m| {
            m.insert(name.into(), v);
        }
    }

    fn remove(name: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
        move |m| {
            m.remove(name);
        }
    }

    fn run(token: &IdToken, jwks: &Jwks) -> Result<SignedInUser, IdTokenError> {
        prepare(token, jwks, &expected(), NOW).and_then(|p| p.accept(true))
    }

    fn practitioner(id: &str) -> Option<FhirUser> {
        Some(FhirUser {
            resource_type: "Practitioner".into(),
            id: id.into(),
        })
    }

    #[test]
    fn rfc7515_a2_splits_into_the_exact_signing_input_and_signature() {
        let jws = split(&rfc_jws()).unwrap();
        assert_eq!(jws.signing_input, RFC_A2_SIGNING_INPUT.as_bytes());
        assert_eq!(&jws.signing_input[..20], &RFC_A2_SIGNING_INPUT_HEAD);
        assert_eq!(jws.signature, RFC_A2_SIGNATURE);
        assert_eq!(jws.header, *json!({"alg": "RS256"}).as_object().unwrap());
        assert_eq!(jws.claims.get("iss"), Some(&json!("joe")));
        assert_eq!(jws.claims.get("exp"), Some(&json!(1_300_819_380)));
        assert_eq!(
            jws.claims.get("http://example.com/is_root"),
            Some(&json!(true))
        );
    }

    #[test]
    fn rfc7515_a2_passes_decoding_and_key_choice_then_meets_the_claim_checks() {
        // The example's claims are not an id_token (no `aud`, long expired): `prepare` gets
        // through the split and the algorithm and stops at the issuer and audience, which are
        // checked before the key is chosen.
        let only_rfc_key = Jwks {
            keys: vec![JwksKey {
                kid: None,
                jwk: rfc_jwk(),
            }],
        };
        let id_token = IdToken::new(rfc_jws());
        let joe = Expected {
            issuer: "joe".into(),
            ..expected()
        };
        let err = |exp: &Expected, now| prepare(&id_token, &only_rfc_key, exp, now).unwrap_err();
        assert_eq!(err(&expected(), NOW), IdTokenError::IssuerMismatch);
        assert_eq!(err(&joe, NOW), IdTokenError::AudienceMismatch);
        // Even with two keys and no `kid` (which Cairn would not guess between).
        assert_eq!(
            prepare(&id_token, &jwks(), &joe, NOW).unwrap_err(),
            IdTokenError::AudienceMismatch
        );
    }

    #[test]
    fn pending_carries_the_signed_bytes_the_key_and_the_user() {
        let header_b64 = b64(&header());
        let claims_b64 = b64(&claims());
        let id_token = IdToken::new(format!("{header_b64}.{claims_b64}.{RFC_A2_SIGNATURE_B64}"));
        let pending = prepare(&id_token, &jwks(), &expected(), NOW).unwrap();
        assert_eq!(
            pending.signing_input,
            format!("{header_b64}.{claims_b64}").into_bytes()
        );
        assert_eq!(pending.signature, RFC_A2_SIGNATURE);
        assert_eq!(pending.key, rfc_jwk());
        assert!(!format!("{pending:?}").contains(&claims_b64));

        let k2 = token(with(header(), set("kid", json!("k2"))), claims());
        assert_eq!(
            prepare(&k2, &jwks(), &expected(), NOW).unwrap().key,
            other_jwk()
        );
    }

    #[test]
    fn the_user_is_only_handed_out_after_the_signature_verified() {
        let pending = || prepare(&token(header(), claims()), &jwks(), &expected(), NOW).unwrap();
        assert_eq!(pending().accept(false), Err(IdTokenError::BadSignature));
        assert_eq!(
            pending().accept(true),
            Ok(SignedInUser {
                subject: "user-42".into(),
                fhir_user: practitioner("123"),
                display_name: Some("Dr. Ada Example".into()),
            })
        );
    }

    #[test]
    fn header_checks() {
        use IdTokenError::*;
        let none_token = IdToken::new(format!(
            "{}.{}.",
            b64(&json!({"alg": "none"})),
            b64(&claims())
        ));
        let cases: Vec<(&str, IdToken, Result<(), IdTokenError>)> = vec![
            ("good", token(header(), claims()), Ok(())),
            ("alg none, empty signature", none_token, Err(Unsigned)),
            (
                "alg None",
                token(json!({"alg": "None"}), claims()),
                Err(Unsigned),
            ),
            (
                "HS256",
                token(json!({"alg": "HS256", "kid": "k1"}), claims()),
                Err(SharedSecretAlgorithm),
            ),
            (
                "HS512",
                token(json!({"alg": "HS512"}), claims()),
                Err(SharedSecretAlgorithm),
            ),
            (
                "RS512",
                token(json!({"alg": "RS512", "kid": "k1"}), claims()),
                Err(UnsupportedAlgorithm),
            ),
            (
                "ES256",
                token(json!({"alg": "ES256", "kid": "k1"}), claims()),
                Err(UnsupportedAlgorithm),
            ),
            (
                "lower-case rs256",
                token(json!({"alg": "rs256", "kid": "k1"}), claims()),
                Err(UnsupportedAlgorithm),
            ),
            (
                "alg missing",
                token(json!({"kid": "k1"}), claims()),
                Err(Malformed),
            ),
            (
                "alg not a string",
                token(json!({"alg": ["RS256"], "kid": "k1"}), claims()),
                Err(Malformed),
            ),
            (
                "crit",
                token(with(header(), set("crit", json!(["exp"]))), claims()),
                Err(UnsupportedCritical),
            ),
            (
                "kid not found",
                token(with(header(), set("kid", json!("k9"))), claims()),
                Err(KeyNotFound),
            ),
            (
                "kid not a string",
                token(with(header(), set("kid", json!(1))), claims()),
                Err(Malformed),
            ),
            (
                "no kid, two keys",
                token(with(header(), remove("kid")), claims()),
                Err(AmbiguousKey),
            ),
        ];
        for (name, id_token, want) in cases {
            let got = run(&id_token, &jwks()).map(|_| ());
            assert_eq!(got, want, "{name}");
        }

        // No `kid` and one key: that key, and a failed signature is tampering.
        let single = Jwks {
            keys: vec![JwksKey {
                kid: None,
                jwk: rfc_jwk(),
            }],
        };
        let no_kid = token(with(header(), remove("kid")), claims());
        assert!(run(&no_kid, &single).is_ok());
        let check = |t: &IdToken, keys: &Jwks| prepare(t, keys, &expected(), NOW).unwrap();
        assert_eq!(check(&no_kid, &single).accept(false), Err(BadSignature));
        assert_eq!(run(&no_kid, &Jwks::default()), Err(KeyNotFound));
        // A `kid` that no key has, and one key (with another `kid`, or none): that key is
        // tried; if it fails, the EHR may have rotated its keys, which is not tampering.
        let single_k2 = Jwks {
            keys: vec![JwksKey {
                kid: Some("k2".into()),
                jwk: other_jwk(),
            }],
        };
        for keys in [&single, &single_k2] {
            let pending = check(&token(header(), claims()), keys);
            assert_eq!(pending.key, keys.keys[0].jwk);
            assert!(pending.accept(true).is_ok());
            let pending = check(&token(header(), claims()), keys);
            assert_eq!(pending.accept(false), Err(KeyNotFound));
        }
        // The named key of several fails: tampering.
        assert_eq!(
            check(&token(header(), claims()), &jwks()).accept(false),
            Err(BadSignature)
        );
    }

    /// The whole check as the app runs it: the JWKS as fetched (or why not), `prepare`, and
    /// WebCrypto's verdict (`None`: the browser could not check the signature).
    fn identity(
        id_token: &IdToken,
        keys: Result<Jwks, IdTokenError>,
        verdict: Option<bool>,
    ) -> Identity {
        Identity::from_check(
            keys.and_then(|keys| prepare(id_token, &keys, &expected(), NOW))
                .and_then(|pending| match verdict {
                    Some(valid) => pending.accept(valid),
                    None => Err(IdTokenError::SignatureNotChecked),
                }),
        )
    }

    /// Epic's id_token (fhir.epic.com, OpenID Connect): RS256, `kid` the base64url SHA-256 of
    /// the key, issuer `…/oauth2`, five minutes from `iat` to `exp`, an absolute `fhirUser`, and
    /// no name: `sub`, `preferred_username` (the login) only.
    const EPIC_KID: &str = "FsNwIhJqTxKP-yjScH7ZB_xc5V84K0juWxMzzzVFCgA";

    fn epic_header() -> Value {
        json!({"alg": "RS256", "kid": EPIC_KID, "typ": "JWT"})
    }

    fn epic_claims() -> Value {
        json!({
            "aud": "cairn",
            "iat": NOW - 20.0,
            "nbf": NOW - 20.0,
            "exp": NOW - 20.0 + 300.0,
            "iss": ISSUER,
            "sub": "eVb7s5tBX4jF3gZ0xXWGlYA3",
            "fhirUser": "https://ehr.example/fhir/Practitioner/eM5CWtq15N0WJeuCet5bJlQ3",
            "preferred_username": "FHIRTWO",
        })
    }

    fn epic_jwks() -> Jwks {
        Jwks {
            keys: vec![
                JwksKey {
                    kid: Some(EPIC_KID.into()),
                    jwk: rfc_jwk(),
                },
                JwksKey {
                    kid: Some("a7Ee9sP-8Uo1vqS9cQXJq1kC3SM0nP9ZWdKj3z9yqLw".into()),
                    jwk: other_jwk(),
                },
            ],
        }
    }

    #[test]
    fn only_tampering_ends_the_session() {
        use IdTokenError::*;
        #[derive(Debug, PartialEq)]
        enum Want {
            Name(Option<&'static str>),
            NoName(IdTokenError),
            End(IdTokenError),
        }
        let single = |kid: Option<&str>| {
            Ok(Jwks {
                keys: vec![JwksKey {
                    kid: kid.map(str::to_owned),
                    jwk: rfc_jwk(),
                }],
            })
        };
        let fetched = |status: u16, body: &str| parse_jwks(&response(status, body));
        let unknown_kid = with(header(), set("kid", json!("k9")));
        let named = || Ok(jwks());
        type Case = (
            &'static str,
            IdToken,
            Result<Jwks, IdTokenError>,
            Option<bool>,
            Want,
        );
        let cases: Vec<Case> = vec![
            // Verified.
            (
                "verified",
                token(header(), claims()),
                named(),
                Some(true),
                Want::Name(Some("Dr. Ada Example")),
            ),
            (
                "verified, given and family names",
                token(
                    header(),
                    with(
                        with(
                            with(claims(), remove("name")),
                            set("given_name", json!("Ada")),
                        ),
                        set("family_name", json!(" Example ")),
                    ),
                ),
                named(),
                Some(true),
                Want::Name(Some("Ada Example")),
            ),
            (
                "verified, no name claims: nothing, never an id",
                token(
                    header(),
                    with(
                        with(claims(), remove("name")),
                        set("preferred_username", json!("ADA01")),
                    ),
                ),
                named(),
                Some(true),
                Want::Name(None),
            ),
            (
                "Epic",
                token(epic_header(), epic_claims()),
                Ok(epic_jwks()),
                Some(true),
                Want::Name(None),
            ),
            // Tampering.
            (
                "signature fails with the named key",
                token(header(), claims()),
                named(),
                Some(false),
                Want::End(BadSignature),
            ),
            (
                "Epic, signature fails",
                token(epic_header(), epic_claims()),
                Ok(epic_jwks()),
                Some(false),
                Want::End(BadSignature),
            ),
            (
                "no kid, one key, signature fails",
                token(with(header(), remove("kid")), claims()),
                single(None),
                Some(false),
                Want::End(BadSignature),
            ),
            (
                "wrong issuer",
                token(
                    header(),
                    with(claims(), set("iss", json!("https://evil.example/oauth2"))),
                ),
                named(),
                Some(true),
                Want::End(IssuerMismatch),
            ),
            (
                "wrong audience",
                token(header(), with(claims(), set("aud", json!("other-app")))),
                named(),
                Some(true),
                Want::End(AudienceMismatch),
            ),
            (
                "wrong authorized party",
                token(header(), with(claims(), set("azp", json!("other-app")))),
                named(),
                Some(true),
                Want::End(AuthorizedPartyMismatch),
            ),
            (
                "another audience beside Cairn, no azp",
                token(
                    header(),
                    with(claims(), set("aud", json!(["cairn", "other-app"]))),
                ),
                named(),
                Some(true),
                Want::End(AuthorizedPartyMismatch),
            ),
            (
                "wrong issuer, even when no key matches",
                token(
                    unknown_kid.clone(),
                    with(claims(), set("iss", json!("https://evil.example/oauth2"))),
                ),
                named(),
                None,
                Want::End(IssuerMismatch),
            ),
            (
                "wrong audience, even with a skewed clock",
                token(
                    header(),
                    with(
                        with(claims(), set("aud", json!("other-app"))),
                        set("exp", json!(NOW - 3600.0)),
                    ),
                ),
                named(),
                None,
                Want::End(AudienceMismatch),
            ),
            // Unverifiable: no name, go on.
            (
                "keys blocked (CORS) or offline",
                token(header(), claims()),
                Err(JwksUnreachable),
                None,
                Want::NoName(JwksUnreachable),
            ),
            (
                "keys HTTP 404",
                token(header(), claims()),
                fetched(404, "{}"),
                None,
                Want::NoName(JwksHttp(404)),
            ),
            (
                "keys not JSON",
                token(header(), claims()),
                fetched(200, "<html>"),
                None,
                Want::NoName(JwksMalformed),
            ),
            (
                "keys unusable",
                token(header(), claims()),
                fetched(200, r#"{"keys":[]}"#),
                None,
                Want::NoName(NoUsableKeys),
            ),
            (
                "kid matches none of two keys",
                token(unknown_kid.clone(), claims()),
                named(),
                None,
                Want::NoName(KeyNotFound),
            ),
            (
                "no kid, two keys",
                token(with(header(), remove("kid")), claims()),
                named(),
                None,
                Want::NoName(AmbiguousKey),
            ),
            (
                "kid matches no key, the only key verifies",
                token(unknown_kid.clone(), claims()),
                single(Some("k2")),
                Some(true),
                Want::Name(Some("Dr. Ada Example")),
            ),
            (
                "kid matches no key, the only key fails",
                token(unknown_kid.clone(), claims()),
                single(Some("k2")),
                Some(false),
                Want::NoName(KeyNotFound),
            ),
            (
                "kid, the only key has none, fails",
                token(header(), claims()),
                single(None),
                Some(false),
                Want::NoName(KeyNotFound),
            ),
            (
                "fhirUser under …/oauth2/api/FHIR/R4/ (Epic's specification example)",
                token(
                    epic_header(),
                    with(
                        epic_claims(),
                        set(
                            "fhirUser",
                            json!(
                                "https://ehr.example/oauth2/api/FHIR/R4/Practitioner/eM5CWtq15N0WJeuCet5bJlQ3"
                            ),
                        ),
                    ),
                ),
                Ok(epic_jwks()),
                Some(true),
                Want::NoName(FhirUserOtherServer),
            ),
            (
                "clock ahead: expired",
                token(header(), with(claims(), set("exp", json!(NOW - 3600.0)))),
                named(),
                Some(true),
                Want::NoName(Expired),
            ),
            (
                "clock behind: issued in the future",
                token(
                    header(),
                    with(
                        with(claims(), set("iat", json!(NOW + 3600.0))),
                        set("exp", json!(NOW + 3900.0)),
                    ),
                ),
                named(),
                Some(true),
                Want::NoName(IssuedInFuture),
            ),
            (
                "clock behind: not valid yet",
                token(header(), with(claims(), set("nbf", json!(NOW + 3600.0)))),
                named(),
                Some(true),
                Want::NoName(NotYetValid),
            ),
            (
                "Epic's five minutes, read six minutes late",
                token(
                    epic_header(),
                    with(
                        with(epic_claims(), set("iat", json!(NOW - 361.0 - 300.0))),
                        set("exp", json!(NOW - 361.0)),
                    ),
                ),
                Ok(epic_jwks()),
                Some(true),
                Want::NoName(Expired),
            ),
            (
                "no times",
                token(header(), with(claims(), remove("exp"))),
                named(),
                Some(true),
                Want::NoName(MissingTimes),
            ),
            (
                "no subject",
                token(header(), with(claims(), remove("sub"))),
                named(),
                Some(true),
                Want::NoName(MissingSubject),
            ),
            (
                "fhirUser unusable",
                token(
                    header(),
                    with(claims(), set("fhirUser", json!("Organization/1"))),
                ),
                named(),
                Some(true),
                Want::NoName(FhirUserInvalid),
            ),
            (
                "the browser could not check the signature",
                token(header(), claims()),
                named(),
                None,
                Want::NoName(SignatureNotChecked),
            ),
            (
                "alg none",
                token(json!({"alg": "none"}), claims()),
                named(),
                None,
                Want::NoName(Unsigned),
            ),
            (
                "HS256",
                token(json!({"alg": "HS256", "kid": "k1"}), claims()),
                named(),
                None,
                Want::NoName(SharedSecretAlgorithm),
            ),
            (
                "not a JWS",
                IdToken::new("not-a-token".into()),
                named(),
                None,
                Want::NoName(Malformed),
            ),
        ];
        let mut failures = Vec::new();
        for (name, id_token, keys, verdict, want) in cases {
            let outcome = identity(&id_token, keys, verdict);
            let got = match &outcome {
                Identity::SignedIn(user) => Want::Name(match user.display_name.as_deref() {
                    None => None,
                    Some("Dr. Ada Example") => Some("Dr. Ada Example"),
                    Some("Ada Example") => Some("Ada Example"),
                    Some(_) => Some("?"),
                }),
                Identity::Unverifiable(err) => Want::NoName(err.clone()),
                Identity::Tampered(err) => Want::End(err.clone()),
            };
            if let Want::Name(shown) = &want {
                assert_eq!(outcome.display_name(), *shown, "{name}");
            } else {
                assert_eq!(outcome.display_name(), None, "{name}");
            }
            if got != want {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn epic_shaped_id_token_verifies_with_no_name_and_its_fhir_user() {
        let pending = prepare(
            &token(epic_header(), epic_claims()),
            &epic_jwks(),
            &expected(),
            NOW,
        )
        .unwrap();
        assert_eq!(pending.key, rfc_jwk());
        let user = pending.accept(true).unwrap();
        assert_eq!(
            user,
            SignedInUser {
                subject: "eVb7s5tBX4jF3gZ0xXWGlYA3".into(),
                fhir_user: practitioner("eM5CWtq15N0WJeuCet5bJlQ3"),
                display_name: None,
            }
        );
        // Within its five minutes it passes whenever it is read; a clock a minute fast too.
        for now in [NOW - 20.0, NOW + 279.0, NOW + 279.0 + EXPIRY_SKEW_S - 1.0] {
            assert!(
                prepare(
                    &token(epic_header(), epic_claims()),
                    &epic_jwks(),
                    &expected(),
                    now
                )
                .is_ok(),
                "{now}"
            );
        }
    }

    #[test]
    fn claim_checks() {
        use IdTokenError::*;
        let other = |id: &str| {
            Some(FhirUser {
                resource_type: id.split('/').next().unwrap().into(),
                id: id.split('/').nth(1).unwrap().into(),
            })
        };
        type Case = (&'static str, Value, Result<Option<FhirUser>, IdTokenError>);
        let cases: Vec<Case> = vec![
            ("good", claims(), Ok(practitioner("123"))),
            // iss
            (
                "wrong iss",
                with(claims(), set("iss", json!("https://evil.example/oauth2"))),
                Err(IssuerMismatch),
            ),
            (
                "iss with a trailing slash",
                with(claims(), set("iss", json!(format!("{ISSUER}/")))),
                Err(IssuerMismatch),
            ),
            (
                "iss missing",
                with(claims(), remove("iss")),
                Err(IssuerMismatch),
            ),
            // aud / azp
            (
                "wrong aud",
                with(claims(), set("aud", json!("someone-else"))),
                Err(AudienceMismatch),
            ),
            (
                "aud missing",
                with(claims(), remove("aud")),
                Err(AudienceMismatch),
            ),
            (
                "aud array with cairn",
                with(claims(), set("aud", json!(["cairn"]))),
                Ok(practitioner("123")),
            ),
            (
                "aud array with cairn and azp cairn",
                with(
                    with(claims(), set("aud", json!(["other", "cairn"]))),
                    set("azp", json!("cairn")),
                ),
                Ok(practitioner("123")),
            ),
            (
                "aud array with cairn and another, no azp",
                with(claims(), set("aud", json!(["other", "cairn"]))),
                Err(AuthorizedPartyMismatch),
            ),
            (
                "aud array with cairn twice, no azp",
                with(claims(), set("aud", json!(["cairn", "cairn"]))),
                Ok(practitioner("123")),
            ),
            (
                "aud array with cairn, azp other",
                with(
                    with(claims(), set("aud", json!(["other", "cairn"]))),
                    set("azp", json!("other")),
                ),
                Err(AuthorizedPartyMismatch),
            ),
            (
                "aud array without cairn",
                with(claims(), set("aud", json!(["other", "more"]))),
                Err(AudienceMismatch),
            ),
            (
                "aud empty array",
                with(claims(), set("aud", json!([]))),
                Err(AudienceMismatch),
            ),
            (
                "aud number",
                with(claims(), set("aud", json!(7))),
                Err(AudienceMismatch),
            ),
            (
                "azp not a string",
                with(claims(), set("azp", json!(null))),
                Err(AuthorizedPartyMismatch),
            ),
            // exp / iat
            (
                "expired",
                with(claims(), set("exp", json!(NOW - 61.0))),
                Err(Expired),
            ),
            (
                "expired within the skew margin",
                with(claims(), set("exp", json!(NOW - 59.0))),
                Ok(practitioner("123")),
            ),
            (
                "exp as a string",
                with(claims(), set("exp", json!("1700000300"))),
                Err(MissingTimes),
            ),
            (
                "exp missing",
                with(claims(), remove("exp")),
                Err(MissingTimes),
            ),
            (
                "iat missing",
                with(claims(), remove("iat")),
                Err(MissingTimes),
            ),
            (
                "iat in the future",
                with(claims(), set("iat", json!(NOW + 301.0))),
                Err(IssuedInFuture),
            ),
            (
                "iat a little ahead",
                with(claims(), set("iat", json!(NOW + 299.0))),
                Ok(practitioner("123")),
            ),
            (
                "nbf past",
                with(claims(), set("nbf", json!(NOW - 100.0))),
                Ok(practitioner("123")),
            ),
            (
                "nbf a little ahead",
                with(claims(), set("nbf", json!(NOW + 299.0))),
                Ok(practitioner("123")),
            ),
            (
                "nbf in the future",
                with(claims(), set("nbf", json!(NOW + 301.0))),
                Err(NotYetValid),
            ),
            (
                "nbf as a string",
                with(claims(), set("nbf", json!("1700000000"))),
                Err(NotYetValid),
            ),
            // sub
            (
                "sub missing",
                with(claims(), remove("sub")),
                Err(MissingSubject),
            ),
            (
                "sub empty",
                with(claims(), set("sub", json!(""))),
                Err(MissingSubject),
            ),
            (
                "sub a number",
                with(claims(), set("sub", json!(42))),
                Err(MissingSubject),
            ),
            (
                "sub too long",
                with(claims(), set("sub", json!("s".repeat(256)))),
                Err(MissingSubject),
            ),
            // fhirUser
            (
                "fhirUser absent",
                with(claims(), remove("fhirUser")),
                Ok(None),
            ),
            (
                "fhirUser absolute",
                with(
                    claims(),
                    set(
                        "fhirUser",
                        json!("https://ehr.example/fhir/Practitioner/p-1.2"),
                    ),
                ),
                Ok(practitioner("p-1.2")),
            ),
            (
                "fhirUser relative Patient",
                with(claims(), set("fhirUser", json!("Patient/abc"))),
                Ok(other("Patient/abc")),
            ),
            (
                "fhirUser PractitionerRole",
                with(claims(), set("fhirUser", json!("PractitionerRole/r1"))),
                Ok(other("PractitionerRole/r1")),
            ),
            (
                "fhirUser RelatedPerson",
                with(claims(), set("fhirUser", json!("RelatedPerson/r1"))),
                Ok(other("RelatedPerson/r1")),
            ),
            (
                "fhirUser Person",
                with(claims(), set("fhirUser", json!("Person/r1"))),
                Ok(other("Person/r1")),
            ),
            (
                "fhirUser on another server",
                with(
                    claims(),
                    set(
                        "fhirUser",
                        json!("https://evil.example/fhir/Practitioner/1"),
                    ),
                ),
                Err(FhirUserOtherServer),
            ),
            (
                "fhirUser on a base that only shares a prefix",
                with(
                    claims(),
                    set(
                        "fhirUser",
                        json!("https://ehr.example/fhir2/Practitioner/1"),
                    ),
                ),
                Err(FhirUserOtherServer),
            ),
            (
                "fhirUser over plain http",
                with(
                    claims(),
                    set("fhirUser", json!("http://ehr.example/fhir/Practitioner/1")),
                ),
                Err(FhirUserOtherServer),
            ),
            (
                "fhirUser other type",
                with(claims(), set("fhirUser", json!("Organization/1"))),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser bad id",
                with(claims(), set("fhirUser", json!("Practitioner/a_b"))),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser id too long",
                with(
                    claims(),
                    set(
                        "fhirUser",
                        json!(format!("Practitioner/{}", "1".repeat(257))),
                    ),
                ),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser versioned",
                with(
                    claims(),
                    set("fhirUser", json!("Practitioner/1/_history/2")),
                ),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser protocol-relative",
                with(
                    claims(),
                    set("fhirUser", json!("//evil.example/Practitioner/1")),
                ),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser type only",
                with(claims(), set("fhirUser", json!("Practitioner"))),
                Err(FhirUserInvalid),
            ),
            (
                "fhirUser not a string",
                with(
                    claims(),
                    set("fhirUser", json!({"reference": "Practitioner/1"})),
                ),
                Err(FhirUserInvalid),
            ),
        ];
        for (name, claims, want) in cases {
            let got = run(&token(header(), claims), &jwks()).map(|u| u.fhir_user);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn an_unusable_clock_fails_closed() {
        for now in [f64::NAN, f64::INFINITY] {
            assert_eq!(
                prepare(&token(header(), claims()), &jwks(), &expected(), now).unwrap_err(),
                IdTokenError::Expired
            );
        }
        assert_eq!(
            prepare(
                &token(header(), claims()),
                &jwks(),
                &expected(),
                f64::NEG_INFINITY
            )
            .unwrap_err(),
            IdTokenError::IssuedInFuture
        );
    }

    #[test]
    fn fhir_base_with_a_trailing_slash_and_display_names() {
        let exp = Expected {
            fhir_base: "https://ehr.example/fhir/".into(),
            ..expected()
        };
        let long_name = with(
            with(
                claims(),
                set("fhirUser", json!("https://ehr.example/fhir/Practitioner/9")),
            ),
            set("name", json!(format!("  {}  ", "N".repeat(300)))),
        );
        let user = prepare(&token(header(), long_name), &jwks(), &exp, NOW)
            .and_then(|p| p.accept(true))
            .unwrap();
        assert_eq!(user.fhir_user, practitioner("9"));
        assert_eq!(user.display_name, Some(format!("{}…", "N".repeat(200))));
        for name in [json!(""), json!("   "), json!(5), json!(null)] {
            let user = run(&token(header(), with(claims(), set("name", name))), &jwks()).unwrap();
            assert_eq!(user.display_name, None);
        }
    }

    #[test]
    fn shape_checks() {
        use IdTokenError::*;
        let h = b64(&header());
        let c = b64(&claims());
        let s = URL_SAFE_NO_PAD.encode(b"sig");
        let padded_sig = base64::engine::general_purpose::URL_SAFE.encode(b"sig0");
        let std_alphabet_claims = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(claims().to_string().replace("user-42", "user-42>>>?"));
        let cases: Vec<(&str, String, IdTokenError)> = vec![
            ("empty", String::new(), Malformed),
            ("one part", h.clone(), Malformed),
            ("two parts", format!("{h}.{c}"), Malformed),
            ("four parts", format!("{h}.{c}.{s}.{s}"), Malformed),
            ("empty signature", format!("{h}.{c}."), Malformed),
            ("empty header", format!(".{c}.{s}"), Malformed),
            ("empty claims", format!("{h}..{s}"), Malformed),
            ("padding", format!("{h}.{c}.{padded_sig}"), Malformed),
            (
                "standard alphabet",
                format!("{h}.{std_alphabet_claims}.{s}"),
                Malformed,
            ),
            ("space", format!("{h}.{c} .{s}"), Malformed),
            (
                "claims not an object",
                format!("{h}.{}.{s}", b64(&json!(["sub"]))),
                Malformed,
            ),
            (
                "header not JSON",
                format!("{}.{c}.{s}", URL_SAFE_NO_PAD.encode(b"{alg:RS256}")),
                Malformed,
            ),
            (
                "JWE (five parts)",
                format!("{h}.{s}.{s}.{c}.{s}"),
                Malformed,
            ),
            (
                "too large",
                format!("{h}.{}.{s}", "A".repeat(MAX_ID_TOKEN_BYTES)),
                TooLarge,
            ),
        ];
        for (name, raw, want) in cases {
            assert_eq!(run(&IdToken::new(raw), &jwks()), Err(want), "{name}");
        }
    }

    #[test]
    fn jwks_request_is_a_plain_get() {
        let req = jwks_request("https://ehr.example/oauth2/jwks");
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.url, "https://ehr.example/oauth2/jwks");
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(req.body, None);
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parse_jwks_keeps_only_rsa_signature_keys() {
        let rsa = |extra: Value| {
            let mut key = json!({"kty": "RSA", "n": RFC_A2_N, "e": "AQAB"});
            for (k, v) in extra.as_object().unwrap() {
                key[k] = v.clone();
            }
            key
        };
        let small_n = URL_SAFE_NO_PAD.encode([0xABu8; 128]);
        let padded_n = format!("{}==", &RFC_A2_N);
        let doc = json!({"keys": [
            rsa(json!({"kid": "plain"})),
            rsa(json!({"kid": "sig", "use": "sig", "alg": "RS256", "key_ops": ["verify"]})),
            rsa(json!({"kid": "no-kid-next"})),
            rsa(json!({})),
            rsa(json!({"kid": "enc", "use": "enc"})),
            rsa(json!({"kid": "rs384", "alg": "RS384"})),
            rsa(json!({"kid": "ps256", "alg": "PS256"})),
            rsa(json!({"kid": "ops", "key_ops": ["encrypt"]})),
            rsa(json!({"kid": 7})),
            rsa(json!({"kid": "small", "n": small_n})),
            rsa(json!({"kid": "padded", "n": padded_n})),
            rsa(json!({"kid": "std-b64", "n": RFC_A2_N.replace('-', "+")})),
            rsa(json!({"kid": "e0", "e": "AA"})),
            rsa(json!({"kid": "no-e", "e": null})),
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "hmac", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},
            "not an object",
            null,
        ]});
        let jwks = parse_jwks(&response(200, &doc.to_string())).unwrap();
        let kids: Vec<Option<&str>> = jwks.keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(
            kids,
            vec![Some("plain"), Some("sig"), Some("no-kid-next"), None]
        );
        assert!(jwks.keys.iter().all(|k| k.jwk == rfc_jwk()));
    }

    #[test]
    fn parse_jwks_failures() {
        use IdTokenError::*;
        let ec_only = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#;
        let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(MAX_JWKS_BYTES));
        let cases: Vec<(&str, HttpResponse, IdTokenError)> = vec![
            ("404", response(404, "{}"), JwksHttp(404)),
            ("503", response(503, ""), JwksHttp(503)),
            ("not JSON", response(200, "<html>"), JwksMalformed),
            ("array", response(200, "[]"), JwksMalformed),
            ("no keys", response(200, "{}"), JwksMalformed),
            (
                "keys not an array",
                response(200, r#"{"keys":{}}"#),
                JwksMalformed,
            ),
            ("empty keys", response(200, r#"{"keys":[]}"#), NoUsableKeys),
            ("EC only", response(200, ec_only), NoUsableKeys),
            ("too large", response(200, &big), JwksMalformed),
        ];
        for (name, resp, want) in cases {
            assert_eq!(parse_jwks(&resp), Err(want), "{name}");
        }
    }

    #[test]
    fn problems_are_plain_and_never_carry_the_token() {
        use IdTokenError::*;
        let canary = "CANARY-7f3a";
        let leaky = token(
            json!({"alg": canary, "kid": canary}),
            json!({"iss": canary, "sub": canary, "name": canary}),
        );
        let mut errors = vec![
            JwksUnreachable,
            JwksHttp(500),
            JwksMalformed,
            NoUsableKeys,
            TooLarge,
            Malformed,
            Unsigned,
            SharedSecretAlgorithm,
            UnsupportedAlgorithm,
            UnsupportedCritical,
            KeyNotFound,
            AmbiguousKey,
            IssuerMismatch,
            AudienceMismatch,
            AuthorizedPartyMismatch,
            MissingTimes,
            Expired,
            IssuedInFuture,
            NotYetValid,
            MissingSubject,
            FhirUserOtherServer,
            FhirUserInvalid,
            SignatureNotChecked,
            BadSignature,
        ];
        errors.push(run(&leaky, &jwks()).unwrap_err());
        let with_kid = token(with(header(), set("kid", json!(canary))), claims());
        errors.push(run(&with_kid, &jwks()).unwrap_err());
        for error in errors {
            let problem = error.problem();
            assert_eq!(problem.title, "Cairn could not confirm who signed in");
            assert_eq!(problem.next_step, NextStep::Relaunch);
            assert!(problem.detail.starts_with("Cairn stopped because "));
            let shown = format!("{error:?} {error} {problem:?}");
            assert!(!shown.contains(canary), "{shown}");
            assert!(!shown.contains("eyJ"), "{shown}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\":,[]";
        const JSON_BITS: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"alg\"",
            "\"RS256\"",
            "\"none\"",
            "\"kid\"",
            "\"k1\"",
            "\"iss\"",
            "\"aud\"",
            "\"cairn\"",
            "\"exp\"",
            "\"iat\"",
            "\"sub\"",
            "\"fhirUser\"",
            "\"Practitioner/1\"",
            "1e308",
            "-1e308",
            "1700000000",
            "null",
            "true",
            "\"\\ud800\"",
            "\"https://ehr.example/fhir/Patient/x\"",
            "0.5",
            "\"é🙂\"",
        ];
        let mut rng = SplitMix(0x9E37_79B9_7F4A_7C15);
        let exp = expected();
        let keys = jwks();
        for round in 0..5_000 {
            let raw = match round % 3 {
                // Random characters, biased towards the token alphabet.
                0 => (0..rng.below(400))
                    .map(|_| {
                        if rng.below(20) == 0 {
                            char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{FFFD}')
                        } else {
                            ALPHABET[rng.below(ALPHABET.len())] as char
                        }
                    })
                    .collect::<String>(),
                // Three base64url parts of JSON-ish fragments.
                _ => (0..3)
                    .map(|part| {
                        let mut text = String::new();
                        if part == 0 && rng.below(2) == 0 {
                            text.push_str(r#"{"alg":"RS256","kid":"k1""#);
                        }
                        for _ in 0..rng.below(24) {
                            text.push_str(JSON_BITS[rng.below(JSON_BITS.len())]);
                        }
                        URL_SAFE_NO_PAD.encode(text)
                    })
                    .collect::<Vec<_>>()
                    .join("."),
            };
            let now = match rng.below(4) {
                0 => f64::NAN,
                1 => f64::INFINITY,
                _ => NOW,
            };
            if let Ok(pending) = prepare(&IdToken::new(raw.clone()), &keys, &exp, now) {
                let _ = pending.accept(false);
            }
            let _ = parse_jwks(&response(200, &raw));
        }
    }
}
