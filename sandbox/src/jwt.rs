//! OpenID Connect id_tokens, RS256-signed with a fixed development key, and the JWKS that
//! publishes its public half.
//!
//! The key in `data/dev-jwt-key.pem` is a development key committed on purpose: it signs
//! id_tokens for synthetic patients on loopback and must never be trusted anywhere else.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Ehr;

/// The development signing key (PKCS#1 PEM). Not a secret: see the module documentation.
const DEV_KEY_PEM: &str = include_str!("../data/dev-jwt-key.pem");
/// The `kid` of that key in id_token headers and the JWKS.
pub const KEY_ID: &str = "dev-1";
/// How long an id_token is valid.
const ID_TOKEN_TTL_SECS: u64 = 300;
/// How far in the past [`crate::Fault::IdTokenClockSkew`] puts `iat` (20 minutes).
const CLOCK_SKEW_SECS: u64 = 20 * 60;
/// The `kid` of [`crate::Fault::IdTokenUnknownKid`], which no published key has.
pub const UNKNOWN_KID: &str = "rotated-key-not-yet-published";

/// The key, parsed once per process (parsing checks it, which is slow in debug builds).
fn key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::from_pkcs1_pem(DEV_KEY_PEM).expect("the committed development key parses")
    })
}

/// `GET /oauth2/jwks`: the public key that verifies id_tokens.
pub async fn jwks(State(ehr): State<Ehr>) -> Response {
    axum::Json(jwk_set(&key().to_public_key(), &key_id(&ehr))).into_response()
}

/// The key's `(n, e)`, base64url.
fn n_e(public: &RsaPublicKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    )
}

/// The key's `kid`: [`KEY_ID`], or in Epic mode a base64url SHA-256 as Epic's are.
fn key_id(ehr: &Ehr) -> String {
    if ehr.epic_mode() {
        let (n, e) = n_e(&key().to_public_key());
        crate::epic::kid(&n, &e)
    } else {
        KEY_ID.to_owned()
    }
}

fn jwk_set(public: &RsaPublicKey, kid: &str) -> Value {
    let (n, e) = n_e(public);
    json!({"keys": [{
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": n,
        "e": e,
    }]})
}

/// Who signed in, as an id_token describes them.
pub struct Subject<'a> {
    /// The FHIR resource id of the user (a Patient or the Practitioner).
    pub sub: &'a str,
    /// The absolute URL of that resource.
    pub fhir_user: Option<&'a str>,
    /// The user's name (`None`: no `name` claim, as Epic).
    pub name: Option<&'a str>,
    /// The `nonce` of the authorize request, if it had one.
    pub nonce: Option<&'a str>,
    /// The user's EHR login (Epic mode, with the `profile` scope).
    pub preferred_username: Option<&'a str>,
}

/// A signed id_token for `client_id`: compact JWS, RS256, `kid` [`KEY_ID`].
pub fn id_token(ehr: &Ehr, client_id: &str, subject: &Subject) -> String {
    let mut now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if ehr.has_fault(crate::Fault::IdTokenClockSkew) {
        now = now.saturating_sub(CLOCK_SKEW_SECS);
    }
    let audience = if ehr.has_fault(crate::Fault::IdTokenWrongAudience) {
        "some-other-app"
    } else {
        client_id
    };
    let mut claims = json!({
        "iss": ehr.issuer(),
        "sub": subject.sub,
        "aud": audience,
        "iat": now,
        "exp": now + ID_TOKEN_TTL_SECS,
    });
    if let Some(name) = subject.name {
        claims["name"] = name.into();
    }
    if let Some(fhir_user) = subject.fhir_user {
        claims["fhirUser"] = fhir_user.into();
    }
    if let Some(username) = subject.preferred_username {
        claims["preferred_username"] = username.into();
    }
    if let Some(nonce) = subject.nonce {
        claims["nonce"] = nonce.into();
    }
    let kid = if ehr.has_fault(crate::Fault::IdTokenUnknownKid) {
        UNKNOWN_KID.to_owned()
    } else {
        key_id(ehr)
    };
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signing_key = SigningKey::<Sha256>::new(key().clone());
    let mut signature = signing_key.sign(signing_input.as_bytes()).to_vec();
    if ehr.has_fault(crate::Fault::IdTokenBadSignature)
        && let Some(byte) = signature.get_mut(10)
    {
        *byte ^= 0x01;
    }
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
