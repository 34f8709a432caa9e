//! The client assertion of SMART Backend Services (RFC 7523 as SMART profiles it), sans IO:
//! the caller passes the clock and the random `jti`, so a fixed key, time and `jti` give the
//! same bytes every time (RS384 and ES384 with RFC 6979 nonces are both deterministic).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::json;

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is valid: SMART allows at most five minutes; four leave room for a
/// client clock a little ahead of the server's.
pub const LIFETIME_S: u64 = 240;

/// The signature algorithms SMART Backend Services requires servers to support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs384 => "RS384",
            Alg::Es384 => "ES384",
        }
    }

    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "RS384" => Some(Alg::Rs384),
            "ES384" => Some(Alg::Es384),
            _ => None,
        }
    }
}

/// A private signing key. `Debug` never shows it.
pub enum SigningKey {
    Rs384(Box<rsa::pkcs1v15::SigningKey<sha2::Sha384>>),
    Es384(Box<p384::ecdsa::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.alg().name())
    }
}

impl SigningKey {
    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Rs384(_) => Alg::Rs384,
            SigningKey::Es384(_) => Alg::Es384,
        }
    }

    /// The JWS signature of `input`: PKCS#1 v1.5 bytes, or ECDSA `r || s` (96 bytes) as RFC
    /// 7518 §3.4 writes it.
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Rs384(key) => key.sign(input).to_vec(),
            SigningKey::Es384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(input);
                signature.to_bytes().to_vec()
            }
        }
    }
}

/// The assertion's claims, as SMART Backend Services requires them: `iss` = `sub` = the client
/// id, `aud` = the token endpoint, `exp` [`LIFETIME_S`] after `now_s`, and a `jti` used once.
/// Keys are written in sorted order, so the text is fixed for fixed inputs.
pub fn claims(client_id: &str, token_endpoint: &str, now_s: u64, jti: &str) -> String {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now_s,
        "exp": now_s + LIFETIME_S,
        "jti": jti,
    })
    .to_string()
}

/// A fresh `jti` from 16 random bytes (128 bits), base64url.
pub fn jti(random: [u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// The signed assertion (compact JWS): header `alg`, `kid`, `typ: JWT`, then [`claims`].
pub fn assertion(
    key: &SigningKey,
    kid: &str,
    client_id: &str,
    token_endpoint: &str,
    now_s: u64,
    jti: &str,
) -> String {
    let header = json!({"alg": key.alg().name(), "kid": kid, "typ": "JWT"}).to_string();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims(client_id, token_endpoint, now_s, jti))
    );
    let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use rsa::signature::Verifier;

    /// Fixed keys, for byte-exact assertions. Test data only.
    const EC_KEY: &str = include_str!("../testdata/es384-test-key.pem");
    const RSA_KEY: &str = include_str!("../testdata/rs384-test-key.pem");

    #[test]
    fn claims_are_exactly_what_smart_asks() {
        let text = claims(
            "svc-1",
            "https://ehr.example/oauth2/token",
            1_700_000_000,
            "j-1",
        );
        assert_eq!(
            text,
            r#"{"aud":"https://ehr.example/oauth2/token","exp":1700000240,"iat":1700000000,"iss":"svc-1","jti":"j-1","sub":"svc-1"}"#
        );
        const { assert!(LIFETIME_S <= 300) };
    }

    #[test]
    fn jti_is_128_bits_of_base64url() {
        assert_eq!(jti([0xfb; 16]), "-_v7-_v7-_v7-_v7-_v7-w");
        assert_ne!(jti([1; 16]), jti([2; 16]));
    }

    #[test]
    fn a_fixed_key_and_clock_give_a_byte_exact_es384_assertion() {
        let key = keys::signing_key(EC_KEY, Alg::Es384).unwrap();
        let jwt = assertion(
            &key,
            "k1",
            "svc-1",
            "https://ehr.example/oauth2/token",
            1_700_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
        );
        let again = assertion(
            &key,
            "k1",
            "svc-1",
            "https://ehr.example/oauth2/token",
            1_700_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(jwt, again);
        assert_eq!(jwt, EXPECTED_ES384);
        // And it verifies with the public key, over the first two parts.
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), 96, "r || s, 48 bytes each");
        let signature = p384::ecdsa::Signature::from_slice(&signature).unwrap();
        let SigningKey::Es384(key) = key else {
            unreachable!()
        };
        key.verifying_key()
            .verify(input.as_bytes(), &signature)
            .unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(input.split('.').next().unwrap())
            .unwrap();
        assert_eq!(header, br#"{"alg":"ES384","kid":"k1","typ":"JWT"}"#);
    }

    /// Checked outside Rust: Python's `cryptography` verifies this signature with the test
    /// key's public half (ECDSA is randomised there, so it cannot make the same bytes).
    const EXPECTED_ES384: &str = "eyJhbGciOiJFUzM4NCIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2Voci5leGFtcGxlL29hdXRoMi90b2tlbiIsImV4cCI6MTcwMDAwMDI0MCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJzdmMtMSIsImp0aSI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUEiLCJzdWIiOiJzdmMtMSJ9.qUVSndNDyS4_JjA4EENLT64O4NY1GkefqAhFubL5ru4P-W9U7KJlfMW1_niLY-4RJiVfe8dnRGsZUfV80l7cG4RDs_vVxbVBu7krlBMsB4ZcmPvShy1Eme7rgW40Ws0u";

    /// Made independently: Python's `cryptography` signing the same header and claims with
    /// the test key (RSASSA-PKCS1-v1_5 is deterministic, so the bytes must match).
    const EXPECTED_RS384: &str = "eyJhbGciOiJSUzM4NCIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2Voci5leGFtcGxlL29hdXRoMi90b2tlbiIsImV4cCI6MTcwMDAwMDI0MCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJzdmMtMSIsImp0aSI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUEiLCJzdWIiOiJzdmMtMSJ9.O_ZsjjghcderTsDg7rmdiGtn94FEwrMLvruNvEQHsRhPjlSLcNtwFxUdW-zBUc9XbvFsIMNnHX8xjcDGUIvXOc-q0ytvv7vS44aSPQBCTN1TzFs6Ln5aA5IryYmUg031l9LY9tYLPqLUzzBlvRcCnSGgD9l3qNC8TAMKXykitfFB1dZ57CF6tLLCsSs_e_pKIoqvCvppxzCnNYaKpFLYFOeB52TKckx7W8qY7iBRg92Ltf4M3zm_qQ5A1ADytipISwoOYD9vG4kitaEl0cfzPdywyPfgk9BH2tH7erySg7SaZr_Q1Y0BrnDKyIYFZKqNCgBkJWSfdYgLItQu28UETQ";

    #[test]
    fn a_fixed_key_and_clock_give_a_byte_exact_rs384_assertion() {
        let key = keys::signing_key(RSA_KEY, Alg::Rs384).unwrap();
        let jwt = assertion(
            &key,
            "k1",
            "svc-1",
            "https://ehr.example/oauth2/token",
            1_700_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(jwt, EXPECTED_RS384);
    }
}
