//! PKCE (RFC 7636) with S256, and the `state` value. Random bytes are parameters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::smart::secret::CodeVerifier;

/// A code verifier from 32 random bytes: 43 base64url characters (256 bits).
pub fn code_verifier(random: &[u8; 32]) -> CodeVerifier {
    CodeVerifier::new(URL_SAFE_NO_PAD.encode(random))
}

/// `BASE64URL(SHA256(verifier))`, the only challenge method Cairn sends.
pub fn code_challenge_s256(verifier: &CodeVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()))
}

/// A `state` from 32 random bytes: 43 base64url characters (256 bits, SMART asks ≥ 122).
pub fn new_state(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// An instance id from 16 random bytes (22 base64url characters): names one open Cairn window in
/// its URL, because an EHR's embedded browser may share sessionStorage between windows.
pub fn new_instance_id(random: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::testing::SplitMix;

    /// RFC 7636 appendix B: the 32 octets, the verifier they encode, and its S256 challenge.
    #[test]
    fn rfc7636_appendix_b() {
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = code_verifier(&octets);
        assert_eq!(
            verifier.secret(),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(
            code_challenge_s256(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    /// AppAuth-JS's vector (src/crypto_utils_test.ts).
    #[test]
    fn appauth_vector() {
        let verifier = CodeVerifier::new("challenge".repeat(5));
        assert_eq!(
            code_challenge_s256(&verifier),
            "MYdqq2Vt_ZLMAWpXXsjGIrlxrCF2e4ZP4SxDf7cm_tg"
        );
    }

    #[test]
    fn states_are_long_url_safe_and_distinct() {
        let mut rng = SplitMix(42);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let state = new_state(&rng.bytes32());
            assert_eq!(state.len(), 43);
            assert!(
                state
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert!(seen.insert(state), "a state repeated");
        }
        let verifier = code_verifier(&rng.bytes32());
        assert_eq!(verifier.secret().len(), 43);
        let instance = new_instance_id(&[0xfb; 16]);
        assert_eq!(instance.len(), 22);
        assert!(
            instance
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
