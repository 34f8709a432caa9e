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

/// The key, parsed once per process (parsing checks it, which is slow in debug builds).
fn key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RsaPrivateKey::from_pkcs1_pem(DEV_KEY_PEM).expect("the committed development key parses")
    })
}

/// `GET /oauth2/jwks`: the public key that verifies id_tokens.
pub async fn jwks(State(_ehr): State<Ehr>) -> Response {
    axum::Json(jwk_set(&key().to_public_key())).into_response()
}

fn jwk_set(public: &RsaPublicKey) -> Value {
    json!({"keys": [{
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": KEY_ID,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }]})
}

/// Who signed in, as an id_token describes them.
pub struct Subject<'a> {
    /// The FHIR resource id of the user (a Patient or the Practitioner).
    pub sub: &'a str,
    /// The absolute URL of that resource.
    pub fhir_user: Option<&'a str>,
    pub name: &'a str,
    /// The `nonce` of the authorize request, if it had one.
    pub nonce: Option<&'a str>,
}

/// A signed id_token for `client_id`: compact JWS, RS256, `kid` [`KEY_ID`].
pub fn id_token(ehr: &Ehr, client_id: &str, subject: &Subject) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
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
        "name": subject.name,
    });
    if let Some(fhir_user) = subject.fhir_user {
        claims["fhirUser"] = fhir_user.into();
    }
    if let Some(nonce) = subject.nonce {
        claims["nonce"] = nonce.into();
    }
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID});
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
