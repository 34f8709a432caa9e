//! Key pairs: generation (`cairn-backend keygen`), the private key as PKCS#8 PEM, and the public
//! half as a JWKS with `kid`, `alg` and `use: sig`, as an EHR registers it. The `kid` is the
//! key's RFC 7638 thumbprint, so it names the key and nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::assertion::{Alg, SigningKey};

/// RSA modulus size of new keys (SMART and Epic accept 2048 and more).
pub const RSA_BITS: usize = 2048;
/// File names `keygen` writes in its directory.
pub const PRIVATE_KEY_FILE: &str = "private-key.pem";
pub const JWKS_FILE: &str = "jwks.json";

/// The private key in `pem` (PKCS#8) for `alg`; an error says what is wrong in words.
pub fn signing_key(pem: &str, alg: Alg) -> Result<SigningKey, String> {
    match alg {
        Alg::Rs384 => {
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                .map_err(|_| "it is not an RSA private key in PKCS#8 PEM".to_owned())?;
            if key.size() * 8 < RSA_BITS {
                return Err(format!(
                    "the RSA key has {} bits; use {RSA_BITS} or more",
                    key.size() * 8
                ));
            }
            Ok(SigningKey::Rs384(Box::new(rsa::pkcs1v15::SigningKey::<
                sha2::Sha384,
            >::new(key))))
        }
        Alg::Es384 => p384::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(|key| SigningKey::Es384(Box::new(key)))
            .map_err(|_| "it is not a P-384 private key in PKCS#8 PEM".to_owned()),
    }
}

/// Reads the private key at `path`.
pub fn load(path: &Path, alg: Alg) -> Result<SigningKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the private key {}: {e}", path.display()))?;
    signing_key(&pem, alg).map_err(|e| format!("the private key {}: {e}", path.display()))
}

/// The public JWK of `key`, without `kid`, `alg` or `use`: RFC 7638's required members only.
fn public_members(key: &SigningKey) -> Value {
    match key {
        SigningKey::Rs384(key) => {
            let public = key.as_ref().as_ref().to_public_key();
            json!({
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            })
        }
        SigningKey::Es384(key) => {
            let point = key.verifying_key().to_encoded_point(false);
            json!({
                "crv": "P-384",
                "kty": "EC",
                "x": URL_SAFE_NO_PAD.encode(point.x().map(|x| x.as_slice()).unwrap_or_default()),
                "y": URL_SAFE_NO_PAD.encode(point.y().map(|y| y.as_slice()).unwrap_or_default()),
            })
        }
    }
}

/// RFC 7638: base64url SHA-256 of the required members, in lexicographic order, no spaces
/// (serde_json writes object keys sorted).
pub fn thumbprint(members: &Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.to_string()))
}

/// The key's `kid`: its thumbprint.
pub fn kid(key: &SigningKey) -> String {
    thumbprint(&public_members(key))
}

/// The JWKS to register: one key with `kid`, `alg` and `use: sig`.
pub fn jwks(key: &SigningKey, kid: &str) -> Value {
    let mut jwk = public_members(key);
    jwk["kid"] = kid.into();
    jwk["alg"] = key.alg().name().into();
    jwk["use"] = "sig".into();
    json!({"keys": [jwk]})
}

/// A new key pair for `alg`, as (PKCS#8 PEM, the key).
pub fn generate(alg: Alg) -> Result<(String, SigningKey), String> {
    let mut rng = rand_core::OsRng;
    let pem = match alg {
        Alg::Rs384 => rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| format!("generating an RSA key: {e}"))?
            .to_pkcs8_pem(LineEnding::LF),
        Alg::Es384 => p384::ecdsa::SigningKey::random(&mut rng).to_pkcs8_pem(LineEnding::LF),
    }
    .map_err(|e| format!("encoding the key: {e}"))?;
    let key = signing_key(&pem, alg)?;
    Ok((pem.to_string(), key))
}

/// What `keygen` wrote.
pub struct Written {
    pub private_key: PathBuf,
    pub jwks: PathBuf,
    pub kid: String,
}

/// `cairn-backend keygen`: a new key pair in `dir` (created if needed), the private key
/// readable by its owner only (0600, set when the file is created, so it is never readable by
/// others). Refuses to replace an existing key.
pub fn keygen(dir: &Path, alg: Alg) -> Result<Written, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let private_key = dir.join(PRIVATE_KEY_FILE);
    let jwks_path = dir.join(JWKS_FILE);
    if private_key.exists() {
        return Err(format!(
            "{} already exists: keygen never replaces a key (move it away first, or choose \
             another --out)",
            private_key.display()
        ));
    }
    let (pem, key) = generate(alg)?;
    let kid = kid(&key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&private_key)
        .map_err(|e| format!("cannot create {}: {e}", private_key.display()))?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", private_key.display()))?;
    let jwks_text = serde_json::to_string_pretty(&jwks(&key, &kid)).unwrap_or_default();
    std::fs::write(&jwks_path, format!("{jwks_text}\n"))
        .map_err(|e| format!("cannot write {}: {e}", jwks_path.display()))?;
    Ok(Written {
        private_key,
        jwks: jwks_path,
        kid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const ES384_PEM: &str = include_str!("../testdata/es384-test-key.pem");
    pub const RS384_PEM: &str = include_str!("../testdata/rs384-test-key.pem");

    #[test]
    fn rfc_7638_thumbprint_vector() {
        // RFC 7638 §3.1.
        let members = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        });
        assert_eq!(
            thumbprint(&members),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn jwks_has_kid_alg_and_use() {
        for (pem, alg, kty) in [
            (ES384_PEM, Alg::Es384, "EC"),
            (RS384_PEM, Alg::Rs384, "RSA"),
        ] {
            let key = signing_key(pem, alg).unwrap();
            let set = jwks(&key, &kid(&key));
            let jwk = &set["keys"][0];
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(
                jwk["kid"].as_str().unwrap().len(),
                43,
                "a SHA-256 thumbprint"
            );
            assert!(jwk.get("d").is_none(), "no private member");
        }
    }

    #[test]
    fn a_key_of_the_other_algorithm_is_refused_in_words() {
        let error = signing_key(ES384_PEM, Alg::Rs384).unwrap_err();
        assert_eq!(error, "it is not an RSA private key in PKCS#8 PEM");
        let error = signing_key(RS384_PEM, Alg::Es384).unwrap_err();
        assert_eq!(error, "it is not a P-384 private key in PKCS#8 PEM");
    }

    #[test]
    fn keygen_writes_an_owner_only_key_and_never_replaces_it() {
        let dir = std::env::temp_dir().join(format!("cairn-keygen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let written = keygen(&dir, Alg::Es384).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&written.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = load(&written.private_key, Alg::Es384).unwrap();
        assert_eq!(kid(&key), written.kid);
        let set: Value =
            serde_json::from_str(&std::fs::read_to_string(&written.jwks).unwrap()).unwrap();
        assert_eq!(set["keys"][0]["kid"], written.kid.as_str());
        let again = keygen(&dir, Alg::Es384).err().unwrap();
        assert!(again.contains("already exists"), "{again}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
